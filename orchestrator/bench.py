"""The benchmark: file N filings through the JSON API against agencies of a fixed latency,
wait until they are complete, and measure from the database how far each filing's
end-to-end time is from its critical path through the agencies — our orchestration cost.

The critical path is computed from what the agencies themselves measured (the simulators
time every request from its arrival to its final answer, `GET /_sim/durations`), as the
longest path through `orchestrator.workflow.STEPS` weighted by those durations. Every
number is read after the run: end-to-end times from the `filing` rows (read-only SQL),
agency durations and duplicate effects from the simulators.
"""

from __future__ import annotations

import math
import os
import secrets
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

from orchestrator.filings.models import Filing, FilingStatus
from orchestrator.filings.transitions import idempotency_key
from orchestrator.percentiles import percentile
from orchestrator.settings import Settings
from orchestrator.workflow import STEPS, StepSpec

SETUP_HELP = (
    "onestop bench needs PostgreSQL and RabbitMQ (the production mode), not the embedded "
    "SQLite and in-memory broker. Set, for example:\n"
    "  createdb -h 127.0.0.1 -U postgres onestop_bench\n"
    "  export ONESTOP_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/onestop_bench\n"
    "  export ONESTOP_BROKER_URL=amqp://guest:guest@127.0.0.1:5672//\n"
    "(a RabbitMQ vhost of its own keeps other workers away from the benchmark's messages)."
)
CLERK_LABEL = "bench"
_ACTIVE_END = (FilingStatus.ACTION_REQUIRED, FilingStatus.CANCELLED)  # stopped, never complete


MIN_WORKER_THREADS = 8


class BenchSetupError(RuntimeError):
    """The benchmark cannot start: a missing setting or service (exit status 2)."""


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


@dataclass(frozen=True)
class Quantiles:
    """p50/p95/p99 of a sample (None when the sample is empty)."""

    p50: float | None
    p95: float | None
    p99: float | None

    @classmethod
    def of(cls, values: Sequence[float], *, digits: int = 1) -> Quantiles:
        """Quantiles by linear interpolation between closest ranks."""
        if not values:
            return cls(None, None, None)
        return cls(*(round(percentile(values, q), digits) for q in (50, 95, 99)))


@dataclass
class BenchReport:
    """The figures of one run; `as_json` is the documented machine-readable shape."""

    filings: int  # acknowledged by the API
    requested: int
    unacknowledged: int
    in_database: int
    completed: int
    lost: int
    duplicate_effects: int
    filings_per_s: float | None
    overhead_ms: Quantiles
    e2e_over_critical_path: Quantiles
    e2e_ms: Quantiles
    critical_path_ms: Quantiles
    untimed: int  # complete filings with a step the agencies did not time
    submit_seconds: float
    accepted_per_s: float | None
    api_ms: Quantiles
    agency_latency_ms: float
    rate: float | None
    workers: int | None
    worker_threads: int | None = None
    host_reference_s: float | None = None  # see host_reference_seconds
    cpu: dict[str, float] = field(default_factory=dict)  # CPU ms per filing, by process kind
    lost_codes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Nothing lost, nothing done twice, everything acknowledged."""
        return self.lost == 0 and self.duplicate_effects == 0 and self.unacknowledged == 0

    def as_json(self) -> dict[str, Any]:
        """The report as one JSON object."""
        return {
            "filings": self.filings,
            "filings_per_s": _rounded(self.filings_per_s, 2),
            "overhead_ms": _q(self.overhead_ms, "p50", "p95", "p99"),
            "e2e_over_critical_path": _q(self.e2e_over_critical_path, "p50", "p95"),
            "lost": self.lost,
            "duplicate_effects": self.duplicate_effects,
            "e2e_ms": _q(self.e2e_ms, "p50", "p95", "p99"),
            "critical_path_ms": _q(self.critical_path_ms, "p50", "p95", "p99"),
            "requested": self.requested,
            "unacknowledged": self.unacknowledged,
            "in_database": self.in_database,
            "completed": self.completed,
            "untimed": self.untimed,
            "submit_s": round(self.submit_seconds, 2),
            "accepted_per_s": _rounded(self.accepted_per_s, 2),
            "api_ms": _q(self.api_ms, "p50", "p95", "p99"),
            "agency_latency_ms": self.agency_latency_ms,
            "rate": self.rate,
            "workers": self.workers,
            "worker_threads": self.worker_threads,
            "host_reference_s": self.host_reference_s,
            "cpu_ms_per_filing": self.cpu,
        }


def _q(quantiles: Quantiles, *names: str) -> dict[str, float | None]:
    return {name: getattr(quantiles, name) for name in names}


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def critical_path_ms(
    durations: Mapping[str, float], steps: Sequence[StepSpec] = STEPS
) -> float | None:
    """The longest path through the step graph, each step weighted by its duration (ms).

    `steps` are in declaration (topological) order; None if a step has no duration.
    """
    finish: dict[str, float] = {}
    for spec in steps:
        if spec.name not in durations:
            return None
        start = max((finish[need] for need in spec.needs), default=0.0)
        finish[spec.name] = start + durations[spec.name]
    return max(finish.values(), default=0.0)


def step_durations(
    tracking_code: str, agency_durations: Mapping[str, Mapping[str, float]]
) -> dict[str, float]:
    """Each step's duration (ms) as its agency measured it, found by idempotency key."""
    found: dict[str, float] = {}
    for spec in STEPS:
        ms = agency_durations.get(spec.agency, {}).get(idempotency_key(tracking_code, spec.name))
        if ms is not None:
            found[spec.name] = ms
    return found


