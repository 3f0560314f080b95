"""Writing a history: the desks (branches and clerks, made if missing), then batches of
filings copied into PostgreSQL (COPY, one transaction per batch), then the supervision
summary they add up to and fresh planner statistics.

History filings are pictures of the past, not work to resume: their open steps have no
next check, so no sweeper or worker of a deployment on the same database takes them up.
Write a history while nothing else inserts filings: ids are reserved a batch at a time.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import make_url, select
from sqlalchemy.orm import Session

from orchestrator.calendar import WorkingCalendar
from orchestrator.clock import CHINA, Clock
from orchestrator.db import Database
from orchestrator.identity.models import Branch, Role, Staff
from orchestrator.identity.service import ensure_branch, ensure_staff
from orchestrator.migrations import migrate
from orchestrator.reference import load_reference
from orchestrator.settings import Settings
from orchestrator.subsidies.ledger import next_period
from orchestrator.supervision.tally import Tally
from orchestrator.tools.history.axis import WorkingAxis
from orchestrator.tools.history.generate import (
    EVENT_COLUMNS,
    FILING_COLUMNS,
    FOLLOW_UP_COLUMNS,
    MATERIAL_COLUMNS,
    RATING_COLUMNS,
    STEP_COLUMNS,
    SUBSIDY_ENTRY_COLUMNS,
    Batch,
    History,
    desk_templates,
)
from orchestrator.tools.seed import seed_reference

REFUSED_SQLITE = (
    "onestop history writes with PostgreSQL's COPY and is meant for a million filings; "
    "ONESTOP_DATABASE_URL points at {backend}. Point it at PostgreSQL, for example:\n"
    "  createdb -h 127.0.0.1 -U postgres onestop_history\n"
    "  export ONESTOP_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/onestop_history"
)
# Days past today the axis reaches: committed deadlines and 容缺 due dates of the last
# filings lie ahead (5 working days at most, holidays included).
_AHEAD_DAYS = 40


class HistoryRefused(RuntimeError):
    """The history cannot be written here (not PostgreSQL, no such district)."""


@dataclass(frozen=True)
class HistoryOptions:
    """How much history, where, and how it is drawn."""

    filings: int
    days: int = 365
    districts: tuple[str, ...] = ()  # none: every district of the reference data
    branches_per_district: int = 6
    batch_size: int = 10_000
    seed: int = 2026
    jobs: int = 2  # processes drawing and copying batches side by side


@dataclass(frozen=True)
class HistoryReport:
    """What was written, and how fast."""

    filings: int
    steps: int
    materials: int
    events: int
    ratings: int
    follow_ups: int
    subsidy_entries: int
    summary_rows: int
    seconds: float

    @property
    def filings_per_second(self) -> float:
        """Filings written per second, all included."""
        return self.filings / self.seconds if self.seconds else 0.0


def check_database(settings: Settings) -> None:
    """HistoryRefused unless the settings' database is PostgreSQL."""
    backend = make_url(settings.database_url).get_backend_name()
    if backend != "postgresql":
        raise HistoryRefused(REFUSED_SQLITE.format(backend=backend))


Progress = Callable[[int, int, float], None]  # done, total, seconds so far


def write_history(
    settings: Settings,
    options: HistoryOptions,
    *,
    calendar: WorkingCalendar,
    clock: Clock,
    progress: Progress | None = None,
) -> HistoryReport:
    """Write `options.filings` filings accepted over the last `options.days` days."""
    check_database(settings)
    reference = load_reference()
    districts = options.districts or tuple(reference.districts)
    if unknown := [d for d in districts if d not in reference.districts]:
        known = ", ".join(reference.districts)
        raise HistoryRefused(f"no district {', '.join(unknown)} in the reference data ({known})")
    migrate(settings.database_url)
    database = Database(settings.database_url, settings=settings)
    try:
        with database.transaction() as session:
            seed_reference(session)
            rows = _desks(session, districts, options.branches_per_district, reference)
    finally:
        database.dispose()
    desks = list(desk_templates(reference, rows))
    now = clock.now()
    first = now.date() - timedelta(days=options.days)
    axis = WorkingAxis(calendar, first, now.date() + timedelta(days=_AHEAD_DAYS))
    history = History(reference=reference, axis=axis, now=now, desks=desks)
    started = time.monotonic()
    with _connect(settings.database_url) as conn:
        firsts = _reserve(conn, options.filings, history.most_steps)
    tasks = list(_tasks(options, firsts, history.most_steps))
    tally = Tally(day_seconds=axis.day_seconds)
    counts = dict.fromkeys(_COUNTED, 0)
    months: dict[tuple[str, str], list[int]] = {}
    done = 0
    for size, batch_counts, batch_tally, batch_months in _run(
        settings.database_url, history, tasks, options.jobs
    ):
        tally.merge(batch_tally)
        for name in counts:
            counts[name] += batch_counts[name]
        for key, (committed, settled) in batch_months.items():
            month = months.setdefault(key, [0, 0])
            month[0] += committed
            month[1] += settled
        done += size
        if progress is not None:
            progress(done, options.filings, time.monotonic() - started)
    with _connect(settings.database_url) as conn:
        summary = _add_summary(conn, tally)
        _add_subsidy_months(conn, months, reference, now=now)
        conn.commit()
        _analyze(conn)
    return HistoryReport(
        filings=options.filings, summary_rows=summary, seconds=time.monotonic() - started, **counts
    )


