"""Supervision of a deployment's processes, as compose's `restart: always` would: a process
that exits is restarted after a backoff, logged; only a crash loop at start gives up."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from orchestrator.tools.deployment import Deployment, DeploymentError, RestartPolicy

QUICK = RestartPolicy(first_delay=0.1, max_delay=0.4, stable_after=1.0, start_attempts=3)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


SLEEPER = python("import time; time.sleep(120)")
CRASHER = python("import sys; print('ONESTOP_BROKER_URL: no such transport'); sys.exit(3)")
# Up long enough to have started well, then gone.
SHORT_LIVED = python("import sys, time; time.sleep(1.3); sys.exit(1)")


def deployment_of(
    tmp_path: Path, restart: RestartPolicy | None, **commands: list[str]
) -> Deployment:
    """A deployment of nothing but `commands`, each by its name, logging under `tmp_path`."""
    deployment = Deployment(
        workers=0,
        api_port=None,
        simulators_port=None,
        beat=False,
        env=os.environ,
        log_dir=tmp_path / "logs",
        restart=restart,
    )
    deployment.commands.update(commands)
    return deployment


class Supervising:
    """`deployment.supervise()` on a thread of its own, with what it raised."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.deployment.supervise(poll_seconds=0.02)
        except BaseException as error:
            self.error = error

    def stop(self) -> None:
        self.deployment.request_stop()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()


Start = Callable[..., Deployment]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Start]:
    """Starts a deployment of nothing but the commands given by name, with the restart policy
    given (`QUICK` unless told); every process of each is stopped after the test."""
    deployments: list[Deployment] = []

    def started(restart: RestartPolicy | None = QUICK, **commands: list[str]) -> Deployment:
        deployment = deployment_of(tmp_path, restart, **commands)
        deployments.append(deployment)
        deployment.start()
        return deployment

    yield started
    for deployment in deployments:
        deployment.request_stop()
        deployment.stop()


def wait_for(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.02)


class TestRestartPolicy:
    def test_the_delay_doubles_with_each_exit_in_a_row_up_to_the_cap(self) -> None:
        policy = RestartPolicy(first_delay=0.5, max_delay=30)
        assert [policy.delay(n) for n in range(1, 9)] == [0.5, 1, 2, 4, 8, 16, 30, 30]


class TestSupervise:
    def test_restarts_a_killed_process_and_logs_it(
        self, start: Start, caplog: pytest.LogCaptureFixture
    ) -> None:
        deployment = start(sleeper=SLEEPER)
        first = deployment.processes["sleeper"].pid
        supervising = Supervising(deployment)
        with caplog.at_level(logging.INFO, logger="orchestrator.tools.deployment"):
            os.kill(first, signal.SIGKILL)
            wait_for(lambda: deployment.processes.get("sleeper", None) is not None
                     and deployment.processes["sleeper"].pid != first)  # fmt: skip
            supervising.stop()
        assert supervising.error is None
        assert deployment.processes["sleeper"].poll() is None  # running again
        said = caplog.messages
        assert any(
            m.startswith("sleeper was killed by SIGKILL after") and "restarting it in 0.1 s" in m
            for m in said
        ), said
        assert f"sleeper started (pid {deployment.processes['sleeper'].pid})" in said

    def test_a_crash_loop_at_start_is_given_up_saying_which_process_and_why(
        self, start: Start
    ) -> None:
        deployment = start(sleeper=SLEEPER, crasher=CRASHER)
        with pytest.raises(DeploymentError) as failure:
            deployment.supervise(poll_seconds=0.02)
        message = str(failure.value)
        assert message.startswith("crasher exited with code 3 after")
        assert "it exited 3 times in a row" in message and "a crash loop at start" in message
        assert "crasher| ONESTOP_BROKER_URL: no such transport" in message
        # What `onestop up` does next: stop the others, which never stopped running.
        sleeper = deployment.processes["sleeper"]
        assert sleeper.poll() is None
        deployment.stop()
        assert sleeper.poll() is not None and deployment.processes == {}

    def test_a_process_that_had_come_up_is_restarted_however_often_it_exits(
        self, start: Start, caplog: pytest.LogCaptureFixture
    ) -> None:
        deployment = start(short_lived=SHORT_LIVED)
        with caplog.at_level(logging.INFO, logger="orchestrator.tools.deployment"):
            supervising = Supervising(deployment)
            restarts = lambda: sum("restarting it" in m for m in caplog.messages)  # noqa: E731
            wait_for(lambda: restarts() > QUICK.start_attempts, timeout=30)
            supervising.stop()
        assert supervising.error is None
        # Each run stayed up past `stable_after`: every restart is a first one again.
        assert all(
            "restarting it in 0.1 s" in m for m in caplog.messages if "restarting it" in m
        ), caplog.messages

    def test_without_a_restart_policy_an_exit_is_an_error(self, start: Start) -> None:
        deployment = start(None, sleeper=SLEEPER)
        os.kill(deployment.processes["sleeper"].pid, signal.SIGKILL)
        with pytest.raises(DeploymentError, match="sleeper was killed by SIGKILL"):
            deployment.supervise(poll_seconds=0.02)

    def test_returns_when_asked_to_stop(self, start: Start) -> None:
        deployment = start(sleeper=SLEEPER)
        supervising = Supervising(deployment)
        supervising.stop()
        assert supervising.error is None
        deployment.stop()
        assert deployment.processes == {}
