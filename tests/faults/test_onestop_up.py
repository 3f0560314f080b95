"""`onestop up`, the real command, keeps a deployment running as compose would: a worker killed
with SIGKILL in the middle of steps is replaced within seconds while the API goes on
answering, and the filings in flight complete, none lost, no effect doubled; a process in a
crash loop at start stops every process with a message that says which and why; SIGTERM
stops them all."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from orchestrator.celery_app import STEPS_QUEUE
from orchestrator.clock import CHINA
from tests.faults.soak import (
    AGENCY_LATENCY,
    Kill,
    NewSoak,
    Soak,
    assert_no_server_error,
    assert_nothing_lost_or_duplicated,
    consumers,
    free_port,
    wait_for_consumers,
    wait_until,
    wait_until_drained,
)

WORKERS = 2
FILINGS = 60
FILINGS_PER_SECOND = 6.0
REPLACED_WITHIN_SECONDS = 10


def children(pid: int) -> dict[int, str]:
    """The live child processes of `pid`: their command lines, by pid (from /proc)."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # gone meanwhile
            continue
        # After the command's name in parentheses (which may hold anything): state, ppid.
        state, ppid = stat.rpartition(")")[2].split()[:2]
        if int(ppid) == pid and state != "Z":
            found[int(entry.name)] = cmdline.strip()
    return found


def workers_of(pid: int) -> set[int]:
    """Pids of the `onestop worker` processes that `pid` started."""
    return {
        child for child, cmd in children(pid).items() if cmd.endswith("orchestrator.cli worker")
    }


def replaced(up: Up, victim: int) -> bool:
    """Whether `up` runs as many workers as it should, the `victim` not among them."""
    workers = workers_of(up.process.pid)
    return victim not in workers and len(workers) == WORKERS


def alive(pid: int) -> bool:
    """Whether `pid` is a process that has not exited (a zombie has)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


class Up:
    """`onestop up` as a subprocess, with every child it was seen to start."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "orchestrator.cli", "up", *args],
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.seen: set[int] = set()

    def children(self) -> dict[int, str]:
        """Its live children now (and remembered as seen)."""
        now = children(self.process.pid)
        self.seen |= set(now)
        return now

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def end(self) -> None:
        """Stop it as an operator would (SIGTERM), and make sure nothing of it is left."""
        self.children()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for pid in self.seen:  # a test that failed half-way must not leave processes behind
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


@contextmanager
def onestop_up(args: list[str], env: dict[str, str], log: Path) -> Iterator[Up]:
    up = Up(args, env, log)
    try:
        yield up
    finally:
        up.end()


class APIProbe:
    """Asks the API for a page of filings (a request that reads the database) every 0.2 s, on
    a thread, and remembers every answer that was not a 200."""

    def __init__(self, api_url: str, token: str) -> None:
        self.client = httpx.Client(
            base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=5
        )
        self.asked = 0
        self.failures: list[str] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.wait(0.2):
            self.asked += 1
            try:
                status = self.client.get("/api/v1/filings", params={"page_size": 1}).status_code
            except httpx.HTTPError as error:
                self.failures.append(f"{type(error).__name__}: {error}")
                continue
            if status != 200:
                self.failures.append(f"HTTP {status}")

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=10)
        self.client.close()