_Task = tuple[dict[str, int], int, int, float]  # first ids, filings, seed, budget share
# Filings, rows per table, their summary, what they add to each subsidy month.
_Done = tuple[int, dict[str, int], Tally, dict[tuple[str, str], list[int]]]
_COUNTED = ("steps", "materials", "events", "ratings", "follow_ups", "subsidy_entries")
# An officer approves a month's reimbursement a few days after it ends.
_APPROVED_AFTER = timedelta(days=4, hours=10)


def _tasks(options: HistoryOptions, firsts: dict[str, int], most_steps: int) -> Iterator[_Task]:
    """The batches: each its own ranges of ids and its own seed, so that batches drawn in
    any order, by any process, make the same history."""
    per = {"filing": 1, "step": most_steps, "material": 1, "rating": 1}
    for k, offset in enumerate(range(0, options.filings, options.batch_size)):
        size = min(options.batch_size, options.filings - offset)
        ids = {table: firsts[table] + offset * per[table] for table in per}
        yield ids, size, options.seed * 1_000_003 + k, size / options.filings


def _run(url: str, history: History, tasks: list[_Task], jobs: int) -> Iterator[_Done]:
    """Each task drawn and copied, in `jobs` processes (forked: they inherit `history`)."""
    if jobs == 1:
        _start_job(url, history)
        yield from map(_job, tasks)
        return
    with multiprocessing.get_context("fork").Pool(
        jobs, initializer=_start_job, initargs=(url, history)
    ) as pool:
        yield from pool.imap_unordered(_job, tasks)


_JOB: dict[str, Any] = {}  # a job process's engine and history


def _connect(url: str) -> psycopg.Connection[Any]:
    """A plain psycopg connection (COPY needs no ORM) to the database SQLAlchemy's `url`
    names; its context commits on success."""
    return psycopg.connect(make_url(url).set(drivername="postgresql").render_as_string(False))


def _start_job(url: str, history: History) -> None:
    _JOB["url"] = url
    _JOB["history"] = history


def _job(task: _Task) -> _Done:
    ids, size, seed, budget_share = task
    history: History = _JOB["history"]
    batch, tally = history.batch(dict(ids), size, seed=seed, budget_share=budget_share)
    with _connect(_JOB["url"]) as conn:
        _copy(conn, batch)
    counts = {name: len(getattr(batch, name)) for name in _COUNTED}
    return size, counts, tally, batch.subsidy_months


def _desks(
    session: Session, districts: Sequence[str], per_district: int, reference: Any
) -> list[tuple[int, str, int, str, str]]:
    """(branch id, district, clerk id, clerk username, bank) of each district's branches
    that have a clerk; a district without any gets `per_district` branches and clerks."""
    found: list[tuple[int, str, int, str, str]] = []
    for code in districts:
        query = (
            select(Branch.id, Branch.district_code, Staff.id, Staff.username, Branch.bank_code)
            .join(Staff, Staff.branch_id == Branch.id)
            .where(Branch.district_code == code, Staff.role == Role.CLERK)
            .order_by(Branch.id, Staff.id)
        )
        rows: dict[int, tuple[int, str, int, str, str]] = {}
        for branch_id, district, clerk_id, username, bank in session.execute(query):
            rows.setdefault(branch_id, (branch_id, district, clerk_id, username, bank))
        if not rows:
            banks = reference.districts[code].policy.partner_banks
            for i in range(per_district):
                bank = banks[i % len(banks)]
                branch = ensure_branch(
                    session,
                    code=f"H-{code}-{bank}-{i + 1:02d}",
                    name=f"{reference.districts[code].short_zh}{bank}第{i + 1}网点",
                    bank_code=bank,
                    district_code=code,
                )
                clerk = ensure_staff(
                    session,
                    username=f"h{code}c{i + 1:02d}",
                    name=f"历史柜员{i + 1}",
                    role=Role.CLERK,
                    district_code=code,
                    branch=branch,
                )
                rows[branch.id] = (branch.id, code, clerk.id, clerk.username, bank)
            ensure_staff(
                session,
                username=f"h{code}officer",
                name="历史监管员",
                role=Role.OFFICER,
                district_code=code,
            )
        found += rows.values()
    return found


