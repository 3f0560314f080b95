"""The production processes of OneStop started as subprocesses and kept running: what compose
does, without Docker. `onestop up`, the benchmark and the crash tests all start them through
here.

A `Deployment` started with a `RestartPolicy` is supervised as compose's `restart: always`
would: a process that exits is started again after a delay that doubles with each exit in a
row (capped), and the restart is logged; only a process that never once came up — a crash
loop at start — or a request to stop ends the whole deployment. Without a policy (the
default, and what the crash tests want, for they kill processes on purpose) a process that
exits stays down and `check_alive` says so.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx

from orchestrator.settings import environment_with_simulators

log = logging.getLogger(__name__)

_ME = [sys.executable, "-m", "orchestrator.cli"]


class DeploymentError(RuntimeError):
    """A process did not start, or died and is not to be restarted."""


@dataclass(frozen=True)
class RestartPolicy:
    """When `Deployment.supervise` starts a process again after it exited.

    The first restart waits `first_delay`, each further exit in a row twice as long, never
    more than `max_delay`. A process that stayed up `stable_after` seconds had started well:
    its next exit counts as the first again. One that never once stayed up that long and
    exited `start_attempts` times in a row is in a crash loop at start (a bad setting, a
    port taken): restarting it cannot help, so the deployment stops.
    """

    first_delay: float = 0.5
    max_delay: float = 30.0
    stable_after: float = 10.0
    start_attempts: int = 3

    def delay(self, exits_in_a_row: int) -> float:
        """Seconds to wait before restarting a process that exited this many times in a row."""
        return float(min(self.max_delay, self.first_delay * 2 ** max(exits_in_a_row - 1, 0)))


@dataclass
class _Life:
    """What supervision knows of one process (by name) across its restarts."""

    started_at: float = 0.0  # time.monotonic() of the latest start
    exits_in_a_row: int = 0
    came_up: bool = False  # it once stayed up `stable_after` seconds
    restart_at: float | None = None  # time.monotonic() when it is due to start again


class Deployment:
    """Simulators, API, beat and N workers as separate processes sharing one environment."""

    def __init__(
        self,
        *,
        workers: int = 2,
        api_port: int | None = 8000,
        simulators_port: int | None = 8100,
        beat: bool = True,
        env: Mapping[str, str] | None = None,
        log_dir: Path | None = None,
        restart: RestartPolicy | None = None,
    ) -> None:
        self.env = dict(os.environ if env is None else env)
        # What the processes must be told about each other (unless the caller said already).
        if simulators_port is not None:
            self.env.setdefault("ONESTOP_AGENCIES_URL", f"http://127.0.0.1:{simulators_port}")
            # Its simulators sign licences with their development key: what it starts
            # trusts that key, as the development deployment it is.
            self.env = environment_with_simulators(self.env)
        if api_port is not None:  # where a simulated licence's QR code leads
            self.env.setdefault("ONESTOP_PUBLIC_URL", f"http://127.0.0.1:{api_port}")
        # Every process must read the same scaled clock.
        self.env.setdefault("ONESTOP_CLOCK_REAL_START", str(time.time()))
        self.log_dir = log_dir
        self.restart = restart
        self.api_port = api_port
        self.simulators_port = simulators_port
        self.commands: dict[str, list[str]] = {}
        # The processes that answer over HTTP, and where they say they are up.
        self.health_urls: dict[str, str] = {}
        if simulators_port is not None:
            self.commands["simulators"] = [*_ME, "simulators", "--port", str(simulators_port)]
            self.health_urls["simulators"] = f"http://127.0.0.1:{simulators_port}/healthz"
        if api_port is not None:
            self.commands["api"] = [*_ME, "api", "--port", str(api_port)]
            self.health_urls["api"] = f"http://127.0.0.1:{api_port}/healthz"
        if beat:
            self.commands["beat"] = [*_ME, "beat"]
        for i in range(workers):
            self.commands[f"worker-{i + 1}"] = [*_ME, "worker"]
        self.api_url = f"http://127.0.0.1:{api_port}" if api_port is not None else None
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._lives: dict[str, _Life] = {}
        self._stop_requested = False  # a plain flag: a signal handler sets it, no lock needed

    @property
    def agencies_url(self) -> str:
        """Where the agencies (or their simulators) answer."""
        return self.env["ONESTOP_AGENCIES_URL"]

    @property
    def stop_requested(self) -> bool:
        """Whether `request_stop` was called."""
        return self._stop_requested

    def request_stop(self) -> None:
        """Ask `start` and `supervise` to return as soon as they can (safe in a signal handler);
        the caller then calls `stop`."""
        self._stop_requested = True

    def migrate(self) -> None:
        """Bring the database to the latest schema and load the reference data."""
        subprocess.run(
            [*_ME, "migrate"],
            env=self.env,
            check=True,
            stdout=subprocess.DEVNULL,
            start_new_session=True,  # like the others: Ctrl-C in a terminal reaches us only
        )

    def start(self, *names: str) -> None:
        """Start the named processes (all by default) and wait until those that answer over
        HTTP do, supervising them meanwhile.

        If one does not come up (it exits without a restart policy, or in a crash loop), every
        process is stopped before the error is raised: the children live in sessions of their
        own, so nothing else would ever stop them.
        """
        try:
            for name in names or tuple(self.commands):
                if self.stop_requested:
                    return
                self._spawn(name)
            self._wait_until_healthy(names or tuple(self.commands))
        except BaseException:
            self.stop()
            raise

    def _spawn(self, name: str) -> None:
        self.processes[name] = subprocess.Popen(
            self.commands[name],
            env=self.env,
            stdout=self._log(name),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in a terminal reaches us, not each child
        )
        life = self._lives.setdefault(name, _Life())
        life.started_at = time.monotonic()
        life.restart_at = None
        log.info("%s started (pid %d)", name, self.processes[name].pid)

    def _log(self, name: str) -> int | None:
        if self.log_dir is None:
            return None  # share our terminal
        self.log_dir.mkdir(parents=True, exist_ok=True)
        return os.open(self.log_dir / f"{name}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def _wait_until_healthy(self, names: tuple[str, ...], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        for url in (self.health_urls[name] for name in names if name in self.health_urls):
            while not self.stop_requested:
                self._tend()  # a process that exits meanwhile: restarted, or the end
                try:
                    if httpx.get(url, timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise DeploymentError(f"{url} did not answer within {timeout:.0f} s")
                time.sleep(0.1)

    def check_alive(self) -> None:
        """Raise if a started process has exited (saying how, and its last words)."""
        for name, process in self.processes.items():
            if (code := process.poll()) is not None:
                raise DeploymentError(f"{self._ended(name, code)}{self._last_words(name)}")

    def supervise(self, *, poll_seconds: float = 0.2) -> None:
        """Keep every process running until `request_stop`: one that exits is started again
        after the policy's delay, and both are logged.

        Raises DeploymentError when a process exits and there is no restart policy, or when it
        is in a crash loop at start; the caller then stops the others.
        """
        while not self.stop_requested:
            self._tend()
            time.sleep(poll_seconds)

    def _tend(self) -> None:
        """One round of supervision: take note of the processes that exited (raising as
        `supervise` says), and start again those whose delay is over."""
        now = time.monotonic()
        for name, process in list(self.processes.items()):
            if (code := process.poll()) is not None:
                self._exited(name, code, now)
        for name, life in self._lives.items():
            if life.restart_at is not None and life.restart_at <= now:
                self._spawn(name)

    def _exited(self, name: str, code: int, now: float) -> None:
        """Take note that `name` exited with `code`; when to start it again, if ever."""
        del self.processes[name]
        life = self._lives[name]
        uptime = now - life.started_at
        how = self._ended(name, code, now)
        policy = self.restart
        if policy is None:
            raise DeploymentError(f"{how}{self._last_words(name)}")
        if uptime >= policy.stable_after:
            life.came_up, life.exits_in_a_row = True, 0
        life.exits_in_a_row += 1
        if not life.came_up and life.exits_in_a_row >= policy.start_attempts:
            raise DeploymentError(
                f"{how}; it exited {life.exits_in_a_row} times in a row, each time within "
                f"{policy.stable_after:.0f} s of starting: a crash loop at start"
                f"{self._last_words(name)}"
            )
        delay = policy.delay(life.exits_in_a_row)
        life.restart_at = now + delay
        log.warning("%s; restarting it in %.1f s", how, delay)

    def _ended(self, name: str, code: int, now: float | None = None) -> str:
        """`worker-2 was killed by SIGKILL after 42.0 s`."""
        uptime = (time.monotonic() if now is None else now) - self._lives[name].started_at
        return f"{name} {_exit_status(code)} after {uptime:.1f} s"

    def _last_words(self, name: str, lines: int = 3) -> str:
        """The end of a process's log, which usually says why it exited."""
        if self.log_dir is None:
            return ""  # it wrote to our terminal
        try:
            tail = (self.log_dir / f"{name}.log").read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return "".join(f"\n  {name}| {line}" for line in tail)

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL) -> None:
        """Send `sig` to a process (SIGKILL: no goodbye, as a crash) and reap it."""
        process = self.processes.pop(name)
        process.send_signal(sig)
        process.wait(timeout=30)

    def stop(self) -> None:
        """Terminate every process, killing those that do not leave within 15 s."""
        for life in self._lives.values():
            life.restart_at = None
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        try:
            for process in self.processes.values():
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        except KeyboardInterrupt:  # asked twice: no more waiting
            for process in self.processes.values():
                process.kill()
            raise
        finally:
            self.processes.clear()

    def __enter__(self) -> Deployment:
        self.migrate()
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _exit_status(code: int) -> str:
    """How a process ended, from its return code (negative: the signal that killed it)."""
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"
