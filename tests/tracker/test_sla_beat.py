"""The SLA pass on the embedded runtime: states persisted and recorded once per change,
predictions recorded and their error reported, and blocked time credited at the unblock."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from orchestrator.calendar import parse_duration
from orchestrator.cli import app as cli
from orchestrator.filings.blocked_time import EXTENDED
from orchestrator.filings.models import Filing, SlaState
from orchestrator.identity.models import Staff
from orchestrator.identity.service import district_officers, set_mobile
from orchestrator.notifications import outbox
from orchestrator.reference import load_reference
from orchestrator.runtime import Runtime
from orchestrator.tasks.tracker import evaluate_sla
from orchestrator.tracker import predictions
from orchestrator.tracker.deadlines import _revise
from orchestrator.tracker.models import Prediction
from orchestrator.tracker.predictions import Durations
from orchestrator.tracker.sla import evaluate_open, event_kind
from tests.factories import filing_input
from tests.filings import events, file, supplement, tax_blocked, wait_for
from tests.notifications import fresh_mobile, wait_for_texts
from tests.people import SHOUGUANG, BranchStaff
from tests.tracker import branch_managers, staff_notices

pytestmark = pytest.mark.databases("sqlite", "postgresql")

Undispatched = Callable[..., str]


def _budgets(rt: Runtime) -> Callable[[str], Durations]:
    """Expected durations from the districts' budgets only (whatever other tests finished)."""
    reference = load_reference()

    def for_district(code: str) -> Durations:
        return Durations(
            lambda step: rt.calendar.to_timedelta(parse_duration(reference.step_budget(code, step)))
        )

    return for_district


def _filing(rt: Runtime, code: str) -> Filing:
    return wait_for(rt, code, lambda _f: True)


def _evaluate(rt: Runtime, now: datetime) -> None:
    with rt.database.transaction() as session:
        evaluate_open(session, calendar=rt.calendar, now=now, durations=_budgets(rt))


def _sla_events(rt: Runtime, code: str) -> list[str]:
    return [e.kind for e in events(rt, code) if e.kind.startswith("sla_")]


def test_states_change_once_each_and_predictions_are_recorded(
    onestop: Runtime, undispatched: Undispatched
) -> None:
    code = undispatched()
    filing = _filing(onestop, code)
    deadline, accepted = filing.deadline_at, filing.accepted_at
    assert filing.sla_state == SlaState.ON_TRACK

    _evaluate(onestop, accepted)  # Shouguang's budgets: ready well within its half day
    filing = _filing(onestop, code)
    assert filing.sla_state == SlaState.ON_TRACK and filing.predicted_ready_at is not None
    assert filing.predicted_ready_at <= deadline < filing.predicted_complete_at  # type: ignore[operator]

    # An hour before the deadline nothing has moved: the critical path no longer fits.
    late = deadline - timedelta(hours=1)
    _evaluate(onestop, late)
    _evaluate(onestop, late)
    assert _filing(onestop, code).sla_state == SlaState.AT_RISK
    assert _sla_events(onestop, code) == [event_kind(SlaState.AT_RISK)]
    warning = next(e for e in events(onestop, code) if e.kind == "sla_at_risk")
    assert warning.actor == "tracker" and warning.detail["working_hours_to_deadline"] > 0

    _evaluate(onestop, deadline + timedelta(minutes=1))
    assert _filing(onestop, code).sla_state == SlaState.BREACHED
    assert _sla_events(onestop, code) == ["sla_at_risk", "sla_breached"]
    with onestop.database.transaction() as session:
        made = session.scalars(select(Prediction).where(Prediction.filing_id == filing.id)).all()
        assert len(made) >= 2  # the first, and the one at risk