# The run ---------------------------------------------------------------------------------


@dataclass
class _Target:
    """Where the benchmark files, and the processes it started (none with --use-running)."""

    api_url: str
    agencies_url: str
    workers: int | None
    threads: int | None = None  # per worker
    deployment: Any = None

    @property
    def processes(self) -> dict[str, int]:
        """Our processes by name (`worker-1`, `api`, ...) and pid."""
        if self.deployment is None:
            return {}
        return {name: p.pid for name, p in self.deployment.processes.items()}

    def check_alive(self) -> None:
        """Raise DeploymentError if a process we started has died."""
        if self.deployment is not None:
            self.deployment.check_alive()


def check_settings(settings: Settings) -> None:
    """Refuse the embedded defaults: the benchmark measures the production mode."""
    if settings.database_url.startswith("sqlite") or settings.broker_url.startswith("memory"):
        raise BenchSetupError(SETUP_HELP)


def run(
    options: BenchOptions, settings: Settings, *, console: Console | None = None
) -> BenchReport:
    """Start (or use) a deployment, file, wait, measure; raises BenchSetupError if it cannot."""
    check_settings(settings)
    err = console or Console(stderr=True)
    reference = host_reference_seconds()  # before our processes start and warm up
    with ExitStack() as stack:
        target = stack.enter_context(_deployment(options, settings, err))
        sim = stack.enter_context(httpx.Client(base_url=target.agencies_url, timeout=30))
        _require_answer(sim, "/healthz", f"the agencies at {target.agencies_url}")
        stack.callback(_set_latency(sim, options.agency_latency_ms))
        before = sim.get("/_sim/effects").raise_for_status().json()
        branch_id, token = _seed(settings)
        db = _database(settings)
        unfinished = _unfinished(db)
        if unfinished["count"]:
            err.print(
                f"[yellow]warning: the database holds {unfinished['count']} unfinished "
                "filings; their steps will run alongside this benchmark (use a fresh "
                "database for clean figures)[/]"
            )
        names = _free_trade_names(before, unfinished["trade_names"], options.filings)
        prefix = f"bench-{secrets.token_hex(4)}-"
        api = stack.enter_context(
            httpx.Client(
                base_url=target.api_url,
                headers={"Authorization": f"Bearer {token}"},
                timeout=httpx.Timeout(30, connect=5),
                limits=httpx.Limits(
                    max_connections=options.submitters,
                    max_keepalive_connections=options.submitters,
                ),
            )
        )
        _require_answer(api, "/healthz", f"the API at {target.api_url}")
        submitter = _Submitter(api, _template(), names, prefix, options)
        cpu = _CpuMeter(target.processes)
        _file_and_wait(submitter, RunCounts(db), target, options, err)
        cpu.stop()
        after = sim.get("/_sim/effects").raise_for_status().json()
        durations = sim.get("/_sim/durations").raise_for_status().json()
        report = _measure(
            db,
            branch_id=branch_id,
            prefix=prefix,
            acknowledged=submitter.accepted,
            durations=durations,
            duplicates=_duplicates(after) - _duplicates(before),
            options=options,
            submit_seconds=submitter.elapsed,
            api_seconds=submitter.latencies,
            workers=target.workers,
        )
        report.cpu = cpu.per_filing(report.filings)
        report.host_reference_s = reference
        report.worker_threads = target.threads
        report.notes.extend(submitter.errors[:5])
        if report.lost_codes:
            report.notes.extend(_why_not_complete(db, report.lost_codes))
        return report


