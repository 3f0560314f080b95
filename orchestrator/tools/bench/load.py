"""The benchmark's load and meters: the clerks' submitter, the CPU meters, the run's counts."""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from orchestrator.filings.models import Filing, FilingStatus

_ACTIVE_END = (FilingStatus.ACTION_REQUIRED, FilingStatus.CANCELLED)  # stopped, never complete


@dataclass(frozen=True)
class BenchOptions:
    """What to run: how many filings, how slow the agencies, how fast they arrive, where."""

    filings: int
    agency_latency_ms: float
    rate: float | None = None  # filings per second; None: as fast as the API accepts them
    workers: int = 2
    use_running: bool = False
    api_url: str = "http://127.0.0.1:8000"
    submitters: int = 8
    timeout_seconds: float | None = None
    show_progress: bool = True
    logs: Path | None = None

    @property
    def timeout(self) -> float:
        """Seconds to wait for completion after the last filing was accepted."""
        if self.timeout_seconds is not None:
            return self.timeout_seconds
        return 60 + self.filings * 0.25 + 60 * self.agency_latency_ms / 1000


class Submitter:
    """A few threads filing through one pooled client, at a steady rate or as fast as taken."""

    def __init__(
        self,
        api: httpx.Client,
        template: dict[str, Any],
        names: list[str],
        prefix: str,
        options: BenchOptions,
    ) -> None:
        self.api = api
        self.template = template
        self.names = names
        self.prefix = prefix
        self.options = options
        self.accepted: dict[str, str] = {}  # idempotency key -> tracking code
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.elapsed = 0.0
        self._lock = threading.Lock()
        self._next = 0
        self._threads: list[threading.Thread] = []
        self._started = 0.0

    @property
    def accepted_count(self) -> int:
        """Filings the API has acknowledged so far."""
        return len(self.accepted)

    def tracking_codes(self) -> list[str]:
        """The acknowledged filings' tracking codes, in the order acknowledged."""
        with self._lock:
            return list(self.accepted.values())

    def start(self) -> None:
        """Start the submitter threads."""
        self._started = time.monotonic()
        count = max(1, min(self.options.submitters, self.options.filings))
        self._threads = [
            threading.Thread(target=self._work, name=f"bench-submit-{i}", daemon=True)
            for i in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def done(self) -> bool:
        """Whether every filing has been submitted (acknowledged or given up on)."""
        if any(thread.is_alive() for thread in self._threads):
            return False
        if not self.elapsed:
            self.elapsed = time.monotonic() - self._started
        return True

    def _take(self) -> int | None:
        with self._lock:
            if self._next >= self.options.filings:
                return None
            self._next += 1
            return self._next - 1

    def _work(self) -> None:
        while (index := self._take()) is not None:
            if self.options.rate:
                wait = self._started + index / self.options.rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            self._file(index)

    def _file(self, index: int) -> None:
        key = f"{self.prefix}{index:06d}"
        payload = dict(self.template)
        payload["company_name"] = {**self.template["company_name"], "trade_name": self.names[index]}
        give_up = time.monotonic() + 120
        pause = 0.1
        while True:
            started = time.monotonic()
            try:
                response = self.api.post(
                    "/api/v1/filings", json=payload, headers={"Idempotency-Key": key}
                )
            except httpx.HTTPError as error:
                problem = f"{key}: {error!r}"
            else:
                if response.status_code in (200, 201):
                    with self._lock:
                        self.accepted[key] = response.json()["tracking_code"]
                        self.latencies.append(time.monotonic() - started)
                    return
                problem = f"{key}: HTTP {response.status_code} {response.text[:200]}"
                if response.status_code < 500 and response.status_code != 429:
                    break  # the filing itself is wrong: retrying cannot help
            if time.monotonic() > give_up:
                break
            # The same Idempotency-Key: a retry never files twice.
            time.sleep(pause)
            pause = min(pause * 2, 2.0)
        with self._lock:
            self.errors.append(problem)


def host_reference_seconds(rounds: int = 3) -> float:
    """Seconds a fixed pure-Python loop takes here (best of `rounds`): the machine's speed.

    A VM's speed drifts, within the hour and with nothing else running, and our throughput
    moves with it, so figures from different runs compare only alongside this one
    (filings/s × reference seconds stays about constant: docs/benchmarks.md).
    """
    best = math.inf
    for _ in range(rounds):
        started = time.perf_counter()
        total = 0
        for i in range(10_000_000):
            total += i
        best = min(best, time.perf_counter() - started)
    return round(best, 3)


class CpuMeter:
    """CPU time of our processes (Linux /proc) and of the whole machine while filings ran:
    how much each part cost per filing, and how busy other work kept the machine."""

    _TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def __init__(self, processes: Mapping[str, int]) -> None:
        self.processes = dict(processes)
        self.start = self._sample()
        self.end = self.start

    def stop(self) -> None:
        """Take the closing sample."""
        self.end = self._sample()

    def _sample(self) -> dict[str, float]:
        sample = {name: self._process_seconds(pid) for name, pid in self.processes.items()}
        sample["machine_busy"], sample["machine_stolen"], sample["machine_all"] = (
            self._machine_seconds()
        )
        return sample

    def _process_seconds(self, pid: int) -> float:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return 0.0
        return (int(fields[11]) + int(fields[12])) / self._TICK  # utime + stime

    def _machine_seconds(self) -> tuple[float, float, float]:
        """Busy, stolen and all CPU seconds since boot (/proc/stat's first line).

        Stolen time is the hypervisor running someone else on our CPUs: neither our work
        nor idle.
        """
        try:
            with open("/proc/stat") as stat:
                ticks = [int(v) for v in stat.readline().split()[1:]]
        except (OSError, ValueError):
            return 0.0, 0.0, 0.0
        # user nice system idle iowait irq softirq steal guest guest_nice; guest time is
        # already counted in user and nice.
        counted = ticks[:8]
        idle = sum(counted[3:5])
        stolen = counted[7] if len(counted) > 7 else 0
        return (
            (sum(counted) - idle - stolen) / self._TICK,
            stolen / self._TICK,
            sum(counted) / self._TICK,
        )

    def per_filing(self, filings: int) -> dict[str, float]:
        """CPU ms per filing by kind of process (`workers` summed), and the machine's load:
        the share of all CPUs busy, and the share our processes account for."""
        if not self.processes or not filings:
            return {}
        spent: dict[str, float] = {}
        for name in self.processes:
            kind = "workers" if name.startswith("worker") else name
            spent[kind] = spent.get(kind, 0.0) + self.end[name] - self.start[name]
        result = {kind: round(seconds * 1000 / filings, 1) for kind, seconds in spent.items()}
        all_cpu = self.end["machine_all"] - self.start["machine_all"]
        if all_cpu > 0:
            busy = self.end["machine_busy"] - self.start["machine_busy"]
            stolen = self.end["machine_stolen"] - self.start["machine_stolen"]
            result["machine_busy_pct"] = round(100 * busy / all_cpu, 1)
            result["stolen_pct"] = round(100 * stolen / all_cpu, 1)
            result["ours_pct"] = round(100 * sum(spent.values()) / all_cpu, 1)
        return result


class RunCounts:
    """How many of the run's acknowledged filings are ready, complete, or stopped.

    Each poll asks only about the filings still open, by tracking code (a unique index):
    counting the whole run at every poll read all its rows each time, a load the benchmark
    put on the database itself that grew with the run (docs/benchmarks.md). A filing that
    ends stays ended: complete, or stopped for a person.
    """

    _CHUNK = 5_000  # tracking codes per query, well under PostgreSQL's 65,535 parameters

    def __init__(self, db: Any) -> None:
        self.db = db
        self._open: set[str] = set()
        self._known = 0  # acknowledged codes taken into `_open` so far
        self._complete = 0
        self._stopped = 0
        self._ended_ready = 0  # of those ended, how many had been ready

    def read(self, acknowledged: Sequence[str]) -> tuple[int, int, int]:
        """Ready, complete and stopped among `acknowledged` (in the order acknowledged)."""
        self._open.update(acknowledged[self._known :])
        self._known = len(acknowledged)
        ready_open = 0
        codes = list(self._open)
        with self.db.reading() as conn:
            for start in range(0, len(codes), self._CHUNK):
                chunk = codes[start : start + self._CHUNK]
                query = select(Filing.tracking_code, Filing.status, Filing.ready_at).where(
                    Filing.tracking_code.in_(chunk)
                )
                for code, status, ready_at in conn.execute(query):
                    ready = ready_at is not None
                    if status == FilingStatus.COMPLETE:
                        self._complete += 1
                    elif status in _ACTIVE_END:
                        self._stopped += 1
                    else:
                        ready_open += ready
                        continue
                    self._open.discard(code)
                    self._ended_ready += ready
        return self._ended_ready + ready_open, self._complete, self._stopped
