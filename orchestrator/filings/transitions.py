"""Every transition of a step or a filing, each with its event, inside the caller's transaction.

Callers hold no transaction while they talk to an agency: they `claim` a step (one short
transaction), call the agency, then record the outcome (another). Every transition is a
conditional update of the step row (or a read under its lock), so a duplicate message, a
swept step or a late reply finds the step in another state and changes nothing twice.

Transitions run as Core statements on the caller's `Connection`: workers go through two of
them per step, and the ORM's identity map and unit of work cost a worker more CPU than the
rest of a step together. A caller holding a `Session` passes `session.connection()`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Row,
    Select,
    Table,
    Text,
    Update,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.orm import Session

from orchestrator.filings import documents
from orchestrator.filings.models import (
    ACTIVE_STEP_STATUSES,
    Event,
    Filing,
    FilingStatus,
    Material,
    MaterialStatus,
    Step,
    StepStatus,
)
from orchestrator.workflow import FINAL_STEP, by_name, reads, successors

WORKER = "worker"

_STEP = cast(Table, Step.__table__)
_FILING = cast(Table, Filing.__table__)
_MATERIAL = cast(Table, Material.__table__)
_EVENT = cast(Table, Event.__table__)

# Where an agency's outcome may still land (READY: the sweeper gave up on a slow attempt,
# which then finished after all), and where a transient failure may be recorded.
_FINISHABLE = (StepStatus.RUNNING, StepStatus.SUBMITTED, StepStatus.AT_BRANCH, StepStatus.READY)
_AT_AGENCY = (StepStatus.RUNNING, StepStatus.SUBMITTED)


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
    results: dict[str, dict[str, Any]]  # results of the filing's finished steps, by step name

    @property
    def idempotency_key(self) -> str:
        """The agency-facing key of this step of this filing."""
        return idempotency_key(self.tracking_code, self.name)


def record(
    session: Session,
    filing_id: int,
    kind: str,
    *,
    at: datetime,
    actor: str = WORKER,
    step: str | None = None,
    **detail: Any,
) -> None:
    """Append an event to the filing's history (for callers working with ORM objects).

    Written at once on the session's connection, as the transitions write theirs: the
    filing row must already be flushed.
    """
    _append(
        session.connection(), [event_row(filing_id, kind, at=at, step=step, actor=actor, **detail)]
    )


def idempotency_key(tracking_code: str, step_name: str) -> str:
    """The agency-facing key of one step of one filing; stable across retries and crashes."""
    return f"{tracking_code}-{step_name}"


def event_row(
    filing_id: int,
    kind: str,
    *,
    at: datetime,
    step: str | None,
    actor: str = WORKER,
    **detail: Any,
) -> dict[str, Any]:
    """An event as the values of its row (a transition appends several in one statement)."""
    return {
        "filing_id": filing_id,
        "step": step,
        "at": at,
        "actor": actor,
        "kind": kind,
        "detail": detail,
    }


_INSERT_EVENT = insert(_EVENT)


def _append(conn: Connection, events: list[dict[str, Any]]) -> None:
    """Append a transition's events in one statement."""
    if events:
        conn.execute(_INSERT_EVENT, events)


def _finish(
    conn: Connection, step_id: int, allowed: tuple[StepStatus, ...], **changes: Any
) -> Row[Any] | None:
    """Change the step if it is in one of the `allowed` states; its filing id and name if so."""
    return conn.execute(
        update(_STEP)
        .where(_STEP.c.id == step_id, _STEP.c.status.in_(allowed))
        .values(changes)
        .returning(_STEP.c.filing_id, _STEP.c.name)
    ).one_or_none()


# The payload as its stored JSON text: the workers' cache of validated filings is keyed by
# it, and a hit then costs no JSON parsing either.
_PAYLOAD = _FILING.c.payload.cast(Text).label("payload")

