"""The promise under threat now: open filings at risk of missing their committed deadline
and those past it, each with its cause — the step (and its agency) that has consumed the
time — counted by cause and listed, most late first.

The state is the tracker's (`tracker.sla`, kept on the filing row and indexed with the
district): this figure counts the open filings in those two states, and their causes, in
SQL, and reads only the most late of them: never the history.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import Subquery, case, func, select
from sqlalchemy.orm import Session

from orchestrator.calendar import WorkingCalendar
from orchestrator.filings.models import Filing, SlaState, Step, StepStatus
from orchestrator.identity.models import Branch
from orchestrator.supervision.figures import (
    CsvTable,
    Filters,
    Period,
    Table,
    agency_of,
    filings_where,
    step_labels,
)

# The filings listed by name; the counts cover them all.
LISTED = 50
THREATENED = (SlaState.AT_RISK, SlaState.BREACHED)
# A step that has ended no longer holds the filing back.
_ENDED = (StepStatus.DONE, StepStatus.CANCELLED)


class Cause(BaseModel):
    """The step holding a filing back: the unfinished one that has run longest."""

    step: str
    agency: str
    label_zh: str
    label_en: str
    status: str = Field(description="The step's status now (blocked: waiting for a material)")
    working_hours: float = Field(description="Working hours the step has run so far")


class ThreatenedFiling(BaseModel):
    """One open filing at risk or past its deadline."""

    tracking_code: str
    company_name: str
    branch_id: int
    branch_name: str
    sla_state: SlaState
    deadline_at: datetime
    predicted_ready_at: datetime | None
    cause: Cause | None = Field(description="Null while no step has started")


class CauseCount(BaseModel):
    """How many threatened filings one step (at its agency) holds back."""

    step: str
    agency: str
    label_zh: str
    label_en: str
    at_risk: int
    breached: int


class AtRisk(Table):
    """Open filings at risk and breached now, by cause, and the most late of them (the
    period is not used: this is the state at `as_of`)."""

    period: Period
    as_of: datetime
    at_risk: int
    breached: int
    by_cause: list[CauseCount]
    filings: list[ThreatenedFiling] = Field(
        description=f"Breached first, then at risk; by deadline; at most {LISTED}"
    )

    def csv(self) -> CsvTable:
        """The listed filings as a table."""
        header = [
            "tracking_code",
            "company_name",
            "branch",
            "sla_state",
            "deadline_at",
            "predicted_ready_at",
            "step",
            "agency",
            "step_working_hours",
        ]
        rows = [
            [
                f.tracking_code,
                f.company_name,
                f.branch_name,
                f.sla_state.value,
                f.deadline_at.isoformat(),
                f.predicted_ready_at.isoformat() if f.predicted_ready_at else "",
                f.cause.step if f.cause else "",
                f.cause.agency if f.cause else "",
                f.cause.working_hours if f.cause else "",
            ]
            for f in self.filings
        ]
        return header, rows


def at_risk(
    session: Session, filters: Filters, *, now: datetime, calendar: WorkingCalendar
) -> AtRisk:
    """The filings of `filters`' district (or branch) at risk or breached at `now`.

    Counted in SQL (by state, and by the step holding each back): a district may have
    thousands of them; only the `LISTED` most late are read, with their causes' times."""
    where = [Filing.sla_state.in_(THREATENED), *filings_where(filters)]
    threatened = select(Filing.id, Filing.sla_state).where(*where).subquery()
    states: Counter[SlaState] = Counter()
    for state, count in session.execute(
        select(threatened.c.sla_state, func.count()).group_by(threatened.c.sla_state)
    ):
        states[SlaState(state)] = int(count)
    most_late = (
        select(Filing, Branch.name)
        .join(Branch, Branch.id == Filing.branch_id)
        .where(*where)
        .order_by(case((Filing.sla_state == SlaState.BREACHED, 0), else_=1), Filing.deadline_at)
        .limit(LISTED)
    )
    rows = session.execute(most_late).all()
    causes = _causes(session, [filing.id for filing, _ in rows], now=now, calendar=calendar)
    listed = [
        ThreatenedFiling(
            tracking_code=filing.tracking_code,
            company_name=filing.company_name,
            branch_id=filing.branch_id,
            branch_name=branch_name,
            sla_state=filing.sla_state,
            deadline_at=filing.deadline_at,
            predicted_ready_at=filing.predicted_ready_at,
            cause=causes.get(filing.id),
        )
        for filing, branch_name in rows
    ]
    return AtRisk(
        period=Period.of(filters),
        as_of=now,
        at_risk=states[SlaState.AT_RISK],
        breached=states[SlaState.BREACHED],
        by_cause=_by_cause(session, threatened),
        filings=listed,
    )


def _causes(
    session: Session, filing_ids: list[int], *, now: datetime, calendar: WorkingCalendar
) -> dict[int, Cause]:
    """Each filing's unfinished step that started first (hence has run longest)."""
    if not filing_ids:
        return {}
    query = (
        select(Step.filing_id, Step.name, Step.status, Step.started_at)
        .where(
            Step.filing_id.in_(filing_ids),
            Step.status.not_in(_ENDED),
            Step.started_at.is_not(None),
        )
        .order_by(Step.filing_id, Step.started_at, Step.position)
    )
    causes: dict[int, Cause] = {}
    for filing_id, name, status, started_at in session.execute(query):
        if filing_id in causes or started_at is None:  # None: excluded by the query
            continue
        label_zh, label_en = step_labels(name)
        causes[filing_id] = Cause(
            step=name,
            agency=agency_of(name),
            label_zh=label_zh,
            label_en=label_en,
            status=StepStatus(status).value,
            working_hours=round(calendar.elapsed(started_at, now).total_seconds() / 3600, 2),
        )
    return causes


def _by_cause(session: Session, threatened: Subquery) -> list[CauseCount]:
    """The threatened filings counted by the step that holds each back (its unfinished step
    that started first), most first."""
    first_started = func.row_number().over(
        partition_by=Step.filing_id, order_by=(Step.started_at, Step.position)
    )
    ranked = (
        select(Step.filing_id, Step.name, first_started.label("rank"))
        .join(threatened, threatened.c.id == Step.filing_id)
        .where(Step.status.not_in(_ENDED), Step.started_at.is_not(None))
        .subquery()
    )
    query = (
        select(ranked.c.name, threatened.c.sla_state, func.count())
        .join(threatened, threatened.c.id == ranked.c.filing_id)
        .where(ranked.c.rank == 1)
        .group_by(ranked.c.name, threatened.c.sla_state)
    )
    counts: dict[str, Counter[SlaState]] = defaultdict(Counter)
    for name, state, count in session.execute(query):
        counts[name][SlaState(state)] += int(count)
    rows = [
        CauseCount(
            step=name,
            agency=agency_of(name),
            label_zh=step_labels(name)[0],
            label_en=step_labels(name)[1],
            at_risk=states[SlaState.AT_RISK],
            breached=states[SlaState.BREACHED],
        )
        for name, states in counts.items()
    ]
    return sorted(rows, key=lambda r: (-(r.at_risk + r.breached), r.step))