def test_a_filing_ready_in_time_is_met_and_its_predictions_are_scored(
    onestop: Runtime, branch_staff: BranchStaff
) -> None:
    code = file(onestop, branch_staff)
    filing = _filing(onestop, code)
    _evaluate(onestop, filing.accepted_at)  # the prediction, made at acceptance
    ready = wait_for(onestop, code, lambda f: f.ready_at is not None)
    _evaluate(onestop, onestop.clock.now())
    filing = _filing(onestop, code)
    assert filing.sla_state == SlaState.MET
    assert _sla_events(onestop, code)[-1] == "sla_met"
    with onestop.database.transaction() as session:
        report = predictions.error_report(session, onestop.calendar)
        mine = session.scalars(select(Prediction).where(Prediction.filing_id == ready.id)).all()
    assert mine and report["filings"] >= 1
    assert report["every_prediction"]["median_hours"] is not None
    assert report["every_prediction"]["p90_hours"] >= report["every_prediction"]["median_hours"]


def test_step_durations_are_absorbed_once(onestop: Runtime, branch_staff: BranchStaff) -> None:
    code = file(onestop, branch_staff)
    wait_for(onestop, code, lambda f: f.ready_at is not None)
    now = onestop.clock.now()
    with onestop.database.transaction() as session:
        predictions.absorb_done_steps(session, calendar=onestop.calendar, now=now)
    with onestop.database.transaction() as session:
        assert predictions.absorb_done_steps(session, calendar=onestop.calendar, now=now) == 0


def test_time_blocked_on_the_applicant_extends_the_deadline_exactly(
    onestop: Runtime, branch_staff: BranchStaff
) -> None:
    code = file(onestop, branch_staff, finance_officer=None)  # tax waits for it
    wait_for(onestop, code, tax_blocked)
    blocked_at = next(e.at for e in events(onestop, code) if e.kind == "blocked")
    before = _filing(onestop, code).deadline_at
    # Supplied three days later: a weekend or a holiday may lie between, working time only.
    supplied_at = blocked_at + timedelta(days=3)
    officer = {"finance_officer": filing_input()["finance_officer"]}
    supplement(onestop, branch_staff, code, "finance_tax_agents", officer, at=supplied_at)
    worked = onestop.calendar.elapsed(blocked_at, supplied_at)
    worked = timedelta(seconds=int(worked.total_seconds()))
    filing = _filing(onestop, code)
    assert filing.blocked_seconds == worked.total_seconds() > 0
    assert filing.deadline_at == onestop.calendar.add(before, worked)
    (extended,) = [e for e in events(onestop, code) if e.kind == EXTENDED]
    assert extended.detail["working_seconds"] == worked.total_seconds()
    assert extended.detail["steps"] == ["tax"]
    assert extended.detail["deadline_at"] == filing.deadline_at.isoformat()
    # The calendar's re-evaluation of deadlines keeps the credit (nothing to revise).
    with onestop.database.transaction() as session:
        again = session.scalars(select(Filing).where(Filing.tracking_code == code)).one()
        catalogue = load_reference().materials
        assert _revise(session, again, onestop.calendar, catalogue, now=supplied_at) is None


def test_the_beat_task_judges_open_filings_batch_by_batch(
    onestop: Runtime, undispatched: Undispatched
) -> None:
    codes = [undispatched(), undispatched()]
    evaluate_sla()  # as beat sends it, on the process's clock and calendar
    for code in codes:
        filing = _filing(onestop, code)
        assert filing.sla_state == SlaState.ON_TRACK  # just filed, half a day to go
        assert filing.predicted_ready_at is not None and filing.predicted_complete_at is not None


