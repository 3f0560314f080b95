"""What a replay's SLA tracking came to: which filings were warned at risk, how long before
their deadline, whether they then missed it, and how far the completion estimates were off.

Read from the replay's database once every filing is finished, after one last SLA pass (the
filings that became ready since the beat job last looked are settled as met or missed).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.calendar import WorkingCalendar
from orchestrator.filings.models import Event, Filing, SlaState
from orchestrator.tracker.predictions import error_report
from orchestrator.tracker.sla import EVENT_PREFIX, evaluate_open, event_kind

AT_RISK, BREACHED = event_kind(SlaState.AT_RISK), event_kind(SlaState.BREACHED)
_LATE = (SlaState.MISSED.value, SlaState.BREACHED.value)


def _lead(hours: Sequence[float]) -> dict[str, float | int | None]:
    if not hours:
        return {"count": 0, "min": None, "median": None, "max": None}
    return {
        "count": len(hours),
        "min": round(min(hours), 2),
        "median": round(statistics.median(hours), 2),
        "max": round(max(hours), 2),
    }


def sla_figures(session: Session, calendar: WorkingCalendar, *, now: datetime) -> dict[str, Any]:
    """The SLA section of a replay's figures (`ReplayOutcome.sla`)."""
    evaluate_open(session, calendar=calendar, now=now)
    session.flush()
    filings = session.scalars(select(Filing).order_by(Filing.id)).all()
    warnings: dict[int, list[Event]] = defaultdict(list)
    for event in session.scalars(
        select(Event).where(Event.kind.startswith(EVENT_PREFIX)).order_by(Event.id)
    ):
        warnings[event.filing_id].append(event)
    rows: list[dict[str, Any]] = []
    for filing in filings:
        kinds = [e for e in warnings[filing.id] if e.kind in (AT_RISK, BREACHED)]
        first_risk = next((e for e in kinds if e.kind == AT_RISK), None)
        state = filing.sla_state.value if filing.sla_state else None
        rows.append(
            {
                "tracking_code": filing.tracking_code,
                "company_name": filing.company_name,
                "sla_state": state,
                "deadline_at": filing.deadline_at.isoformat(),
                "ready_at": filing.ready_at.isoformat() if filing.ready_at else None,
                "blocked_working_hours": round(filing.blocked_seconds / 3600, 2),
                "flagged_at_risk": first_risk is not None,
                "warned_at": first_risk.at.isoformat() if first_risk else None,
                "lead_working_hours": (
                    first_risk.detail.get("working_hours_to_deadline") if first_risk else None
                ),
                "breached": any(e.kind == BREACHED for e in kinds),
                "late": state in _LATE,
            }
        )
    return summary(rows, error_report(session, calendar))


def summary(rows: Sequence[dict[str, Any]], prediction_error: dict[str, Any]) -> dict[str, Any]:
    """The figures of per-filing rows (as `sla_figures` builds them) and the estimates' error."""
    flagged = [r for r in rows if r["flagged_at_risk"]]
    late = [r for r in rows if r["late"]]
    return {
        "states": {s.value: sum(1 for r in rows if r["sla_state"] == s.value) for s in SlaState},
        "at_risk_warnings": len(flagged),
        "flagged_then_missed": sum(1 for r in flagged if r["late"]),
        "flagged_then_met": sum(1 for r in flagged if r["sla_state"] == SlaState.MET.value),
        "missed_unwarned": sum(1 for r in late if not r["flagged_at_risk"]),
        "lead_working_hours": _lead([r["lead_working_hours"] for r in flagged]),
        "prediction_error": prediction_error,
        "flagged": flagged,
        "missed_unwarned_filings": [r["tracking_code"] for r in late if not r["flagged_at_risk"]],
    }