_CLAIM_READ = (
    select(
        _STEP.c.status,
        _STEP.c.attempts,
        _STEP.c.name,
        _STEP.c.filing_id,
        _STEP.c.next_check_at,
        _FILING.c.tracking_code,
        _PAYLOAD,
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
    status=StepStatus.RUNNING,
    started_at=func.coalesce(_STEP.c.started_at, bindparam("now", type_=_STEP.c.started_at.type)),
)
_TAKE = _TAKE_ANY.where(_STEP_ID)
_START = _START_ANY.where(_STEP_ID)
# The claim of nearly every step: a ready step of a filing that lacks no material, taken in
# one statement where reading it under lock and then taking it were two round trips. The
# filing's columns come from subqueries: SQLite's RETURNING names the updated table only.
_OF_FILING = _FILING.c.id == _STEP.c.filing_id
_START_IF_READY = _START_ANY.where(
    _STEP.c.status == StepStatus.READY,
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
    work = _claim(
        conn,
        step_id,
        now=now,
        lease_until=lease_until,
        worker=worker,
        redelivered=redelivered,
        events=events,
        known={},
    )
    _append(conn, events)
    return work


def _claim(
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
        attempt, name, filing_id, tracking_code, payload = started
        of_filing = (filing_id, tracking_code, payload)
        return _started(conn, step_id, name, attempt, of_filing, now, worker, events, known)
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
        conn.execute(
            update(_STEP)
            .where(_STEP.c.id == step_id)
            .values(status=StepStatus.BLOCKED, reason="material_missing", next_check_at=None)
        )
        events.append(event_row(filing_id, "blocked", at=now, step=name, materials=missing))
        return None
    attempt = row.attempts + 1
    taking = {"step_id": step_id, "attempt": attempt, "lease": lease_until}
    if row.status == StepStatus.SUBMITTED:
        conn.execute(_TAKE, taking)  # the agency has it: this attempt asks how it went
    else:
        conn.execute(_START, {**taking, "now": now})
        kind = "started" if row.status == StepStatus.READY else "resumed"
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
        known=known,
    )


def _started(
    conn: Connection,
    step_id: int,
    name: str,
    attempt: int,
    of_filing: tuple[int, str, str],
    now: datetime,
    worker: str | None,
    events: list[dict[str, Any]],
    known: Mapping[str, dict[str, Any]],
) -> StepWork:
    """The work of a step just started, its event added to `events`.

    `of_filing` is its filing's id, tracking code and payload; `worker`, who took it.
    """
    filing_id, tracking_code, payload = of_filing
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
    known: Mapping[str, dict[str, Any]],
) -> StepWork:
    """The claimed step's work, with the results its request is built from."""
    needed = reads(name)
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
        results=results,
    )


def _missing_for(conn: Connection, filing_id: int, step_name: str) -> list[str]:
    rows = conn.execute(
        select(_MATERIAL.c.code, _MATERIAL.c.blocks).where(
            _MATERIAL.c.filing_id == filing_id, _MATERIAL.c.status == MaterialStatus.MISSING
        )
    )
    return [code for code, blocks in rows if step_name in blocks]


# Longer texts in a result (a seal's impression, as base64) go into the history as digests.
BRIEF_CHARS = 200


def in_brief(value: Any) -> Any:
    """`value` for the history: texts over `BRIEF_CHARS` by their SHA-256 and length only.

    The step row keeps the result whole; the history says what came, and the digest proves
    which. Copying a seal step's impressions into its event doubled what the step wrote.
    """
    if isinstance(value, str) and len(value) > BRIEF_CHARS:
        return {"sha256": hashlib.sha256(value.encode()).hexdigest(), "chars": len(value)}
    if isinstance(value, dict):
        return {key: in_brief(item) for key, item in value.items()}
    if isinstance(value, list):
        return [in_brief(item) for item in value]
    return value


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


_SUCCEED = (
    update(_STEP)
    .where(_STEP_ID, _STEP.c.status.in_(_FINISHABLE))
    .values(
        status=StepStatus.DONE,
        result=bindparam("result", type_=_STEP.c.result.type),
        finished_at=bindparam("now", type_=_STEP.c.finished_at.type),
        next_check_at=None,
        last_error=None,
    )
    .returning(_STEP.c.filing_id, _STEP.c.name)
)


def succeed(
    conn: Connection,
    step_id: int,
    result: dict[str, Any],
    *,
    now: datetime,
    lease_until: datetime,
    actor: str = WORKER,
) -> list[int]:
    """Mark the step done and join its successors; returns the ids of steps now ready."""
    events: list[dict[str, Any]] = []
    done = _succeed(
        conn, step_id, result, now=now, lease_until=lease_until, actor=actor, events=events
    )
    _append(conn, events)
    return [] if done is None else done.ready