def test_onestop_predictions_report_prints_the_error(onestop: Runtime) -> None:
    result = CliRunner().invoke(cli, ["predictions", "report", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.splitlines()[-1])
    assert set(figures) == {"filings", "every_prediction", "first_prediction"}
    assert set(figures["every_prediction"]) == {"count", "median_hours", "p90_hours"}
    text = CliRunner().invoke(cli, ["predictions", "report"]).output
    assert "filings ready with predictions" in text


def test_at_risk_tells_the_branch_managers_and_a_breach_the_district_officers_once(
    onestop: Runtime, undispatched: Undispatched, branch_staff: BranchStaff
) -> None:
    managers = branch_managers(onestop, branch_staff)
    with onestop.database.reading() as session:
        officers = [r.staff_id for r in district_officers(session, district_code=SHOUGUANG)]
    assert officers
    code = undispatched()
    deadline = _filing(onestop, code).deadline_at
    _evaluate(onestop, deadline - timedelta(hours=1))
    _evaluate(onestop, deadline - timedelta(minutes=30))
    at_risk = [(m, "sla_at_risk") for m in managers]
    assert staff_notices(onestop, code) == at_risk  # the clerk who filed is no manager
    _evaluate(onestop, deadline + timedelta(minutes=1))
    _evaluate(onestop, deadline + timedelta(minutes=2))
    assert staff_notices(onestop, code) == at_risk + [(o, "sla_breached") for o in officers]


def test_staff_with_a_mobile_are_texted_each_escalation_once(
    onestop: Runtime, undispatched: Undispatched, branch_staff: BranchStaff
) -> None:
    """Beside the inbox, through the outbox: the manager's text when the filing turns at
    risk, the officer's when it is breached; evaluating again sends neither again."""
    branch_managers(onestop, branch_staff)
    manager_mobile, officer_mobile = fresh_mobile(), fresh_mobile()
    with onestop.database.transaction() as session:
        set_mobile(session, "zhouhua", manager_mobile)
        officer = session.get(
            Staff, district_officers(session, district_code=SHOUGUANG)[0].staff_id
        )
        assert officer is not None
        set_mobile(session, officer.username, officer_mobile)
    code = undispatched()
    deadline = _filing(onestop, code).deadline_at

    def evaluate_and_send(now: datetime) -> None:
        with onestop.database.transaction() as session:
            evaluate_open(session, calendar=onestop.calendar, now=now, durations=_budgets(onestop))
            outbox.send_after_commit(session)  # as the beat task does

    def about(mobile: str, count: int) -> list[str]:
        """This filing's texts to `mobile` (others' reach the branch's manager too: every
        open filing is evaluated), once there are `count`."""
        return wait_for_texts(onestop, mobile, count, about=code)

    try:
        evaluate_and_send(deadline - timedelta(hours=1))
        (at_risk,) = about(manager_mobile, 1)
        assert "超时风险" in at_risk
        evaluate_and_send(deadline + timedelta(minutes=1))
        (breached,) = about(officer_mobile, 1)
        assert "已超过承诺时限" in breached
        evaluate_and_send(deadline + timedelta(minutes=2))
        time.sleep(0.5)  # a second text, were one sent, would be on its way by now
        assert about(manager_mobile, 0) == [at_risk]  # read now: no second one
        assert about(officer_mobile, 0) == [breached]
    finally:
        with onestop.database.transaction() as session:
            set_mobile(session, "zhouhua", None)
            set_mobile(session, officer.username, None)


def test_a_mobile_is_checked_before_it_is_kept(onestop: Runtime) -> None:
    refused = CliRunner().invoke(cli, ["staff", "mobile", "zhaojing", "12345"])
    assert refused.exit_code == 2 and "11 digits" in refused.output
    neither = CliRunner().invoke(cli, ["staff", "mobile", "zhaojing"])
    assert neither.exit_code == 2
    kept = CliRunner().invoke(cli, ["staff", "mobile", "zhaojing", "13900001111"])
    assert kept.exit_code == 0 and "139****1111" in kept.output
    cleared = CliRunner().invoke(cli, ["staff", "mobile", "zhaojing", "--none"])
    assert cleared.exit_code == 0
    with onestop.database.reading() as session:
        assert (
            session.scalars(select(Staff.mobile).where(Staff.username == "zhaojing")).one() is None
        )