def _file_and_wait(
    submitter: _Submitter, counts: RunCounts, target: _Target, options: BenchOptions, err: Console
) -> None:
    """File at the chosen rate, showing progress, until every acknowledged filing has come
    to an end (complete, or stopped for a person) or the timeout after the last one."""
    with _progress(options, err) as show:
        submitter.start()
        deadline: float | None = None
        while True:
            done = submitter.done()
            if done and deadline is None:
                deadline = time.monotonic() + options.timeout
            ready, complete, stopped = counts.read(submitter.tracking_codes())
            show(submitter.accepted_count, ready, complete)
            if done and complete + stopped >= submitter.accepted_count:
                return
            if deadline is not None and time.monotonic() > deadline:
                err.print(f"[yellow]timed out {options.timeout:.0f} s after the last filing[/]")
                return
            target.check_alive()
            time.sleep(0.25)


def _require_answer(client: httpx.Client, path: str, what: str) -> None:
    try:
        client.get(path).raise_for_status()
    except httpx.HTTPError as error:
        raise BenchSetupError(f"{what} did not answer ({error})") from error


@contextmanager
def _deployment(options: BenchOptions, settings: Settings, err: Console) -> Iterator[_Target]:
    if options.use_running:
        if not settings.agencies_url:
            raise BenchSetupError(
                "--use-running needs ONESTOP_AGENCIES_URL: the agencies (simulators) of the "
                "running deployment, e.g. http://127.0.0.1:8100"
            )
        yield _Target(api_url=options.api_url, agencies_url=settings.agencies_url, workers=None)
        return
    from orchestrator.deployment import Deployment, DeploymentError

    env = dict(os.environ)
    env.pop("ONESTOP_AGENCIES_URL", None)  # ours: the simulators started here
    env["ONESTOP_DATABASE_URL"] = settings.database_url
    env["ONESTOP_BROKER_URL"] = settings.broker_url
    threads = int(
        env.setdefault("ONESTOP_WORKER_CONCURRENCY", str(worker_threads(options, settings)))
    )
    with ExitStack() as stack:
        logs = options.logs or Path(stack.enter_context(_temporary_logs()))
        deployment = Deployment(
            workers=options.workers,
            api_port=_free_port(),
            simulators_port=_free_port(),
            beat=True,
            env=env,
            log_dir=logs,
        )
        try:
            stack.enter_context(deployment)
        except (DeploymentError, OSError) as error:
            raise BenchSetupError(
                f"could not start the deployment ({error}); logs: {logs}"
            ) from error
        except Exception as error:  # migrate failed: a database that cannot be reached
            raise BenchSetupError(
                f"could not prepare the database ({error}); logs: {logs}\n{SETUP_HELP}"
            ) from error
        err.print(f"started {', '.join(deployment.processes)} (logs: {logs})", highlight=False)
        assert deployment.api_url is not None
        yield _Target(
            api_url=deployment.api_url,
            agencies_url=deployment.agencies_url,
            workers=options.workers,
            threads=threads,
            deployment=deployment,
        )