def kill_a_busy_worker(soak: Soak, up: Up, rng: random.Random) -> tuple[int, Kill]:
    """SIGKILL a worker of `up` in the middle of steps; its pid and what it was doing."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        busy = soak.busy({pid: f"onestop-{pid}@" for pid in workers_of(up.process.pid)})
        if busy:
            victim = rng.choice(sorted(busy))
            kill = Kill(f"onestop-{victim}@", datetime.now(CHINA), busy[victim])
            os.kill(victim, signal.SIGKILL)
            return victim, kill
        time.sleep(0.1)
    pytest.fail("no worker was in the middle of a step for 20 s")


@pytest.mark.integration
class TestAWorkerKilledUnderUp:
    @pytest.mark.timeout(300)
    def test_is_replaced_while_the_api_answers_and_its_filings_complete(
        self, new_soak: NewSoak, broker_vhost: str, tmp_path: Path
    ) -> None:
        soak = new_soak(workers=WORKERS)
        soak.prepare()  # the clerk and their token; `up` migrates and starts the rest
        deployment = soak.deployment
        args = [
            "--workers", str(WORKERS),
            "--port", str(deployment.api_port),
            "--simulators-port", str(deployment.simulators_port),
            "--logs", str(soak.log_dir),
        ]  # fmt: skip
        rng = random.Random()
        with onestop_up(args, deployment.env, tmp_path / "up.log") as up:
            assert deployment.api_url
            wait_until(
                lambda: up.process.poll() is None and _answers(f"{deployment.api_url}/healthz"),
                timeout=60,
                what=f"the API answers; up said: {up.output()}",
            )
            wait_for_consumers(broker_vhost, STEPS_QUEUE, WORKERS, timeout=60)
            soak.agencies(**AGENCY_LATENCY)
            probe = APIProbe(deployment.api_url, soak.token)
            with ThreadPoolExecutor(1) as background:
                filing = background.submit(soak.file, FILINGS, per_second=FILINGS_PER_SECOND)
                time.sleep(2)
                victim, kill = kill_a_busy_worker(soak, up, rng)
                killed_at = time.monotonic()
                wait_until(
                    lambda: (
                        replaced(up, victim) and consumers(broker_vhost, STEPS_QUEUE) == WORKERS
                    ),
                    timeout=REPLACED_WITHIN_SECONDS,
                    what=f"a new worker consumes in place of {victim}; up said: {up.output()}",
                )
                replaced_in = time.monotonic() - killed_at
                assert replaced_in <= REPLACED_WITHIN_SECONDS
                filing.result()
            waited = soak.wait_until_complete(FILINGS, timeout=120)
            wait_until_drained(broker_vhost, STEPS_QUEUE, timeout=30)
            probe.stop()
            audit = soak.audit()
            assert up.process.poll() is None, up.output()
            up.children()  # remembered: every one of them must be gone after SIGTERM
            up.process.send_signal(signal.SIGTERM)
            assert up.process.wait(timeout=40) == 0, up.output()
        print(
            f"worker {victim} killed in the middle of {len(kill.in_flight)} steps; a new one "
            f"consumed {replaced_in:.1f} s later; the API answered {probe.asked} probes; all "
            f"{FILINGS} filings complete {waited:.1f} s after the last one"
        )
        assert_nothing_lost_or_duplicated(soak, audit, FILINGS)
        assert_no_server_error(soak)
        assert probe.failures == [], probe.failures
        assert probe.asked > 20
        # Not vacuous: the steps it was in the middle of were taken up by another worker.
        assert kill.cut_off(audit), kill
        output = up.output()
        assert "was killed by SIGKILL after" in output and "restarting it in" in output, output
        assert "every process was stopped" in output
        assert not [pid for pid in up.seen if alive(pid)]


class TestACrashLoopAtStart:
    @pytest.mark.timeout(120)
    def test_stops_every_process_and_says_which_and_why(self, tmp_path: Path) -> None:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ONESTOP_")},
            "ONESTOP_DATABASE_URL": f"sqlite:///{tmp_path / 'onestop.db'}",
            # A typo in the broker's URL: the API starts, workers and beat cannot.
            "ONESTOP_BROKER_URL": "amqq://guest:guest@127.0.0.1:5672//",
        }
        api_port = free_port()
        args = [
            "--workers", "1",
            "--port", str(api_port),
            "--simulators-port", str(free_port()),
            "--logs", str(tmp_path / "logs"),
        ]  # fmt: skip
        with onestop_up(args, env, tmp_path / "up.log") as up:
            deadline = time.monotonic() + 90
            while up.process.poll() is None and time.monotonic() < deadline:
                up.children()
                time.sleep(0.1)
            code = up.process.poll()
            output = up.output()
        assert code == 1, output
        assert "a crash loop at start" in output, output
        assert "No such transport: amqq" in output, output  # its own last words
        assert "every process was stopped" in output
        assert up.seen, "no process was ever started"
        assert not [pid for pid in up.seen if alive(pid)]
        assert not _answers(f"http://127.0.0.1:{api_port}/healthz")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
