"""Every status change of a step or a filing, each with its event, in the caller's transaction.

The changes allowed are the table in `lifecycle.py`; every change here passes it. Callers
hold no transaction while they talk to an agency: they `claim` a step (one short
transaction, `claims.py`), call the agency, then record the outcome here (another). The
sweeper, branch staff (cancel, supplement, hand-over, resubmit) and the entrepreneur
(withdraw) change statuses here too. Every change is a conditional update of the step row
(or a read under its lock), so a duplicate message, a swept step or a late reply finds the
step in another state and changes nothing twice. A change the applicant hears of (ready,
shipped) writes its texts to the outbox in the same transaction (`notifications.notices`).

Every transaction takes a filing's rows in one order, so that none waits on another that
waits on it: steps first, in position order (a topological order, so a worker holding a
step and then taking its successors keeps it too), then the filing row. A worker holds one
step and then changes the filing (its credit code, its status); branch staff and the
entrepreneur lock every step of the filing before its row (`service.get_filing`). The
filing is locked FOR NO KEY UPDATE: the foreign-key check of each event or material a
worker inserts takes a key-share lock on it, which FOR UPDATE would make wait. A district's
subsidy month (`subsidies.ledger`) comes after the filing: completion settles and
cancellation releases last.

Changes run as Core statements on the caller's `Connection`: workers go through two of
them per step, and the ORM's identity map and unit of work cost a worker more CPU than the
rest of a step together. A caller holding a `Session` passes `session.connection()`, after
a flush, and reloads what it shows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Update,
    bindparam,
    insert,
    literal_column,
    select,
    update,
)

from orchestrator.calendar import WorkingCalendar
from orchestrator.filings import blocked_time, documents
from orchestrator.filings.claims import GRAPH, claim_into, start_ready, started_work
from orchestrator.filings.claims import StepWork as StepWork
from orchestrator.filings.claims import claim as claim
from orchestrator.filings.claims import idempotency_key as idempotency_key
from orchestrator.filings.history import WORKER, append, event_row, in_brief
from orchestrator.filings.joins import join_next
from orchestrator.filings.lifecycle import FILING, STEP, IllegalTransition
from orchestrator.filings.models import FILING_TABLE as _FILING
from orchestrator.filings.models import MATERIAL_TABLE as _MATERIAL
from orchestrator.filings.models import STEP_TABLE as _STEP
from orchestrator.filings.models import (
    FilingStatus,
    MaterialStatus,
    StepStatus,
)
from orchestrator.notifications import notices
from orchestrator.notifications.notices import FilingFacts, FilingNotice
from orchestrator.subsidies import ledger
from orchestrator.workflow import CREDIT_CODE, HANDOVER_STEP, by_name

_STEP_ID = _STEP.c.id == bindparam("step_id")

# Where an agency's reply may land: it will answer later, failed transiently, needs a
# material, or refused (the table lets a block land on a ready step too, from a claim).
_AT_AGENCY = (StepStatus.RUNNING, StepStatus.SUBMITTED)


def _status_in(column: Any, statuses: Iterable[StepStatus | FilingStatus]) -> ColumnElement[bool]:
    # Inline: an expanding IN list would be re-rendered on every execution.
    return cast(ColumnElement[bool], column.in_([literal_column(f"'{s.value}'") for s in statuses]))


def _move_step(
    conn: Connection,
    step_id: int,
    event: str,
    *,
    only: tuple[StepStatus, ...] | None = None,
    **changes: Any,
) -> Row[Any] | None:
    """Make `event`'s change to the step if it is in a status the table lets `event` take
    (`only` those of them); its filing id and name if so."""
    return conn.execute(
        update(_STEP)
        .where(_STEP.c.id == step_id, _status_in(_STEP.c.status, STEP.sources(event, only=only)))
        .values(status=STEP.target(event), **changes)
        .returning(_STEP.c.filing_id, _STEP.c.name)
    ).one_or_none()


def _change_filing_status(conn: Connection, filing_id: int, event: str) -> None:
    """Make `event`'s change to the filing; IllegalTransition if the table forbids it."""
    source = conn.execute(
        select(_FILING.c.status).where(_FILING.c.id == filing_id).with_for_update(key_share=True)
    ).scalar_one()
    target = FILING.move(event, FilingStatus(source))
    conn.execute(update(_FILING).where(_FILING.c.id == filing_id).values(status=target))


