"""The supervision figures of a small history whose every number is known by hand."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from orchestrator.calendar import default_calendar
from orchestrator.clock import CHINA
from orchestrator.errors import Forbidden
from orchestrator.filings.models import SlaState
from orchestrator.identity.service import Scope
from orchestrator.runtime import Runtime
from orchestrator.supervision import figures
from orchestrator.supervision.at_risk import at_risk
from orchestrator.supervision.figures import Filters, Grouping
from orchestrator.supervision.fold import fold_days
from orchestrator.supervision.models import SupervisionDay
from orchestrator.supervision.subsidy_spend import subsidy_spend
from orchestrator.supervision.tally import LAST_HOUR
from orchestrator.tasks.supervision import fold_recent_days
from orchestrator.tools.history.axis import WorkingAxis
from tests.people import SHOUGUANG
from tests.supervision.known import FIRST, LAST, at, stamp_threats, write_known

pytestmark = pytest.mark.databases("sqlite", "postgresql")


@pytest.fixture
def known(onestop: Runtime) -> Filters:
    """The known history's filters: its branch, March 2025."""
    branch_id = write_known(onestop)
    return Filters(SHOUGUANG, branch_id, FIRST, LAST)


class TestCompletionTime:
    def test_counts_each_filing_in_its_working_hour(self, onestop: Runtime, known: Filters) -> None:
        with onestop.database.reading() as session:
            histogram = figures.completion_histogram(session, known)
        counts = {b.hours: b.count for b in histogram.buckets if b.count}
        assert counts == {1: 1, 3: 1, 14: 1, LAST_HOUR: 1}
        assert histogram.count == 4
        assert len(histogram.buckets) == LAST_HOUR + 1
        assert histogram.buckets[-1].open_ended

    def test_the_period_limits_what_is_counted(self, onestop: Runtime, known: Filters) -> None:
        later = Filters(known.district_code, known.branch_id, date(2025, 3, 5), LAST)
        with onestop.database.reading() as session:
            histogram = figures.completion_histogram(session, later)
        assert {b.hours: b.count for b in histogram.buckets if b.count} == {14: 1, LAST_HOUR: 1}


class TestShares:
    def test_by_branch(self, onestop: Runtime, known: Filters) -> None:
        with onestop.database.reading() as session:
            (row,) = figures.shares(session, known, Grouping.BRANCH).rows
        assert (row.key, row.label_zh) == (str(known.branch_id), "监管测试网点")
        assert (row.count, row.within_half_day, row.within_one_day, row.within_three_days) == (
            4,
            2,
            2,
            3,
        )
        assert (row.share_half_day, row.share_three_days) == (0.5, 0.75)
        assert row.mean_working_hours == pytest.approx((1.5 + 3 + 14 + 42) / 4, abs=0.01)

    def test_by_iso_week(self, onestop: Runtime, known: Filters) -> None:
        with onestop.database.reading() as session:
            rows = figures.shares(session, known, Grouping.WEEK).rows
        assert [(r.key, r.count, r.within_half_day, r.within_three_days) for r in rows] == [
            ("2025-W10", 3, 2, 3),
            ("2025-W12", 1, 0, 0),
        ]

    def test_by_step_counts_a_working_day_exactly_as_within_one(
        self, onestop: Runtime, known: Filters
    ) -> None:
        with onestop.database.reading() as session:
            rows = figures.shares(session, known, Grouping.STEP).rows
        assert [(r.key, r.count, r.within_half_day, r.within_one_day) for r in rows] == [
            ("registration", 2, 1, 2),
            ("tax", 1, 1, 1),
        ]
        assert rows[0].label_en == "Business registration"

    def test_by_agency(self, onestop: Runtime, known: Filters) -> None:
        with onestop.database.reading() as session:
            rows = figures.shares(session, known, Grouping.AGENCY).rows
        assert [(r.key, r.count) for r in rows] == [("registration", 2), ("tax", 1)]


