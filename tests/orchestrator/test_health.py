"""`onestop health ...`, what compose's healthchecks run: alive means the part of the process
that does the work runs — a worker's consumer answers a ping over the broker, beat's loop
ticks — so a process that hangs (here: stopped with SIGSTOP) is reported, saying why."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from orchestrator.tools.health import beat_problem, http_problem
from tests.faults.soak import free_port, rabbitmq_vhost


def onestop(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `onestop ARGS` as compose's healthcheck would: a process of its own."""
    command = [sys.executable, "-m", "orchestrator.cli", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def until(args: tuple[str, ...], env: dict[str, str], code: int, timeout: float = 60) -> str:
    """Run `onestop ARGS` until it exits with `code`; what it said then."""
    deadline = time.monotonic() + timeout
    while True:
        result = onestop(*args, env=env)
        if result.returncode == code:
            return result.stdout + result.stderr
        assert time.monotonic() < deadline, f"{args} never exited {code}: {result.stderr}"
        time.sleep(0.5)


@contextmanager
def running(*args: str, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.cli", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def environment(tmp_path: Path, **settings: str) -> dict[str, str]:
    """Our environment without the developer's ONESTOP_ settings, with `settings` instead."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("ONESTOP_")},
        "ONESTOP_DATABASE_URL": f"sqlite:///{tmp_path / 'onestop.db'}",
        **settings,
    }


class TestBeat:
    def test_is_alive_while_it_ticks_and_not_once_it_hangs(self, tmp_path: Path) -> None:
        heartbeat = tmp_path / "beat.heartbeat"
        env = environment(
            tmp_path,
            ONESTOP_BROKER_URL="memory://localhost/",
            ONESTOP_SWEEP_INTERVAL_SECONDS="0.5",
            ONESTOP_BEAT_HEARTBEAT_FILE=str(heartbeat),
        )
        check = ("health", "beat", "--max-age", "3")
        assert "does not exist" in until(check, env, code=1)  # not started yet
        with running("beat", env=env) as beat:
            assert until(check, env, code=0).strip() == "alive"
            beat.send_signal(signal.SIGSTOP)  # hung: its loop no longer runs
            said = until(check, env, code=1)
            assert "beat last ticked" in said and "more than 3 s" in said

    def test_the_age_of_the_heartbeat_decides(self, tmp_path: Path) -> None:
        heartbeat = tmp_path / "beat.heartbeat"
        heartbeat.touch()
        touched = heartbeat.stat().st_mtime
        assert beat_problem(heartbeat, max_age=45, now=touched + 44) is None
        assert "last ticked 46 s ago" in str(beat_problem(heartbeat, max_age=45, now=touched + 46))


@pytest.mark.integration
class TestWorker:
    def test_is_alive_while_its_consumer_answers_and_not_once_it_hangs(
        self, tmp_path: Path, rabbitmq_url: str
    ) -> None:
        with rabbitmq_vhost(rabbitmq_url) as vhost:
            env = environment(tmp_path, ONESTOP_BROKER_URL=vhost)
            check = ("health", "worker", "--timeout", "2")
            assert "answered: none" in until(check, env, code=1)  # no worker yet
            with running("worker", "--concurrency", "2", env=env) as worker:
                assert until(check, env, code=0).strip() == "alive"
                worker.send_signal(signal.SIGSTOP)
                assert "no worker on " in until(check, env, code=1)


class TestHttp:
    def test_an_address_where_nothing_answers_is_a_problem(self) -> None:
        problem = http_problem(f"http://127.0.0.1:{free_port()}/healthz", timeout=2)
        assert problem is not None and "ConnectError" in problem
