"""Running the benchmark: a deployment of its own, the load, and the figures read after it.

The load generator and meters are in `load`, the report and its figures in `report`.
"""

from __future__ import annotations

import math
import os
import secrets
import socket
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import select

from orchestrator.filings.models import Filing, FilingStatus
from orchestrator.reference import load_reference
from orchestrator.settings import Settings
from orchestrator.tools.bench.load import (
    BenchOptions,
    CpuMeter,
    RunCounts,
    Submitter,
    host_reference_seconds,
)
from orchestrator.tools.bench.report import BenchReport, Quantiles, critical_path_ms, step_durations
from orchestrator.workflow import graph

SETUP_HELP = (
    "onestop bench needs PostgreSQL and RabbitMQ (the production mode), not the embedded "
    "SQLite and in-memory broker. Set, for example:\n"
    "  createdb -h 127.0.0.1 -U postgres onestop_bench\n"
    "  export ONESTOP_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/onestop_bench\n"
    "  export ONESTOP_BROKER_URL=amqp://guest:guest@127.0.0.1:5672//\n"
    "(a RabbitMQ vhost of its own keeps other workers away from the benchmark's messages)."
)
CLERK_LABEL = "bench"


MIN_WORKER_THREADS = 8


class BenchSetupError(RuntimeError):
    """The benchmark cannot start: a missing setting or service (exit status 2)."""


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
        submitter = Submitter(api, _template(), names, prefix, options)
        cpu = CpuMeter(target.processes)
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
    submitter: Submitter, counts: RunCounts, target: _Target, options: BenchOptions, err: Console
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
    from orchestrator.tools.deployment import Deployment, DeploymentError

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
    steps = len(load_reference().graph_of(_template_entry(_scenario()).data.district_code).steps)
    calls_in_flight = options.rate * steps * options.agency_latency_ms / 1000
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
    from orchestrator.tools.scenarios import DEMO_SCENARIO, load_scenario

    return load_scenario(DEMO_SCENARIO)


def _seed(settings: Settings) -> tuple[int, str]:
    """The demo scenario's branches and staff; a token for the clerk of its first filing."""
    from sqlalchemy.orm import Session

    import orchestrator.models  # noqa: F401  (every mapper known before the first query)
    from orchestrator.clock import Clock
    from orchestrator.identity.models import Branch, Staff
    from orchestrator.identity.service import issue_token
    from orchestrator.tools.seed import seed_people

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
        if data.delivery.method == "courier" and set(data.materials) >= _all_materials():
            return entry
    raise BenchSetupError("the demo scenario has no courier filing with every material")


def _all_materials() -> set[str]:
    """Every material a clerk hands in (not those made from the filing): nothing to supplement."""
    return {m.code for m in load_reference().materials.values() if not m.generated}


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
    from orchestrator.tools.scenarios.names import trade_names

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
        Filing.tracking_code, Filing.status, Filing.accepted_at, Filing.completed_at, Filing.graph
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
        steps = graph((name, needs) for name, needs in row.graph).steps
        path = critical_path_ms(step_durations(row.tracking_code, durations, steps), steps)
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