def worker_threads(options: BenchOptions, settings: Settings) -> int:
    """Threads per worker for the load about to be offered, as an operator would size them.

    A thread waits out each agency call, so the workers need about (steps/s × agency
    latency) threads, with half as many again for bursts; more only wait for the interpreter
    (with instant agencies, `MIN_WORKER_THREADS` did at least as well as more:
    docs/benchmarks.md). Unknown arrival rate and slow agencies: the configured default.
    """
    if options.agency_latency_ms == 0:
        return MIN_WORKER_THREADS
    if options.rate is None:
        return settings.worker_concurrency
    calls_in_flight = options.rate * len(STEPS) * options.agency_latency_ms / 1000
    return max(MIN_WORKER_THREADS, math.ceil(1.5 * calls_in_flight / options.workers))


@contextmanager
def _temporary_logs() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="onestop-bench-") as directory:
        yield directory


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _set_latency(sim: httpx.Client, latency_ms: float) -> Callable[[], None]:
    """Give every agency latency L with synchronous answers; returns how to undo it."""
    agencies: list[str] = sim.get("/healthz").raise_for_status().json()["agencies"]
    previous = {a: sim.get(f"/_sim/{a}/behaviour").raise_for_status().json() for a in agencies}
    # Synchronous answers (the submit waits for the outcome): each agency's duration is its
    # latency, and the courier answers "delivered" at once instead of picked_up/in_transit.
    behaviour = {"latency_ms": latency_ms, "sync_limit_ms": max(2000.0, 2 * latency_ms + 1000)}
    for agency in agencies:
        sim.put(f"/_sim/{agency}/behaviour", json=behaviour).raise_for_status()

    def restore() -> None:
        for agency, body in previous.items():
            sim.put(f"/_sim/{agency}/behaviour", json=body)

    return restore


def _duplicates(report: Mapping[str, Any]) -> int:
    return int(report["duplicates"]) + int(report["subject_duplicates"])


def _database(settings: Settings) -> Any:
    from orchestrator.db import get_database

    return get_database(settings.database_url)


def _scenario() -> Any:
    from orchestrator.scenarios import DEMO_SCENARIO, load_scenario

    return load_scenario(DEMO_SCENARIO)


def _seed(settings: Settings) -> tuple[int, str]:
    """The demo scenario's branches and staff; a token for the clerk of its first filing."""
    from sqlalchemy.orm import Session

    import orchestrator.models  # noqa: F401  (every mapper known before the first query)
    from orchestrator.clock import Clock
    from orchestrator.identity.models import Branch, Staff
    from orchestrator.identity.service import issue_token
    from orchestrator.seed import seed_people

    scenario = _scenario()
    entry = _template_entry(scenario)
    now = Clock().now()
    with _database(settings).transaction() as session:
        assert isinstance(session, Session)
        seed_people(session, scenario)
        clerk = session.scalars(select(Staff).where(Staff.username == entry.clerk)).one()
        branch = session.scalars(select(Branch).where(Branch.code == entry.branch)).one()
        token = issue_token(session, clerk, now=now, label=CLERK_LABEL, ttl=timedelta(days=1))
        return branch.id, token


def _template_entry(scenario: Any) -> Any:
    # A filing that goes all the way through the agencies: courier delivery (a branch pickup
    # waits for a person) and every material provided (nothing blocks a step).
    for entry in scenario.filings:
        data = entry.data
        if data.delivery.method == "courier" and set(data.materials) >= _ALL_MATERIALS:
            return entry
    raise BenchSetupError("the demo scenario has no courier filing with every material")


_ALL_MATERIALS = {
    "articles_of_association",
    "identity_documents",
    "proof_of_address",
    "branch_mandate",
    "finance_tax_agents",
    "staff_roster",
    "housing_fund_authorisation",
}


def _template() -> dict[str, Any]:
    data: dict[str, Any] = _template_entry(_scenario()).data.model_dump(mode="json")
    return data