def succeed_and_take(
    conn: Connection,
    work: StepWork,
    result: dict[str, Any],
    *,
    now: datetime,
    lease_until: datetime,
    worker: str | None = None,
) -> list[StepWork]:
    """`succeed`, then `claim` every step it made ready that is not blocked.

    Returns the claimed steps, the critical path's first (steps are declared longest path
    first): the caller carries that one on itself and hands the others to workers with
    their work in the message, so that no worker spends a transaction claiming them. All
    transitions share one events insert, and the requests are built from results this
    step already had (its own and those it was built from) without reading them again: a
    done step's result never changes. `worker` is recorded with the first claim only: who
    takes the others is not known yet.
    """
    events: list[dict[str, Any]] = []
    done = _succeed(
        conn, work.step_id, result, now=now, lease_until=lease_until, actor=WORKER, events=events
    )
    taken: list[StepWork] = []
    if done is not None:
        known = {**work.results, done.name: done.result}
        started = _start_ready(conn, done.ready, now=now, lease_until=lease_until)
        for step_id in done.ready:
            taker = worker if not taken else None
            if step_id in started:
                attempt, name = started[step_id]
                of_filing = (work.filing_id, work.tracking_code, work.payload)
                claimed: StepWork | None = _started(
                    conn, step_id, name, attempt, of_filing, now, taker, events, known
                )
            else:  # a material of the filing is missing: see whether this step needs it
                claimed = _claim(
                    conn,
                    step_id,
                    now=now,
                    lease_until=lease_until,
                    worker=taker,
                    redelivered=False,
                    events=events,
                    known=known,
                    ready_first=False,
                )
            if claimed is not None:
                taken.append(claimed)
    _append(conn, events)
    return taken


