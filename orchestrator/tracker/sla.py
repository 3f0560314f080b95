"""The SLA state of every filing, at every moment: on track, at risk, breached, met, missed.

A filing is at risk when its predicted ready time (`predictions.forecast`) passes its
committed deadline, breached once the deadline has passed and it is not ready, and met or
missed once it is ready. The deadline is `deadline_at` — the working time waited for the
applicant's 容缺 materials already credited at each unblock (`filings.blocked_time`) —
plus, while a step is still blocked, the working time accrued since: a filing waiting for
its applicant is never breached for it.

The beat job (`evaluate_open`) re-evaluates the filings whose state is open (their index:
cost grows with the open filings, not the history), persists state and prediction on the
filing row, records each prediction that moved, and records an event `sla_<state>` once per
change, in the transaction that changes the row: what an escalation hooks on to (the
changes are returned too). The pages judge one filing live (`assess`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, select, update
from sqlalchemy.orm import Session

from orchestrator.calendar import WorkingCalendar
from orchestrator.filings.blocked_time import blocked_since, uncounted
from orchestrator.filings.history import append, event_row
from orchestrator.filings.models import EVENT_TABLE as _EVENT
from orchestrator.filings.models import FILING_TABLE as _FILING
from orchestrator.filings.models import OPEN_SLA_STATES, FilingStatus, SlaState, StepStatus
from orchestrator.filings.models import STEP_TABLE as _STEP
from orchestrator.tracker.escalation import escalate
from orchestrator.tracker.models import Prediction
from orchestrator.tracker.predictions import (
    Durations,
    Forecast,
    StepState,
    absorb_done_steps,
    expected_durations,
    forecast,
)

TRACKER = "tracker"  # the actor of the events it records
EVENT_PREFIX = "sla_"
# Back from at risk only with this much working time to spare: a prediction hovering at the
# deadline must not flip the state (and notify somebody) on every run.
HYSTERESIS = timedelta(minutes=10)
# A prediction is recorded again when it moved at least this much working time.
RECORD_MOVE = timedelta(minutes=10)


def event_kind(state: SlaState) -> str:
    """The event recorded when a filing enters `state`: `sla_at_risk`, `sla_breached`…"""
    return f"{EVENT_PREFIX}{state.value}"


def judge(
    *,
    status: FilingStatus,
    ready_at: datetime | None,
    deadline: datetime,
    predicted_ready: datetime,
    now: datetime,
    calendar: WorkingCalendar,
    previous: SlaState | None = None,
) -> SlaState | None:
    """The SLA state of a filing with the (effective) `deadline`; None once cancelled."""
    if ready_at is not None:
        return SlaState.MET if ready_at <= deadline else SlaState.MISSED
    if status == FilingStatus.CANCELLED:
        return None
    if now > deadline:
        return SlaState.BREACHED
    if predicted_ready > deadline:
        return SlaState.AT_RISK
    if previous == SlaState.AT_RISK and calendar.elapsed(predicted_ready, deadline) < HYSTERESIS:
        return SlaState.AT_RISK
    return SlaState.ON_TRACK


@dataclass(frozen=True)
class Assessment:
    """A filing judged: its state, the deadline it was judged against, the forecast."""

    state: SlaState | None
    deadline: datetime  # the committed deadline with the blocked time credited so far
    blocked_accrued: timedelta  # working time blocked now, not credited yet
    forecast: Forecast


@dataclass(frozen=True)
class Change:
    """A filing whose SLA state changed (what an escalation acts on)."""

    filing_id: int
    tracking_code: str
    district_code: str
    branch_id: int
    state_from: SlaState | None
    state_to: SlaState | None
    deadline_at: datetime
    predicted_ready_at: datetime
    at: datetime


def assess_row(
    filing: Row[Any] | Any,
    steps: Sequence[StepState],
    blocked_starts: Mapping[str, datetime],
    durations: Durations,
    *,
    now: datetime,
    calendar: WorkingCalendar,
) -> Assessment:
    """Judge one filing (a row or object with the filing's columns) from its steps."""
    by_name = {step.name: step for step in steps}
    starts = [
        at for name, at in blocked_starts.items() if by_name[name].status == StepStatus.BLOCKED
    ]
    _, accrued = uncounted(calendar, starts, filing.blocked_counted_until, now)
    deadline = calendar.add(filing.deadline_at, accrued) if accrued else filing.deadline_at
    predicted = forecast(
        filing.graph, by_name, durations, now=now, calendar=calendar, ready_at=filing.ready_at
    )
    state = judge(
        status=FilingStatus(filing.status),
        ready_at=filing.ready_at,
        deadline=deadline,
        predicted_ready=predicted.ready_at,
        now=now,
        calendar=calendar,
        previous=SlaState(filing.sla_state) if filing.sla_state else None,
    )
    return Assessment(state=state, deadline=deadline, blocked_accrued=accrued, forecast=predicted)


def assess(
    session: Session, filing: Any, *, now: datetime, calendar: WorkingCalendar
) -> Assessment:
    """Judge one filing (an ORM `Filing` with its steps) as of `now`: for the pages."""
    steps = [StepState(s.name, s.status, s.started_at, s.finished_at) for s in filing.steps]
    blocked = [s.name for s in steps if s.status == StepStatus.BLOCKED]
    starts = blocked_since(session.connection(), filing.id, blocked)
    durations = expected_durations(session, calendar)(filing.district_code)
    return assess_row(filing, steps, starts, durations, now=now, calendar=calendar)


# The beat job -----------------------------------------------------------------------------

_COLUMNS = (
    _FILING.c.id,
    _FILING.c.tracking_code,
    _FILING.c.district_code,
    _FILING.c.branch_id,
    _FILING.c.status,
    _FILING.c.graph,
    _FILING.c.deadline_at,
    _FILING.c.ready_at,
    _FILING.c.sla_state,
    _FILING.c.blocked_counted_until,
    _FILING.c.predicted_ready_at,
)


def evaluate_open(
    session: Session,
    *,
    calendar: WorkingCalendar,
    now: datetime,
    batch: int = 500,
    on_change: Callable[[Change], None] | None = None,
    durations: Callable[[str], Durations] | None = None,
) -> list[Change]:
    """Absorb the steps done since the last run, then judge every filing whose SLA state is
    open, in one transaction (tests, a replay's last pass; the beat job commits each batch,
    `evaluate_batch`). Returns the changes (and hands each to `on_change`). `durations`
    replaces the expected durations by district (tests).
    """
    absorb_done_steps(session, calendar=calendar, now=now)
    by_district = durations or expected_durations(session, calendar)
    changes: list[Change] = []
    after: int | None = 0
    while after is not None:
        found, after = evaluate_batch(
            session, after, calendar=calendar, now=now, batch=batch, durations=by_district
        )
        changes += found
        if on_change is not None:
            for change in found:
                on_change(change)
    return changes


def evaluate_batch(
    session: Session,
    after: int,
    *,
    calendar: WorkingCalendar,
    now: datetime,
    durations: Callable[[str], Durations],
    batch: int = 500,
) -> tuple[list[Change], int | None]:
    """Judge up to `batch` filings with an open SLA state and an id above `after`; persist
    each state, prediction and change, and escalate the changes for the worse
    (`escalation`). Returns the changes and the last id judged (None when
    there were none left). Rows another transaction holds are skipped: the next run takes
    them. The rows stay locked until the caller commits: a batch is one transaction, so
    that a worker marking one of them ready waits for a batch, never for the whole pass.
    """
    conn = session.connection()
    filings = conn.execute(
        select(*_COLUMNS)
        .where(_FILING.c.sla_state.in_([s.value for s in OPEN_SLA_STATES]), _FILING.c.id > after)
        .order_by(_FILING.c.id)
        .limit(batch)
        .with_for_update(skip_locked=True, key_share=True)
    ).all()
    if not filings:
        return [], None
    steps, starts = _steps_and_blocks(conn, [f.id for f in filings])
    changes: list[Change] = []
    for filing in filings:
        judged = assess_row(
            filing,
            steps[filing.id],
            starts[filing.id],
            durations(filing.district_code),
            now=now,
            calendar=calendar,
        )
        change = _persist(conn, filing, judged, now=now, calendar=calendar)
        if change is not None:
            changes.append(change)
    escalate(session, changes, now=now)  # told in the transaction that records the change
    return changes, filings[-1].id


def _steps_and_blocks(
    conn: Connection, filing_ids: list[int]
) -> tuple[dict[int, list[StepState]], dict[int, dict[str, datetime]]]:
    """The steps of `filing_ids`, and when each blocked one was blocked (two queries)."""
    steps: dict[int, list[StepState]] = defaultdict(list)
    blocked: dict[int, list[str]] = defaultdict(list)
    rows = conn.execute(
        select(
            _STEP.c.filing_id, _STEP.c.name, _STEP.c.status, _STEP.c.started_at, _STEP.c.finished_at
        ).where(_STEP.c.filing_id.in_(filing_ids))
    )
    for filing_id, name, status, started_at, finished_at in rows:
        steps[filing_id].append(StepState(name, StepStatus(status), started_at, finished_at))
        if status == StepStatus.BLOCKED:
            blocked[filing_id].append(name)
    starts: dict[int, dict[str, datetime]] = defaultdict(dict)
    if blocked:
        blocks = conn.execute(
            select(_EVENT.c.filing_id, _EVENT.c.step, _EVENT.c.at)
            .where(_EVENT.c.filing_id.in_(list(blocked)), _EVENT.c.kind == "blocked")
            .order_by(_EVENT.c.id)
        )
        for filing_id, step, at in blocks:
            if step in blocked[filing_id]:
                starts[filing_id][step] = at  # the latest block of the step wins
    return steps, starts


def _persist(
    conn: Connection, filing: Any, judged: Assessment, *, now: datetime,
    calendar: WorkingCalendar,
) -> Change | None:  # fmt: skip
    previous = SlaState(filing.sla_state) if filing.sla_state else None
    predicted = judged.forecast
    changes: dict[str, Any] = {}
    if judged.state != previous:
        changes["sla_state"] = judged.state
    settled = judged.state not in OPEN_SLA_STATES
    # A prediction that moved less than `RECORD_MOVE` is neither stored nor recorded: the
    # row is written (and a prediction kept) when there is news, not on every run.
    if not settled and (
        "sla_state" in changes or _moved(calendar, filing.predicted_ready_at, predicted.ready_at)
    ):
        changes.update(
            predicted_ready_at=predicted.ready_at, predicted_complete_at=predicted.complete_at
        )
        conn.execute(
            Prediction.__table__.insert().values(  # type: ignore[attr-defined]
                filing_id=filing.id,
                made_at=now,
                ready_at=predicted.ready_at,
                complete_at=predicted.complete_at,
                deadline_at=judged.deadline,
                sla_state=(judged.state or SlaState.ON_TRACK).value,
            )
        )
    if changes:
        conn.execute(update(_FILING).where(_FILING.c.id == filing.id).values(**changes))
    if "sla_state" not in changes:
        return None
    if judged.state is not None:
        lead = calendar.elapsed(now, judged.deadline)
        append(conn, [event_row(
            filing.id, event_kind(judged.state), at=now, step=None, actor=TRACKER,
            state_from=previous.value if previous else None,
            deadline_at=judged.deadline.isoformat(),
            predicted_ready_at=predicted.ready_at.isoformat(),
            working_hours_to_deadline=round(lead.total_seconds() / 3600, 2),
            blocked_working_hours=round(judged.blocked_accrued.total_seconds() / 3600, 2),
        )])  # fmt: skip
    return Change(
        filing_id=filing.id,
        tracking_code=filing.tracking_code,
        district_code=filing.district_code,
        branch_id=filing.branch_id,
        state_from=previous,
        state_to=judged.state,
        deadline_at=judged.deadline,
        predicted_ready_at=predicted.ready_at,
        at=now,
    )


def _moved(calendar: WorkingCalendar, before: datetime | None, after: datetime) -> bool:
    if before is None:
        return True
    early, late = sorted((before, after))
    return calendar.elapsed(early, late) >= RECORD_MOVE