_UNFINISHED = (FilingStatus.ACCEPTED, FilingStatus.READY)


def _unfinished(db: Any) -> dict[str, Any]:
    """Filings still under way in the database, and their trade names (read-only SQL)."""
    trade_name = Filing.payload["company_name"]["trade_name"].as_string()
    with db.reading() as conn:
        names = conn.execute(select(trade_name).where(Filing.status.in_(_UNFINISHED))).scalars()
        found = [name for name in names if name]
    return {"count": len(found), "trade_names": set(found)}


def _why_not_complete(db: Any, codes: Sequence[str], limit: int = 5) -> list[str]:
    """For people: where the first few filings that did not complete stand."""
    from orchestrator.filings.models import Step, StepStatus

    shown = sorted(codes)[:limit]
    query = (
        select(Filing.tracking_code, Filing.status, Step.name, Step.status, Step.reason)
        .join(Step, Step.filing_id == Filing.id)
        .where(
            Filing.tracking_code.in_(shown),
            Step.status.not_in((StepStatus.DONE, StepStatus.WAITING)),
        )
        .order_by(Filing.tracking_code, Step.position)
    )
    with db.reading() as conn:
        rows = conn.execute(query).all()
    notes = [
        f"not complete: {code} ({status}): {step} {state}" + (f" — {reason}" if reason else "")
        for code, status, step, state, reason in rows
    ]
    seen = {row[0] for row in rows}
    notes += [f"not complete: {code} (no step under way)" for code in shown if code not in seen]
    if len(codes) > limit:
        notes.append(f"… and {len(codes) - limit} more")
    return notes


def _free_trade_names(effects: Mapping[str, Any], pending: set[str], count: int) -> list[str]:
    """`count` distinct trade names (字号) that the registration bureau has not registered
    and that no unfinished filing in the database is about to register."""
    from orchestrator.scenarios.models import trade_names

    taken = pending | {
        subject.partition(":")[2] for subject in effects["subjects"].get("registration", {})
    }
    names: list[str] = []
    for name in trade_names():
        if name not in taken:
            names.append(name)
            if len(names) == count:
                return names
    raise BenchSetupError(f"only {len(names)} unused trade names left; restart the simulators")


class _Submitter:
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


class _CpuMeter:
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