_SUCCEED = (
    update(_STEP)
    .where(_STEP_ID, _status_in(_STEP.c.status, STEP.sources("done")))
    .values(
        status=STEP.target("done"),
        result=bindparam("result", type_=_STEP.c.result.type),
        finished_at=bindparam("now", type_=_STEP.c.finished_at.type),
        next_check_at=None,
        last_error=None,
    )
    .returning(
        _STEP.c.filing_id,
        _STEP.c.name,
        # The filing's graph, whose successors of the step the join promotes.
        select(GRAPH).where(_FILING.c.id == _STEP.c.filing_id).scalar_subquery(),
    )
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
    append(conn, events)
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
        started = start_ready(conn, done.ready, now=now, lease_until=lease_until)
        for step_id in done.ready:
            taker = worker if not taken else None
            if step_id in started:
                attempt, name = started[step_id]
                of_filing = (work.filing_id, work.tracking_code, work.payload, work.graph)
                claimed: StepWork | None = started_work(
                    conn, step_id, name, attempt, of_filing, now, taker, events, known
                )
            else:  # a material of the filing is missing: see whether this step needs it
                claimed = claim_into(
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
    append(conn, events)
    return taken


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
    filing_id, name, graph = done
    documents.store(conn, filing_id, name, issued, now=now)
    events.append(
        event_row(filing_id, "done", at=now, actor=actor, step=name, result=in_brief(result))
    )
    filing_changes: dict[str, Any] = {}
    filing_event: str | None = None  # the filing's status change, if any
    if CREDIT_CODE in by_name()[name].gives and isinstance(result.get("credit_code"), str):
        filing_changes["credit_code"] = result["credit_code"]
    if name == HANDOVER_STEP:
        filing_event = "complete"
        filing_changes.update(status=FILING.target(filing_event), completed_at=now)
    promoted = join_next(conn, filing_id, name, graph, now=now, lease_until=lease_until,
                          events=events)  # fmt: skip
    if any(ready == HANDOVER_STEP for _, ready in promoted):
        filing_event = "filing_ready"
        filing_changes.update(status=FILING.target(filing_event), ready_at=now)
    if filing_event is not None:
        events.append(event_row(filing_id, filing_event, at=now, step=None))
    if filing_changes:
        changes = {f"new_{column}": value for column, value in filing_changes.items()}
        statement = _change_filing(filing_event, *filing_changes)
        changed = conn.execute(statement, {"filing_id": filing_id, **changes})
        if changed.rowcount != 1:  # the filing was in no status the table lets the event leave
            raise IllegalTransition(f"filing {filing_id} {filing_event}: not from its status")
    if name == HANDOVER_STEP:  # completed: the district owes the vendors its free items
        ledger.settle(conn, filing_id, now=now, actor=actor)
    if filing_event == "filing_ready":
        _announce(conn, filing_id, "filing_ready", now=now, send_by=lease_until)
    if name == HANDOVER_STEP and isinstance(waybill := result.get("waybill"), str):
        _announce(conn, filing_id, "shipped", now=now, send_by=lease_until, waybill=waybill)
    return _Done(name, result, [step_id for step_id, _ in promoted])


_MOBILE = _FILING.c.payload[("legal_representative", "mobile")].as_string()


def _announce(
    conn: Connection,
    filing_id: int,
    event: FilingNotice,
    *,
    now: datetime,
    send_by: datetime,
    waybill: str | None = None,
) -> None:
    """Text the applicant what `event` calls for (`notifications.notices` decides), in this
    transaction's outbox."""
    row = conn.execute(
        select(
            _FILING.c.tracking_code, _FILING.c.company_name, _FILING.c.credit_code, _MOBILE
        ).where(_FILING.c.id == filing_id)
    ).one()
    facts = FilingFacts(
        filing_id=filing_id,
        tracking_code=row[0],
        company_name=row[1],
        credit_code=row[2],
        mobile=row[3],
        waybill=waybill,
    )
    notices.announce(conn, event, facts, now=now, send_by=send_by)


@cache
def _change_filing(event: str | None, *columns: str) -> Update:
    # Built once per event and set of columns, like the step's statements (a credit code,
    # the ready or complete status and instant), on the condition the table sets.
    statement = update(_FILING).where(_FILING.c.id == bindparam("filing_id"))
    if event is not None:
        statement = statement.where(_status_in(_FILING.c.status, FILING.sources(event)))
    return statement.values(
        {column: bindparam(f"new_{column}", type_=_FILING.c[column].type) for column in columns}
    )


def withdraw_blocked(
    conn: Connection,
    step_id: int,
    *,
    now: datetime,
    lease_until: datetime,
    calendar: WorkingCalendar,
    actor: str,
) -> list[int]:
    """Branch staff withdraw a step that waits for a material past due: it stops, and the
    steps waiting for it go on without it; the time it waited for the applicant is credited
    to the deadline, as at an unblock. Returns the ids of the steps made ready (to dispatch
    once committed); none if the step was not blocked (any more)."""
    row = _move_step(conn, step_id, "step_withdrawn", finished_at=now, next_check_at=None)
    if row is None:
        return []
    filing_id, name = row.filing_id, row.name
    still = [step.name for step in _steps_of(conn, filing_id) if step.status == StepStatus.BLOCKED]
    blocked_time.credit(conn, filing_id, blocked=[*still, name], unblocked=[name], now=now,
                        calendar=calendar, actor=actor)  # fmt: skip
    graph = conn.execute(select(GRAPH).where(_FILING.c.id == filing_id)).scalar_one()
    events = [event_row(filing_id, "step_withdrawn", at=now, step=name, actor=actor)]
    promoted = join_next(
        conn, filing_id, name, graph, now=now, lease_until=lease_until, events=events
    )
    if any(ready == HANDOVER_STEP for _, ready in promoted):
        _change_filing_status(conn, filing_id, "filing_ready")
        conn.execute(update(_FILING).where(_FILING.c.id == filing_id).values(ready_at=now))
        events.append(event_row(filing_id, "filing_ready", at=now, step=None, actor=actor))
        _announce(conn, filing_id, "filing_ready", now=now, send_by=lease_until)
    append(conn, events)
    return [step_id for step_id, _ in promoted]


def postpone(
    conn: Connection,
    step_id: int,
    *,
    now: datetime,
    next_check_at: datetime | None,
    submitted: bool,
    error: str | None = None,
    ticket: str = "",
) -> bool:
    """The agency has the request (`submitted`) or failed transiently: look again later.
    `ticket`, a reference the agency gave while at work (the courier's waybill), is kept in
    the step's "submitted" event, for the tracking page to show while the parcel travels."""
    row = conn.execute(
        select(_STEP.c.status, _STEP.c.filing_id, _STEP.c.name, _STEP.c.attempts)
        .where(_STEP.c.id == step_id)
        .with_for_update()
    ).one_or_none()
    if row is None or row.status not in _AT_AGENCY:
        return False
    status, events = row.status, []
    if submitted and status != StepStatus.SUBMITTED:
        status = STEP.move("submitted", status)
        pending = {"ticket": ticket} if ticket else {}
        events.append(event_row(row.filing_id, "submitted", at=now, step=row.name, **pending))
    changes: dict[str, Any] = {"next_check_at": next_check_at}
    if error is not None:
        changes["last_error"] = error
        status = STEP.move("retry_scheduled", status)
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
    append(conn, events)
    return True


def reject(
    conn: Connection,
    step_id: int,
    *,
    now: datetime,
    code: str,
    message: str,
    fields: Iterable[str] = (),
) -> bool:
    """The agency refused on the merits: the step stops and branch staff must act.

    `fields` are the fields of the filing the refusal concerns (what staff may correct):
    the step keeps the reason, its `rejected` event both (`corrections.py` reads them).
    """
    row = _move_step(conn, step_id, "rejected", reason=message, finished_at=now, next_check_at=None)
    if row is None:
        return False
    _change_filing_status(conn, row.filing_id, "action_required")
    rejected = event_row(
        row.filing_id,
        "rejected",
        at=now,
        step=row.name,
        code=code,
        message=message,
        fields=list(fields),
    )
    append(conn, [rejected, event_row(row.filing_id, "action_required", at=now, step=None)])
    return True


def block(
    conn: Connection, step_id: int, *, now: datetime, reason: str, materials: list[str]
) -> bool:
    """The agency needs materials: they become 容缺 items of the filing, blocking this step."""
    row = _move_step(conn, step_id, "blocked", only=_AT_AGENCY, reason=reason, next_check_at=None)
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
    append(conn, [event_row(row.filing_id, "blocked", at=now, step=row.name, materials=materials)])
    return True


def await_handover(conn: Connection, step_id: int, *, now: datetime) -> bool:
    """Branch pickup: the step waits at the counter for staff to hand licence and seals over."""
    # Nothing for the sweeper to do (no next check): a person acts next.
    row = _move_step(conn, step_id, "at_branch", next_check_at=None)
    if row is None:
        return False
    append(conn, [event_row(row.filing_id, "at_branch", at=now, step=row.name)])
    return True


def _steps_of(conn: Connection, filing_id: int) -> list[Row[Any]]:
    """The filing's steps under lock, in declaration order."""
    return list(
        conn.execute(
            select(_STEP.c.id, _STEP.c.name, _STEP.c.status)
            .where(_STEP.c.filing_id == filing_id)
            .order_by(_STEP.c.position)
            .with_for_update()
        )
    )


def cancel(conn: Connection, filing_id: int, *, now: datetime, actor: str, event: str) -> None:
    """Cancel the filing and every step not done: `event` is "cancelled" (by branch staff)
    or "withdrawn" (by the entrepreneur). A late reply to a cancelled step changes nothing."""
    steps = _steps_of(conn, filing_id)
    _change_filing_status(conn, filing_id, event)
    target = STEP.target("cancelled")
    events = [event_row(filing_id, event, at=now, step=None, actor=actor)]
    stopped = []
    for step in steps:
        if step.status not in (StepStatus.DONE, target):
            STEP.move("cancelled", step.status)
            stopped.append(step.id)
            events.append(event_row(filing_id, "cancelled", at=now, step=step.name, actor=actor))
    if stopped:
        conn.execute(
            update(_STEP).where(_STEP.c.id.in_(stopped)).values(status=target, next_check_at=None)
        )
    append(conn, events)
    ledger.release(conn, filing_id, now=now, actor=actor)


def unblock(
    conn: Connection,
    filing_id: int,
    *,
    now: datetime,
    lease_until: datetime,
    calendar: WorkingCalendar | None = None,
    actor: str = WORKER,
) -> list[int]:
    """Make ready every blocked step of the filing that no missing material blocks still;
    returns their ids (to dispatch once committed). With a `calendar`, the working time the
    filing waited for the applicant is credited to its deadline (`blocked_time.credit`)."""
    still_missing = {
        name
        for (blocks,) in conn.execute(
            select(_MATERIAL.c.blocks).where(
                _MATERIAL.c.filing_id == filing_id, _MATERIAL.c.status == MaterialStatus.MISSING
            )
        )
        for name in blocks
    }
    was_blocked = [step for step in _steps_of(conn, filing_id) if step.status == StepStatus.BLOCKED]
    blocked = [step for step in was_blocked if step.name not in still_missing]
    if calendar is not None:
        blocked_time.credit(
            conn,
            filing_id,
            blocked=[step.name for step in was_blocked],
            unblocked=[step.name for step in blocked],
            now=now,
            calendar=calendar,
            actor=actor,
        )
    return _make_ready(conn, filing_id, blocked, "unblocked", now=now, lease_until=lease_until)


def resubmit(
    conn: Connection, filing_id: int, *, now: datetime, lease_until: datetime, actor: str
) -> list[int]:
    """Branch staff corrected a filing that needs action: its rejected steps run again.

    Returns the ids of the steps made ready (to dispatch once committed). A rejected
    delivery was the last step: the filing is ready again as it goes back.
    """
    rejected = [step for step in _steps_of(conn, filing_id) if step.status == StepStatus.REJECTED]
    _change_filing_status(conn, filing_id, "resubmitted")
    events = [event_row(filing_id, "resubmitted", at=now, step=None, actor=actor)]
    if any(step.name == HANDOVER_STEP for step in rejected):
        _change_filing_status(conn, filing_id, "filing_ready")
        events.append(event_row(filing_id, "filing_ready", at=now, step=None, actor=actor))
    append(conn, events)
    return _make_ready(
        conn, filing_id, rejected, "resubmitted", now=now, lease_until=lease_until, actor=actor
    )


def _make_ready(
    conn: Connection,
    filing_id: int,
    steps: list[Row[Any]],
    event: str,
    *,
    now: datetime,
    lease_until: datetime,
    actor: str = WORKER,
) -> list[int]:
    """Take `steps` (read under lock) to ready by `event`, due by `lease_until`."""
    for step in steps:
        STEP.move(event, step.status)
    ids = [step.id for step in steps]
    if ids:
        conn.execute(
            update(_STEP)
            .where(_STEP.c.id.in_(ids))
            .values(
                status=STEP.target(event), reason=None, finished_at=None, next_check_at=lease_until
            )
        )
    append(
        conn, [event_row(filing_id, event, at=now, step=step.name, actor=actor) for step in steps]
    )
    return ids