_TABLES_WITH_IDS = ("filing", "step", "material", "rating")


def _reserve(conn: psycopg.Connection[Any], filings: int, most_steps: int) -> dict[str, int]:
    """The first of the ids reserved in each table for `filings` filings (each with at most
    `most_steps` steps, one 容缺 material and one rating), from its sequence."""
    cursor = conn.cursor()
    firsts: dict[str, int] = {}
    for table, per in (("filing", 1), ("step", most_steps), ("material", 1), ("rating", 1)):
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", (table,))
        (first,) = cursor.fetchone() or (0,)
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", (table, first + filings * per)
        )
        firsts[table] = first
    return firsts


def _copy(conn: psycopg.Connection[Any], batch: Batch) -> None:
    cursor = conn.cursor()
    for table, columns, rows in (
        ("filing", FILING_COLUMNS, batch.filings),
        ("step", STEP_COLUMNS, batch.steps),
        ("material", MATERIAL_COLUMNS, batch.materials),
        ("event", EVENT_COLUMNS, batch.events),
        ("rating", RATING_COLUMNS, batch.ratings),
        ("follow_up", FOLLOW_UP_COLUMNS, batch.follow_ups),
        ("subsidy_entry", SUBSIDY_ENTRY_COLUMNS, batch.subsidy_entries),
    ):
        if not rows:
            continue
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def _add_summary(conn: psycopg.Connection[Any], tally: Tally) -> int:
    """Add the history's counts to the summary rows of its days (other filings' counts
    already there stay: a history's filings are new)."""
    cursor = conn.cursor()
    written = 0
    for table, key, rows in (
        ("supervision_day", ("day", "branch_id", "subject"), tally.day_rows()),
        ("supervision_hours", ("day", "branch_id", "hours"), tally.hours_rows()),
        ("supervision_ratings", ("day", "branch_id"), tally.rating_rows()),
    ):
        if not rows:
            continue
        columns = list(rows[0])
        added = [c for c in columns if c not in key and c != "district_code"]
        names = ", ".join(columns)
        # Copied into a scratch table, then added in one statement: row by row, the
        # summary of a year of history took longer than its filings.
        cursor.execute(f"CREATE TEMP TABLE new_{table} (LIKE {table}) ON COMMIT DROP")
        with cursor.copy(f"COPY new_{table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(tuple(row[c] for c in columns))
        cursor.execute(
            f"INSERT INTO {table} ({names}) SELECT {names} FROM new_{table}"
            f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET "
            + ", ".join(f"{c} = {table}.{c} + EXCLUDED.{c}" for c in added)
        )
        written += len(rows)
    return written


def _add_subsidy_months(
    conn: psycopg.Connection[Any],
    months: dict[tuple[str, str], list[int]],
    reference: Any,
    *,
    now: datetime,
) -> None:
    """Add the history's reservations and settlements to each district's months (at the
    district's budget); a month that ended is approved, as its officer would have by now."""
    cursor = conn.cursor()
    for (district, period), (committed, settled) in sorted(months.items()):
        budget = reference.districts[district].policy.subsidies.budget_fen or 0
        after = datetime.strptime(next_period(period), "%Y-%m").replace(tzinfo=CHINA)
        approved_at = after + _APPROVED_AFTER
        approved = approved_at if approved_at <= now else None
        cursor.execute(
            "INSERT INTO subsidy_period (district_code, period, budget_fen, committed_fen,"
            " settled_fen, approved_at, approved_by) VALUES (%s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (district_code, period) DO UPDATE SET"
            " committed_fen = subsidy_period.committed_fen + EXCLUDED.committed_fen,"
            " settled_fen = subsidy_period.settled_fen + EXCLUDED.settled_fen",
            (district, period, budget, committed, settled, approved,
             f"staff:h{district}officer" if approved else None),
        )  # fmt: skip


def _analyze(conn: psycopg.Connection[Any]) -> None:
    """Fresh planner statistics (after a bulk load the planner would otherwise guess), and
    the summary's pages marked all-visible, so that figures read its covering indexes
    alone from the start (VACUUM runs outside a transaction)."""
    conn.commit()
    conn.autocommit = True
    cursor = conn.cursor()
    for table in (*_TABLES_WITH_IDS, "event", "follow_up", "subsidy_entry", "subsidy_period"):
        cursor.execute(f"ANALYZE {table}")
    for table in ("supervision_day", "supervision_hours", "supervision_ratings"):
        cursor.execute(f"VACUUM (ANALYZE) {table}")