@contextmanager
def _progress(options: BenchOptions, err: Console) -> Iterator[Callable[[int, int, int], None]]:
    if not options.show_progress:
        yield lambda filed, ready, complete: None
        return
    columns = (
        TextColumn("{task.description:>8}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=False) as progress:
        tasks = [progress.add_task(name, total=options.filings) for name in
                 ("filed", "ready", "complete")]  # fmt: skip

        def show(filed: int, ready: int, complete: int) -> None:
            for task, value in zip(tasks, (filed, ready, complete), strict=True):
                progress.update(task, completed=value)

        yield show


def _measure(
    db: Any,
    *,
    branch_id: int,
    prefix: str,
    acknowledged: Mapping[str, str],
    durations: Mapping[str, Mapping[str, float]],
    duplicates: int,
    options: BenchOptions,
    submit_seconds: float,
    api_seconds: Sequence[float],
    workers: int | None,
) -> BenchReport:
    query = select(
        Filing.tracking_code, Filing.status, Filing.accepted_at, Filing.completed_at
    ).where(Filing.branch_id == branch_id, Filing.idempotency_key.startswith(prefix))
    with db.reading() as conn:
        rows = {row.tracking_code: row for row in conn.execute(query)}
    codes = set(acknowledged.values())
    complete = [
        row
        for code, row in rows.items()
        if code in codes and row.status == FilingStatus.COMPLETE and row.completed_at
    ]
    e2e: list[float] = []
    paths: list[float] = []
    overheads: list[float] = []
    ratios: list[float] = []
    untimed = 0
    for row in complete:
        ms = (row.completed_at - row.accepted_at).total_seconds() * 1000
        e2e.append(ms)
        path = critical_path_ms(step_durations(row.tracking_code, durations))
        if path is None:
            untimed += 1
            continue
        paths.append(path)
        overheads.append(ms - path)
        if path > 0:
            ratios.append(ms / path)
    throughput = None
    if complete:
        span = (
            max(r.completed_at for r in complete) - min(r.accepted_at for r in complete)
        ).total_seconds()
        throughput = len(complete) / span if span > 0 else None
    return BenchReport(
        filings=len(acknowledged),
        requested=options.filings,
        unacknowledged=options.filings - len(acknowledged),
        in_database=len(codes & set(rows)),
        completed=len(complete),
        lost=len(codes) - len(complete),
        duplicate_effects=duplicates,
        filings_per_s=throughput,
        overhead_ms=Quantiles.of(overheads),
        e2e_over_critical_path=Quantiles.of(ratios, digits=3),
        e2e_ms=Quantiles.of(e2e),
        critical_path_ms=Quantiles.of(paths),
        untimed=untimed,
        submit_seconds=submit_seconds,
        accepted_per_s=len(acknowledged) / submit_seconds if submit_seconds else None,
        api_ms=Quantiles.of([s * 1000 for s in api_seconds]),
        agency_latency_ms=options.agency_latency_ms,
        rate=options.rate,
        workers=workers,
        lost_codes=sorted(codes - {row.tracking_code for row in complete}),
    )


def table(report: BenchReport) -> Table:
    """The report for people."""
    out = Table(title="onestop bench", show_header=True, header_style="bold")
    out.add_column("measure")
    out.add_column("value", justify="right")

    def q(quantiles: Quantiles, unit: str = "") -> str:
        parts = [
            f"{name} {value:g}{unit}"
            for name in ("p50", "p95", "p99")
            if (value := getattr(quantiles, name)) is not None
        ]
        return " · ".join(parts) or "—"

    rate = f"{report.rate:g}/s" if report.rate else "as fast as accepted"
    out.add_row("filings (acknowledged / requested)", f"{report.filings} / {report.requested}")
    out.add_row("agency latency · arrival rate", f"{report.agency_latency_ms:g} ms · {rate}")
    workers = "running deployment"
    if report.workers:
        workers = f"{report.workers} × {report.worker_threads or '?'} threads"
    out.add_row("workers", workers)
    if report.host_reference_s is not None:
        out.add_row("host speed (reference loop; lower is faster)", f"{report.host_reference_s} s")
    out.add_row(
        "throughput",
        f"{report.filings_per_s:.1f} filings/s" if report.filings_per_s else "—",
    )
    out.add_row("accepted by the API", f"{report.accepted_per_s or 0:.1f}/s")
    out.add_row("API POST latency", q(report.api_ms, " ms"))
    out.add_row("end to end", q(report.e2e_ms, " ms"))
    out.add_row("critical path (agencies)", q(report.critical_path_ms, " ms"))
    out.add_row("overhead = e2e − critical path", q(report.overhead_ms, " ms"))
    out.add_row("e2e ÷ critical path", q(report.e2e_over_critical_path))
    out.add_row("lost", str(report.lost), style="red" if report.lost else None)
    out.add_row(
        "duplicate agency effects",
        str(report.duplicate_effects),
        style="red" if report.duplicate_effects else None,
    )
    if report.unacknowledged:
        out.add_row("not acknowledged by the API", str(report.unacknowledged), style="red")
    if report.untimed:
        out.add_row("complete but untimed by the agencies", str(report.untimed))
    parts = {k: v for k, v in report.cpu.items() if not k.endswith("_pct")}
    if parts:
        out.add_row(
            "CPU per filing", " · ".join(f"{kind} {ms:g} ms" for kind, ms in sorted(parts.items()))
        )
    if "machine_busy_pct" in report.cpu:
        out.add_row(
            "machine busy (ours)",
            f"{report.cpu['machine_busy_pct']:g}% ({report.cpu.get('ours_pct', 0):g}%)",
        )
    if report.cpu.get("stolen_pct"):
        out.add_row("CPU stolen by the hypervisor", f"{report.cpu['stolen_pct']:g}%")
    return out
