"""Taking a step for one attempt: the claim every message for a step starts with.

A claim is a transition of the step (ready → running, a lost attempt resumed, or blocked
when a material it needs is missing), made in one short transaction before the agency is
called; `transitions.py` records what came of the attempt. The statements are built once,
their conditions taken from the table in `lifecycle.py`. The sweeper gives a step whose
lease ran out a new one here too (`redispatch_overdue`), for a claim to take it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    Text,
    Update,
    bindparam,
    exists,
    func,
    literal_column,
    select,
    update,
)

from orchestrator.filings.history import append, event_row
from orchestrator.filings.lifecycle import STEP
from orchestrator.filings.models import ACTIVE_STEP_STATUSES, MaterialStatus, StepStatus
from orchestrator.filings.models import FILING_TABLE as _FILING
from orchestrator.filings.models import MATERIAL_TABLE as _MATERIAL
from orchestrator.filings.models import STEP_TABLE as _STEP
from orchestrator.workflow import by_name, stamped

# What the one-statement start of a ready step may start, and what it makes of it.
(_STARTABLE,) = STEP.sources("started")
_RUNNING = STEP.target("started")


@dataclass(frozen=True)
class StepWork:
    """What a task needs to carry one step to its agency, read in the claiming transaction."""

    step_id: int
    filing_id: int
    name: str
    agency: str
    attempt: int
    ask_first: bool  # the agency may already have it: ask for its status before submitting
    tracking_code: str  # the filing's
    payload: str  # the filing's validated input as stored (JSON text)
    graph: str  # the filing's graph of steps as stamped at acceptance (JSON text)
    results: dict[str, dict[str, Any]]  # results of the filing's finished steps, by step name

    @property
    def idempotency_key(self) -> str:
        """The agency-facing key of this step of this filing."""
        return idempotency_key(self.tracking_code, self.name)


def idempotency_key(tracking_code: str, step_name: str) -> str:
    """The agency-facing key of one step of one filing; stable across retries and crashes."""
    return f"{tracking_code}-{step_name}"


# The payload as its stored JSON text: the workers' cache of validated filings is keyed by
# it, and a hit then costs no JSON parsing either.
_PAYLOAD = _FILING.c.payload.cast(Text).label("payload")
# The filing's graph as its JSON text, read with the step: parsed once per graph, not per step.
GRAPH = _FILING.c.graph.cast(Text).label("graph")

_CLAIM_READ = (
    select(
        _STEP.c.status,
        _STEP.c.attempts,
        _STEP.c.name,
        _STEP.c.filing_id,
        _STEP.c.next_check_at,
        _FILING.c.tracking_code,
        _PAYLOAD,
        GRAPH,
        exists()
        .where(
            _MATERIAL.c.filing_id == _STEP.c.filing_id,
            _MATERIAL.c.status == MaterialStatus.MISSING,
        )
        .label("anything_missing"),
    )
    .join(_FILING, _FILING.c.id == _STEP.c.filing_id)
    .where(_STEP.c.id == bindparam("step_id"))
    # The step row only: parallel steps of one filing must not queue behind each other.
    .with_for_update(of=_STEP)
)


# The statements of every step's two transactions are built once: building one anew (and its
# cache key) cost about as much of a worker's time as sending it.
_STEP_ID = _STEP.c.id == bindparam("step_id")
_TAKE_ANY = update(_STEP).values(
    attempts=bindparam("attempt", type_=_STEP.c.attempts.type),
    next_check_at=bindparam("lease", type_=_STEP.c.next_check_at.type),
)
_START_ANY = _TAKE_ANY.values(
    status=_RUNNING,
    started_at=func.coalesce(_STEP.c.started_at, bindparam("now", type_=_STEP.c.started_at.type)),
)
_TAKE = _TAKE_ANY.where(_STEP_ID)
_START = _START_ANY.where(_STEP_ID)
# The claim of nearly every step: a ready step of a filing that lacks no material, taken in
# one statement where reading it under lock and then taking it were two round trips. The
# filing's columns come from subqueries: SQLite's RETURNING names the updated table only.
_OF_FILING = _FILING.c.id == _STEP.c.filing_id
_START_IF_READY = _START_ANY.where(
    _STEP.c.status == _STARTABLE,
    ~exists().where(
        _MATERIAL.c.filing_id == _STEP.c.filing_id,
        _MATERIAL.c.status == MaterialStatus.MISSING,
    ),
).values(attempts=_STEP.c.attempts + 1)  # counted in the row: no read before it
_START_READY = _START_IF_READY.where(_STEP_ID).returning(
    _STEP.c.attempts,
    _STEP.c.name,
    _STEP.c.filing_id,
    select(_FILING.c.tracking_code).where(_OF_FILING).scalar_subquery(),
    select(_PAYLOAD).where(_OF_FILING).scalar_subquery(),
    select(GRAPH).where(_OF_FILING).scalar_subquery(),
)


@cache
def _start_ready_steps(count: int) -> Update:
    # The steps a success made ready, all in one statement (one per count of them, built once).
    ids = [bindparam(f"step_{i}", type_=_STEP.c.id.type) for i in range(count)]
    return _START_IF_READY.where(_STEP.c.id.in_(ids)).returning(
        _STEP.c.id, _STEP.c.attempts, _STEP.c.name
    )


def claim(
    conn: Connection,
    step_id: int,
    *,
    now: datetime,
    lease_until: datetime,
    worker: str | None = None,
    redelivered: bool = False,
) -> StepWork | None:
    """Take an active step for one attempt; None if there is nothing to do (or it is blocked).

    `worker` names the worker node that takes it, recorded with the attempt: when a worker
    dies mid-step, the history shows whose attempt was lost and who resumed it. A running
    step is taken again only from a message the broker `redelivered` (its worker died
    holding it) or once its lease has run out; any other message for it is a duplicate.
    """
    events: list[dict[str, Any]] = []
    work = claim_into(
        conn,
        step_id,
        now=now,
        lease_until=lease_until,
        worker=worker,
        redelivered=redelivered,
        events=events,
        known={},
    )
    append(conn, events)
    return work


def claim_into(
    conn: Connection,
    step_id: int,
    *,
    now: datetime,
    lease_until: datetime,
    worker: str | None,
    redelivered: bool,
    events: list[dict[str, Any]],
    known: Mapping[str, dict[str, Any]],
    ready_first: bool = True,
) -> StepWork | None:
    """`claim`, adding its events to `events`; results in `known` are not read again.

    `ready_first=False` skips the one-statement start of a ready step, for a caller whose
    own attempt at it just failed (its filing lacks a material).
    """
    ready = {"step_id": step_id, "lease": lease_until, "now": now}
    started = conn.execute(_START_READY, ready).one_or_none() if ready_first else None
    if started is not None:
        attempt, name, filing_id, tracking_code, payload, graph = started
        of_filing = (filing_id, tracking_code, payload, graph)
        return started_work(conn, step_id, name, attempt, of_filing, now, worker, events, known)
    # Not ready, or a material of the filing is missing: read the step under lock to see.
    by = {"worker": worker} if worker else {}
    row = conn.execute(_CLAIM_READ, {"step_id": step_id}).one_or_none()
    if row is None or row.status not in ACTIVE_STEP_STATUSES:
        return None
    leased = row.next_check_at is not None and row.next_check_at > now
    if row.status == StepStatus.RUNNING and leased and not redelivered:
        return None  # the attempt under way holds the lease
    name, filing_id = row.name, row.filing_id
    if row.anything_missing and (missing := _missing_for(conn, filing_id, name)):
        blocked = STEP.move("blocked", row.status)
        conn.execute(
            update(_STEP)
            .where(_STEP.c.id == step_id)
            .values(status=blocked, reason="material_missing", next_check_at=None)
        )
        events.append(event_row(filing_id, "blocked", at=now, step=name, materials=missing))
        return None
    attempt = row.attempts + 1
    taking = {"step_id": step_id, "attempt": attempt, "lease": lease_until}
    if row.status == StepStatus.SUBMITTED:
        conn.execute(_TAKE, taking)  # the agency has it: this attempt asks how it went
    else:
        kind = "started" if row.status == StepStatus.READY else "resumed"
        STEP.move(kind, row.status)  # to running, as `_START` writes
        conn.execute(_START, {**taking, "now": now})
        events.append(event_row(filing_id, kind, at=now, step=name, attempt=attempt, **by))
    return _work(
        conn,
        step_id,
        filing_id,
        name,
        attempt=attempt,
        ask_first=row.status == StepStatus.SUBMITTED or row.attempts > 0,
        tracking_code=row.tracking_code,
        payload=row.payload,
        graph=row.graph,
        known=known,
    )


def started_work(
    conn: Connection,
    step_id: int,
    name: str,
    attempt: int,
    of_filing: tuple[int, str, str, str],
    now: datetime,
    worker: str | None,
    events: list[dict[str, Any]],
    known: Mapping[str, dict[str, Any]],
) -> StepWork:
    """The work of a step just started, its event added to `events`.

    `of_filing` is its filing's id, tracking code, payload and graph; `worker`, who took it.
    """
    filing_id, tracking_code, payload, graph = of_filing
    by = {"worker": worker} if worker else {}
    events.append(event_row(filing_id, "started", at=now, step=name, attempt=attempt, **by))
    return _work(
        conn,
        step_id,
        filing_id,
        name,
        attempt=attempt,
        ask_first=attempt > 1,
        tracking_code=tracking_code,
        payload=payload,
        graph=graph,
        known=known,
    )


def _work(
    conn: Connection,
    step_id: int,
    filing_id: int,
    name: str,
    *,
    attempt: int,
    ask_first: bool,
    tracking_code: str,
    payload: str,
    graph: str,
    known: Mapping[str, dict[str, Any]],
) -> StepWork:
    """The claimed step's work, with the results its request is built from."""
    needed = stamped(graph).reads(name)
    if all(step in known for step in needed):
        results = {step: known[step] for step in needed if known[step]}
    else:
        results = _results(conn, filing_id, needed)
    return StepWork(
        step_id=step_id,
        filing_id=filing_id,
        name=name,
        agency=by_name()[name].agency,
        attempt=attempt,
        ask_first=ask_first,
        tracking_code=tracking_code,
        payload=payload,
        graph=graph,
        results=results,
    )


