"""The SLA state and the completion estimate as the portal and the tracking page show them.

The queue shows what the tracker's beat job last stored on each filing (no work per row);
a filing's own page judges it live (`tracker.sla.assess`), so that what a clerk or an
entrepreneur reads is as of now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bank_portal.i18n import N_
from orchestrator.calendar import WorkingCalendar
from orchestrator.filings.models import Filing, SlaState, StepStatus
from orchestrator.tracker.sla import assess

SLA_STATE = {
    SlaState.ON_TRACK.value: N_("On track"),
    SlaState.AT_RISK.value: N_("At risk"),
    SlaState.BREACHED.value: N_("Past the deadline"),
    SlaState.MET.value: N_("Ready in time"),
    SlaState.MISSED.value: N_("Ready late"),
}


@dataclass(frozen=True)
class SlaView:
    """What a page shows of a filing's SLA."""

    state: str | None  # a key of SLA_STATE; None for a cancelled filing
    predicted_ready_at: datetime | None  # None once ready (or before the first estimate)
    predicted_complete_at: datetime | None
    extended_hours: float  # working hours credited to the deadline for the applicant's wait
    waiting_for_applicant: bool  # a step waits for a 容缺 material: the deadline is paused


def _open(state: SlaState | None) -> bool:
    return state in (SlaState.ON_TRACK, SlaState.AT_RISK, SlaState.BREACHED)


def stored(filing: Filing) -> SlaView:
    """As the beat job last judged it (the queue's rows)."""
    state = filing.sla_state
    estimate = _open(state) and filing.ready_at is None
    return SlaView(
        state=state.value if state else None,
        predicted_ready_at=filing.predicted_ready_at if estimate else None,
        predicted_complete_at=filing.predicted_complete_at if filing.completed_at is None else None,
        extended_hours=round(filing.blocked_seconds / 3600, 1),
        waiting_for_applicant=False,
    )


def live(session: Session, filing: Filing, *, now: datetime, calendar: WorkingCalendar) -> SlaView:
    """Judged now, from the filing's steps (a filing's own page)."""
    judged = assess(session, filing, now=now, calendar=calendar)
    ready = filing.ready_at is not None
    return SlaView(
        state=judged.state.value if judged.state else None,
        predicted_ready_at=None if ready or judged.state is None else judged.forecast.ready_at,
        predicted_complete_at=(
            None if filing.completed_at or judged.state is None else judged.forecast.complete_at
        ),
        extended_hours=round(filing.blocked_seconds / 3600, 1),
        waiting_for_applicant=any(step.status == StepStatus.BLOCKED for step in filing.steps),
    )


def context(view: SlaView) -> dict[str, Any]:
    """The template variables of `templates/shared/sla.html`."""
    return {"sla": view, "sla_state": SLA_STATE}