class TestSupplementsAndFeedback:
    def test_missing_materials_now(self, onestop: Runtime, known: Filters) -> None:
        now = at(1, 12, month=4)
        with onestop.database.reading() as session:
            outstanding = figures.supplements_outstanding(session, known, now=now)
        assert (outstanding.missing, outstanding.overdue, outstanding.filings) == (2, 1, 2)
        assert [(r.key, r.missing, r.overdue) for r in outstanding.by_material] == [
            ("staff_roster", 2, 1)
        ]

    def test_good_rate_and_open_follow_ups(self, onestop: Runtime, known: Filters) -> None:
        with onestop.database.reading() as session:
            rated = figures.feedback(session, known)
        assert (rated.ratings, rated.good, rated.good_rate) == (3, 2, 0.6667)
        assert rated.open_follow_ups == 1
        assert rated.follow_ups_by_status["open"] == 1


class TestThePromise:
    def test_at_risk_and_breached_with_the_step_holding_each_back(
        self, onestop: Runtime, known: Filters
    ) -> None:
        assert known.branch_id is not None
        stamp_threats(onestop, known.branch_id)
        with onestop.database.reading() as session:
            threatened = at_risk(session, known, now=at(21, 11), calendar=onestop.calendar)
        assert (threatened.at_risk, threatened.breached) == (1, 1)
        breached, risky = threatened.filings  # the breached first
        assert breached.cause is not None and risky.cause is not None
        assert (breached.sla_state, breached.cause.step, breached.cause.agency) == (
            SlaState.BREACHED,
            "tax",
            "tax",
        )
        assert breached.cause.working_hours == 3.0  # 16:00–17:00, then 9:00–11:00
        assert (risky.cause.step, risky.cause.status, risky.cause.working_hours) == (
            "registration",
            "running",
            2.0,
        )
        assert [(c.step, c.at_risk, c.breached) for c in threatened.by_cause] == [
            ("registration", 1, 0),
            ("tax", 0, 1),
        ]

    def test_subsidy_spend_of_the_month(self, onestop: Runtime, known: Filters) -> None:
        with onestop.database.reading() as session:
            spend = subsidy_spend(session, known)
        (march,) = spend.months
        assert (march.month, march.budget_fen, march.committed_fen, march.settled_fen) == (
            "2025-03",
            100_000,
            30_000,
            12_000,
        )
        assert (march.share_committed, march.approved) == (0.3, False)
        assert (spend.committed_fen, spend.settled_fen) == (30_000, 12_000)


class TestFold:
    def test_folding_again_changes_nothing(self, onestop: Runtime, known: Filters) -> None:
        def rows() -> list[tuple[object, ...]]:
            with onestop.database.reading() as session:
                query = select(SupervisionDay).where(SupervisionDay.branch_id == known.branch_id)
                return sorted(
                    (r.day, r.subject, r.count, r.working_seconds) for r in session.scalars(query)
                )

        before = rows()
        with onestop.database.transaction() as session:
            fold_days(session, FIRST, LAST, calendar=onestop.calendar)
        assert rows() == before
        with onestop.database.reading() as session:
            days = session.scalar(
                select(func.count(SupervisionDay.day.distinct())).where(
                    SupervisionDay.branch_id == known.branch_id
                )
            )
        assert days == 4  # 3, 4, 5 and 17 March: the steps finished on days filings were ready

    def test_a_clerk_sees_no_figures(self, onestop: Runtime, known: Filters) -> None:
        with onestop.database.reading() as session, pytest.raises(Forbidden):
            figures.filters_for(
                session,
                Scope(branch_id=known.branch_id, can_file=True),
                district_code=None,
                branch_id=None,
                start=None,
                end=None,
                today=date(2025, 4, 1),
            )


def test_the_history_axis_agrees_with_the_calendar() -> None:
    """Working time between two instants of the axis is their positions' difference."""
    calendar = default_calendar()
    axis = WorkingAxis(calendar, date(2025, 9, 20), date(2026, 2, 28))
    rng = random.Random(7)
    for _ in range(300):
        a, b = sorted(rng.randrange(axis.total) for _ in range(2))
        elapsed = calendar.elapsed(axis.instant(a), axis.instant(b))
        assert elapsed == timedelta(seconds=b - a)
        assert axis.position(axis.instant(a)) == a
        days = rng.choice((0.5, 1, 3))
        added = calendar.add(axis.instant(a), timedelta(seconds=days * axis.day_seconds))
        assert added == axis.ending(a + round(days * axis.day_seconds))
    assert axis.instant(0).astimezone(CHINA).hour == 9


def test_beat_folds_yesterday_and_today(onestop: Runtime) -> None:
    written = fold_recent_days.apply().get()
    assert isinstance(written, int)
