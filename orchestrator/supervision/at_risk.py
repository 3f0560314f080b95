"""The promise under threat now: open filings at risk of missing their committed deadline
and those past it, each with its cause — the step (and its agency) that has consumed the
time — counted by cause and listed, most late first.

The state is the tracker's (`tracker.sla`, kept on the filing row and indexed with the
district): this figure reads the few open filings in those two states and their steps,
never the history, so it costs the same on a year of filings as on a day.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.calendar import WorkingCalendar
from orchestrator.filings.models import Filing, SlaState, Step, StepStatus
from orchestrator.identity.models import Branch
from orchestrator.supervision.figures import CsvTable, Filters, Period, Table, filings_where
from orchestrator.workflow import by_name

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
    """The filings of `filters`' district (or branch) at risk or breached at `now`."""
    query = (
        select(Filing, Branch.name)
        .join(Branch, Branch.id == Filing.branch_id)
        .where(Filing.sla_state.in_(THREATENED), *filings_where(filters))
    )
    rows = session.execute(query).all()
    causes = _causes(session, [filing.id for filing, _ in rows], now=now, calendar=calendar)
    threatened = [
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
    threatened.sort(key=lambda f: (f.sla_state != SlaState.BREACHED, f.deadline_at))
    states = Counter(f.sla_state for f in threatened)
    return AtRisk(
        period=Period.of(filters),
        as_of=now,
        at_risk=states[SlaState.AT_RISK],
        breached=states[SlaState.BREACHED],
        by_cause=_by_cause(threatened),
        filings=threatened[:LISTED],
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
    specs = by_name()
    causes: dict[int, Cause] = {}
    for filing_id, name, status, started_at in session.execute(query):
        if filing_id in causes or started_at is None:  # None: excluded by the query
            continue
        spec = specs.get(name)
        causes[filing_id] = Cause(
            step=name,
            agency=spec.agency if spec else name,
            label_zh=spec.label_zh if spec else name,
            label_en=spec.label_en if spec else name,
            status=StepStatus(status).value,
            working_hours=round(calendar.elapsed(started_at, now).total_seconds() / 3600, 2),
        )
    return causes


def _by_cause(threatened: list[ThreatenedFiling]) -> list[CauseCount]:
    """The threatened filings counted by the step that holds them back, most first."""
    counts: dict[tuple[str, ...], Counter[SlaState]] = defaultdict(Counter)
    for filing in threatened:
        if filing.cause is not None:
            cause = filing.cause
            key = (cause.step, cause.agency, cause.label_zh, cause.label_en)
            counts[key][filing.sla_state] += 1
    rows = [
        CauseCount(
            step=step,
            agency=agency,
            label_zh=zh,
            label_en=en,
            at_risk=states[SlaState.AT_RISK],
            breached=states[SlaState.BREACHED],
        )
        for (step, agency, zh, en), states in counts.items()
    ]
    return sorted(rows, key=lambda r: (-(r.at_risk + r.breached), r.step))
