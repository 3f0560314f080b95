"""The production processes of OneStop started as subprocesses: what compose runs, without
Docker. `onestop up`, the benchmark and the crash tests all start them through here."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import httpx

from orchestrator.settings import environment_with_simulators

_ME = [sys.executable, "-m", "orchestrator.cli"]


class DeploymentError(RuntimeError):
    """A process did not start, or died."""


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
    ) -> None:
        self.env = dict(os.environ if env is None else env)
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
        self.commands: dict[str, list[str]] = {}
        if simulators_port is not None:
            self.commands["simulators"] = [*_ME, "simulators", "--port", str(simulators_port)]
        if api_port is not None:
            self.commands["api"] = [*_ME, "api", "--port", str(api_port)]
        if beat:
            self.commands["beat"] = [*_ME, "beat"]
        for i in range(workers):
            self.commands[f"worker-{i + 1}"] = [*_ME, "worker"]
        self.api_url = f"http://127.0.0.1:{api_port}" if api_port is not None else None
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def agencies_url(self) -> str:
        """Where the agencies (or their simulators) answer."""
        return self.env["ONESTOP_AGENCIES_URL"]

    def migrate(self) -> None:
        """Bring the database to the latest schema and load the reference data."""
        subprocess.run([*_ME, "migrate"], env=self.env, check=True, stdout=subprocess.DEVNULL)

    def start(self, *names: str) -> None:
        """Start the named processes (all by default) and wait until they answer.

        If one does not come up, every process is stopped before the error is raised: the
        children live in sessions of their own, so nothing else would ever stop them.
        """
        try:
            for name in names or tuple(self.commands):
                self.processes[name] = subprocess.Popen(
                    self.commands[name],
                    env=self.env,
                    stdout=self._log(name),
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # Ctrl-C in a terminal reaches us, not each child
                )
            self._wait_until_healthy()
        except BaseException:
            self.stop()
            raise

    def _log(self, name: str) -> int | None:
        if self.log_dir is None:
            return None  # share our terminal
        self.log_dir.mkdir(parents=True, exist_ok=True)
        return os.open(self.log_dir / f"{name}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def _wait_until_healthy(self, timeout: float = 30) -> None:
        urls = [u for u in (self.api_url, self.env.get("ONESTOP_AGENCIES_URL")) if u]
        deadline = time.monotonic() + timeout
        for url in urls:
            while True:
                self.check_alive()
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise DeploymentError(f"{url} did not answer within {timeout:.0f} s")
                time.sleep(0.1)

    def check_alive(self) -> None:
        """Raise if any started process has exited."""
        dead = [n for n, p in self.processes.items() if p.poll() is not None]
        if dead:
            raise DeploymentError(
                f"process exited: {', '.join(dead)}{''.join(map(self._last_words, dead))}"
            )

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
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
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


def wait_for_signal(deployment: Deployment) -> None:
    """Run until SIGINT/SIGTERM or until a process dies; then the caller stops the rest."""
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping:
        deployment.check_alive()
        time.sleep(0.5)