def _missing_for(conn: Connection, filing_id: int, step_name: str) -> list[str]:
    rows = conn.execute(
        select(_MATERIAL.c.code, _MATERIAL.c.blocks).where(
            _MATERIAL.c.filing_id == filing_id, _MATERIAL.c.status == MaterialStatus.MISSING
        )
    )
    return [code for code, blocks in rows if step_name in blocks]


def _results(conn: Connection, filing_id: int, names: tuple[str, ...]) -> dict[str, Any]:
    # Only the results this step's request is built from, never the whole filing.
    if not names:
        return {}
    rows = conn.execute(_results_of(names), {"filing_id": filing_id})
    return {name: result for name, result in rows if result}


@cache
def _results_of(names: tuple[str, ...]) -> Select[tuple[str, Any]]:
    # One statement per set of names, with the names inline: an expanding IN list would be
    # re-rendered on every execution, a cost that showed in the workers' profile.
    return select(_STEP.c.name, _STEP.c.result).where(
        _STEP.c.filing_id == bindparam("filing_id"),
        _STEP.c.name.in_([literal_column(f"'{name}'") for name in names]),
        _STEP.c.status == StepStatus.DONE,
    )


def start_ready(
    conn: Connection, step_ids: list[int], *, now: datetime, lease_until: datetime
) -> dict[int, tuple[int, str]]:
    """Start those of a filing's ready steps that no missing material may block, at once.

    Their filing's code and payload are the succeeding step's: only the attempt and name
    of each come back. Returns them by step id.
    """
    if not step_ids:
        return {}
    values = {f"step_{i}": step_id for i, step_id in enumerate(step_ids)}
    rows = conn.execute(
        _start_ready_steps(len(step_ids)), {**values, "now": now, "lease": lease_until}
    )
    return {step_id: (attempt, name) for step_id, attempt, name in rows}