def _start_ready(
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


@dataclass(frozen=True)
class _Done:
    name: str
    result: dict[str, Any]  # as stored: documents set aside
    ready: list[int]


def _succeed(
    conn: Connection,
    step_id: int,
    result: dict[str, Any],
    *,
    now: datetime,
    lease_until: datetime,
    actor: str,
    events: list[dict[str, Any]],
) -> _Done | None:
    result, issued = documents.set_aside(result)  # a licence PDF goes to `document`
    done = conn.execute(_SUCCEED, {"step_id": step_id, "result": result, "now": now}).one_or_none()
    if done is None:
        return None  # a duplicate message or a late reply: the first outcome stands
    filing_id, name = done.filing_id, done.name
    documents.store(conn, filing_id, name, issued, now=now)
    events.append(
        event_row(filing_id, "done", at=now, actor=actor, step=name, result=in_brief(result))
    )
    filing_changes: dict[str, Any] = {}
    if name == "registration" and isinstance(result.get("credit_code"), str):
        filing_changes["credit_code"] = result["credit_code"]
    if name == FINAL_STEP:
        filing_changes.update(status=FilingStatus.COMPLETE, completed_at=now)
        events.append(event_row(filing_id, "complete", at=now, step=None))
    promoted = _join_successors(conn, filing_id, name, lease_until=lease_until)
    for _, ready in promoted:
        events.append(event_row(filing_id, "ready", at=now, step=ready))
        if ready == FINAL_STEP:
            filing_changes.update(status=FilingStatus.READY, ready_at=now)
            events.append(event_row(filing_id, "filing_ready", at=now, step=None))
    if filing_changes:
        changes = {f"new_{column}": value for column, value in filing_changes.items()}
        conn.execute(_change_filing(*filing_changes), {"filing_id": filing_id, **changes})
    return _Done(name, result, [step_id for step_id, _ in promoted])


@cache
def _change_filing(*columns: str) -> Update:
    # Built once per set of columns, like the step's statements (a credit code, the ready
    # or complete status and instant).
    return (
        update(_FILING)
        .where(_FILING.c.id == bindparam("filing_id"))
        .values(
            {column: bindparam(f"new_{column}", type_=_FILING.c[column].type) for column in columns}
        )
    )


def _join_successors(
    conn: Connection, filing_id: int, name: str, *, lease_until: datetime
) -> list[tuple[int, str]]:
    names = successors(name)
    if not names:
        return []
    # One conditional update per join. The row lock it takes serialises the predecessors
    # of a join: each sees the count the previous one left (PostgreSQL re-reads a row that
    # was updated meanwhile; SQLite runs one writer at a time), so exactly one of them sees
    # it reach zero. SET expressions read the row's values from before the update.
    rows = conn.execute(_join_of(names), {"of_filing": filing_id, "lease": lease_until})
    return sorted(
        (row.id, row.name)
        for row in rows
        if row.pending_needs == 0 and row.status == StepStatus.READY
    )


@cache
def _join_of(names: tuple[str, ...]) -> Update:
    promote = and_(_STEP.c.pending_needs == 1, _STEP.c.status == StepStatus.WAITING)
    return (
        update(_STEP)
        .where(
            _STEP.c.filing_id == bindparam("of_filing"),
            _STEP.c.name.in_([literal_column(f"'{name}'") for name in names]),
        )
        .values(
            pending_needs=_STEP.c.pending_needs - 1,
            status=case((promote, StepStatus.READY), else_=_STEP.c.status),
            next_check_at=case((promote, bindparam("lease")), else_=_STEP.c.next_check_at),
        )
        .returning(_STEP.c.id, _STEP.c.name, _STEP.c.status, _STEP.c.pending_needs)
    )


def postpone(
    conn: Connection,
    step_id: int,
    *,
    now: datetime,
    next_check_at: datetime | None,
    submitted: bool,
    error: str | None = None,
) -> bool:
    """The agency has the request (`submitted`) or failed transiently: look again later."""
    row = conn.execute(
        select(_STEP.c.status, _STEP.c.filing_id, _STEP.c.name, _STEP.c.attempts)
        .where(_STEP.c.id == step_id)
        .with_for_update()
    ).one_or_none()
    if row is None or row.status not in _AT_AGENCY:
        return False
    status, events = row.status, []
    if submitted and status != StepStatus.SUBMITTED:
        status = StepStatus.SUBMITTED
        events.append(event_row(row.filing_id, "submitted", at=now, step=row.name))
    changes: dict[str, Any] = {"next_check_at": next_check_at}
    if error is not None:
        changes["last_error"] = error
        if status == StepStatus.RUNNING:
            status = StepStatus.READY
        events.append(
            event_row(
                row.filing_id,
                "retry_scheduled",
                at=now,
                step=row.name,
                attempt=row.attempts,
                error=error,
                next_check_at=next_check_at.isoformat() if next_check_at else None,
            )
        )
    conn.execute(update(_STEP).where(_STEP.c.id == step_id).values(status=status, **changes))
    _append(conn, events)
    return True


def reject(conn: Connection, step_id: int, *, now: datetime, code: str, message: str) -> bool:
    """The agency refused on the merits: the step stops and branch staff must act."""
    row = _finish(
        conn,
        step_id,
        _AT_AGENCY,
        status=StepStatus.REJECTED,
        reason=message,
        finished_at=now,
        next_check_at=None,
    )
    if row is None:
        return False
    conn.execute(
        update(_FILING)
        .where(_FILING.c.id == row.filing_id)
        .values(status=FilingStatus.ACTION_REQUIRED)
    )
    _append(
        conn,
        [event_row(row.filing_id, "rejected", at=now, step=row.name, code=code, message=message)],
    )
    return True


def block(
    conn: Connection, step_id: int, *, now: datetime, reason: str, materials: list[str]
) -> bool:
    """The agency needs materials: they become 容缺 items of the filing, blocking this step."""
    row = _finish(
        conn, step_id, _AT_AGENCY, status=StepStatus.BLOCKED, reason=reason, next_check_at=None
    )
    if row is None:
        return False
    rows = conn.execute(
        select(_MATERIAL.c.code, _MATERIAL.c.blocks).where(
            _MATERIAL.c.filing_id == row.filing_id, _MATERIAL.c.code.in_(materials)
        )
    )
    held: dict[str, list[str]] = {code: blocks for code, blocks in rows}
    for code in dict.fromkeys(materials):
        blocks = sorted({*held.get(code, []), row.name})
        if code in held:
            conn.execute(
                update(_MATERIAL)
                .where(_MATERIAL.c.filing_id == row.filing_id, _MATERIAL.c.code == code)
                .values(status=MaterialStatus.MISSING, blocks=blocks)
            )
        else:
            conn.execute(
                insert(_MATERIAL).values(
                    filing_id=row.filing_id,
                    code=code,
                    status=MaterialStatus.MISSING,
                    blocks=blocks,
                )
            )
    _append(conn, [event_row(row.filing_id, "blocked", at=now, step=row.name, materials=materials)])
    return True


def await_handover(conn: Connection, step_id: int, *, now: datetime) -> bool:
    """Branch pickup: the step waits at the counter for staff to hand licence and seals over."""
    # Nothing for the sweeper to do (no next check): a person acts next.
    row = _finish(
        conn, step_id, (StepStatus.RUNNING,), status=StepStatus.AT_BRANCH, next_check_at=None
    )
    if row is None:
        return False
    _append(conn, [event_row(row.filing_id, "at_branch", at=now, step=row.name)])
    return True
