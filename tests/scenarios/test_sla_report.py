"""A replay's SLA report: which filings were warned at risk, how long before their deadline,
whether they then missed it, and the estimates' error; as figures and as printed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rich.console import Console

from orchestrator.filings.models import SlaState
from orchestrator.runtime import Runtime
from orchestrator.tools.scenarios.run import _print_sla
from orchestrator.tools.scenarios.sla_report import sla_figures, summary
from tests.filings import wait_for
from tests.tracker.test_sla_beat import Undispatched, _evaluate

ERROR = {
    "filings": 3,
    "every_prediction": {"count": 9, "median_hours": 0.5, "p90_hours": 1.5},
    "first_prediction": {"count": 3, "median_hours": 0.7, "p90_hours": 1.2},
}


def _row(code: str, state: str, lead: float | None = None) -> dict[str, Any]:
    return {
        "tracking_code": code,
        "company_name": f"公司{code}",
        "sla_state": state,
        "flagged_at_risk": lead is not None,
        "lead_working_hours": lead,
        "late": state in ("missed", "breached"),
    }


def test_warnings_their_lead_and_what_came_of_them() -> None:
    rows = [
        _row("A", "met"),
        _row("B", "missed", lead=1.5),
        _row("C", "met", lead=0.5),
        _row("D", "missed"),
        _row("E", "breached", lead=2.0),
    ]
    figures = summary(rows, ERROR)
    assert figures["at_risk_warnings"] == 3
    assert (figures["flagged_then_missed"], figures["flagged_then_met"]) == (2, 1)
    assert figures["missed_unwarned"] == 1 and figures["missed_unwarned_filings"] == ["D"]
    assert figures["lead_working_hours"] == {"count": 3, "min": 0.5, "median": 1.5, "max": 2.0}
    assert figures["states"]["met"] == 2 and figures["states"]["on_track"] == 0
    console = Console(record=True, width=160)
    _print_sla(console, figures)
    printed = console.export_text()
    assert "at-risk warnings 3" in printed and "then missed 2" in printed
    assert "公司B B: 预警 at risk 1.50 h before the deadline → 超时 missed" in printed
    assert "median 0.50 p90 1.50" in printed


def test_a_filing_warned_then_late_is_reported_so(
    onestop: Runtime, undispatched: Undispatched
) -> None:
    code = undispatched()
    filing = wait_for(onestop, code, lambda _f: True)
    _evaluate(onestop, filing.deadline_at - timedelta(hours=1))  # at risk: nothing moved
    with onestop.database.transaction() as session:
        figures = sla_figures(
            session, onestop.calendar, now=filing.deadline_at + timedelta(minutes=5)
        )
    (mine,) = [r for r in figures["flagged"] if r["tracking_code"] == code]
    assert mine["sla_state"] == SlaState.BREACHED and mine["late"]
    assert 0 < mine["lead_working_hours"] <= 1
    assert figures["flagged_then_missed"] >= 1