SWEEPER = "sweeper"


def redispatch_overdue(
    conn: Connection, *, now: datetime, lease_until: datetime, limit: int
) -> list[int]:
    """The sweeper's: give up to `limit` overdue active steps a new lease; returns their ids.

    Rows another transaction holds are skipped: the next sweep takes them.
    """
    overdue = conn.execute(
        select(_STEP.c.id, _STEP.c.status, _STEP.c.filing_id, _STEP.c.name)
        .where(_STEP.c.status.in_(ACTIVE_STEP_STATUSES), _STEP.c.next_check_at <= now)
        .order_by(_STEP.c.next_check_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not overdue:
        return []
    ids = [row.id for row in overdue]
    conn.execute(update(_STEP).where(_STEP.c.id.in_(ids)).values(next_check_at=lease_until))
    # A parked agency wait coming due is routine (the step stays submitted); anything else
    # was a lost message or an attempt that outlived its lease, presumed lost: the step may
    # be taken again. (Should that attempt finish after all, its outcome still lands.)
    lost = [row for row in overdue if row.status != StepStatus.SUBMITTED]
    for row in lost:
        STEP.move("redispatched", row.status)
    target = STEP.target("redispatched")
    if running := [row.id for row in lost if row.status != target]:
        conn.execute(update(_STEP).where(_STEP.c.id.in_(running)).values(status=target))
    events = [
        event_row(row.filing_id, "redispatched", at=now, actor=SWEEPER, step=row.name)
        for row in lost
    ]
    append(conn, events)
    return ids
