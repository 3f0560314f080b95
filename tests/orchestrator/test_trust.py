"""Who trusts the simulators' development key: only what runs its own simulators.

Standalone `onestop api`, `worker` and `beat` (real processes here) refuse to start while
the development key is trusted, unless ONESTOP_DEVELOPMENT=true says the deployment is a
development one; a `Deployment` that starts simulators says exactly that to its processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from integrations.signing import Ed25519Signer, public_key_text
from orchestrator.settings import SIMULATOR_LICENCE_KEY, environment_with_simulators
from orchestrator.tools.deployment import Deployment
from tests.orchestrator.test_processes import free_port

ONESTOP = [sys.executable, "-m", "orchestrator.cli"]
AUTHORITY_KEY = public_key_text(Ed25519Signer.generate())
DEV_KEY_TRUSTED = {"ONESTOP_LICENCE_TRUSTED_KEYS": json.dumps([SIMULATOR_LICENCE_KEY])}
# What a started process prints once it is up (at --loglevel info for Celery's two).
_STARTED = {"worker": "ready.", "beat": "beat: Starting..."}


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    """An environment without the developer's own OneStop settings, on a fresh SQLite file."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("ONESTOP_")},
        "ONESTOP_DATABASE_URL": f"sqlite:///{tmp_path / 'onestop.db'}",
    }


def command(name: str, port: int = 0) -> list[str]:
    """`onestop NAME`: the API on `port`, Celery's two logging their start."""
    if name == "api":
        return [*ONESTOP, "api", "--port", str(port or free_port())]
    return [*ONESTOP, name, "--loglevel", "info"]


@dataclass
class Started:
    """A process a test started, and what it has printed so far."""

    name: str
    process: subprocess.Popen[str]
    port: int
    lines: list[str] = field(default_factory=list)

    def wait_until_up(self, timeout: float = 60) -> None:
        """Until it answers (the API) or says it started (worker, beat); fail if it exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"{self.name} exited:\n{''.join(self.lines)}"
            if self.name == "api":
                try:
                    url = f"http://127.0.0.1:{self.port}/healthz"
                    if httpx.get(url, timeout=1).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
            elif any(_STARTED[self.name] in line for line in self.lines):
                return
            time.sleep(0.2)
        pytest.fail(f"{self.name} did not come up in {timeout:.0f} s:\n{''.join(self.lines)}")


Starter = Callable[[str, dict[str, str]], "Started"]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Starter]:
    """Start `onestop NAME` with an environment; every process is stopped afterwards."""
    processes: list[subprocess.Popen[str]] = []

    def started(name: str, env: dict[str, str]) -> Started:
        port = free_port()
        process = subprocess.Popen(
            command(name, port), env=env, cwd=tmp_path, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        processes.append(process)
        run = Started(name, process, port)
        threading.Thread(target=lambda: run.lines.extend(process.stdout or ()), daemon=True).start()
        return run

    yield started
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class TestStandaloneProcesses:
    @pytest.mark.parametrize("name", ["api", "worker", "beat"])
    def test_refuse_to_start_while_the_dev_key_is_trusted(
        self, name: str, environment: dict[str, str], tmp_path: Path
    ) -> None:
        result = subprocess.run(
            command(name),
            env={**environment, **DEV_KEY_TRUSTED},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 2, result.stdout + result.stderr
        assert "refusing to start" in result.stderr and "拒绝启动" in result.stderr
        assert "ONESTOP_DEVELOPMENT=true" in result.stderr
        assert "ONESTOP_LICENCE_TRUSTED_KEYS" in result.stderr

    def test_the_dev_key_is_refused_among_other_keys(
        self, environment: dict[str, str], tmp_path: Path
    ) -> None:
        keys = json.dumps([AUTHORITY_KEY, SIMULATOR_LICENCE_KEY])
        env = {**environment, "ONESTOP_LICENCE_TRUSTED_KEYS": keys}
        result = subprocess.run(
            command("api"), env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 2 and "refusing to start" in result.stderr

    @pytest.mark.parametrize("name", ["api", "worker", "beat"])
    def test_start_in_a_development_deployment(
        self, name: str, environment: dict[str, str], start: Starter
    ) -> None:
        env = {**environment, **DEV_KEY_TRUSTED, "ONESTOP_DEVELOPMENT": "true"}
        start(name, env).wait_until_up()

    def test_an_api_trusting_only_an_authority_starts(
        self, environment: dict[str, str], start: Starter
    ) -> None:
        env = {**environment, "ONESTOP_LICENCE_TRUSTED_KEYS": json.dumps([AUTHORITY_KEY])}
        start("api", env).wait_until_up()


class TestDeploymentWithSimulators:
    def test_its_processes_trust_the_dev_key_as_a_development_deployment(self) -> None:
        deployment = Deployment(api_port=8123, simulators_port=8124, env={})
        assert json.loads(deployment.env["ONESTOP_LICENCE_TRUSTED_KEYS"]) == [SIMULATOR_LICENCE_KEY]
        assert deployment.env["ONESTOP_DEVELOPMENT"] == "true"

    def test_keeps_the_keys_it_was_given(self) -> None:
        env = {"ONESTOP_LICENCE_TRUSTED_KEYS": json.dumps([AUTHORITY_KEY])}
        deployment = Deployment(api_port=8123, simulators_port=8124, env=env)
        assert json.loads(deployment.env["ONESTOP_LICENCE_TRUSTED_KEYS"]) == [
            AUTHORITY_KEY,
            SIMULATOR_LICENCE_KEY,
        ]
        assert environment_with_simulators(deployment.env) == deployment.env  # once only

    def test_without_simulators_it_adds_nothing(self) -> None:
        deployment = Deployment(api_port=8123, simulators_port=None, env={})
        assert "ONESTOP_LICENCE_TRUSTED_KEYS" not in deployment.env
        assert "ONESTOP_DEVELOPMENT" not in deployment.env

    def test_keys_that_are_no_json_list_are_refused(self) -> None:
        with pytest.raises(ValueError, match="JSON list"):
            environment_with_simulators({"ONESTOP_LICENCE_TRUSTED_KEYS": '"Ed25519:x"'})
