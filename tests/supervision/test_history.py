"""`onestop history`: a small history written into PostgreSQL adds up, to the row, to the
summary a fold of its days counts; SQLite is refused with a message that says what to do."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from orchestrator import runtime
from orchestrator.calendar import default_calendar
from orchestrator.cli import app
from orchestrator.clock import CHINA, Clock
from orchestrator.feedback.models import FollowUp, Rating
from orchestrator.filings.models import (
    Filing,
    FilingStatus,
    Material,
    MaterialStatus,
    SlaState,
    Step,
)
from orchestrator.identity.models import Role, Staff
from orchestrator.identity.service import Scope
from orchestrator.runtime import Runtime
from orchestrator.settings import Settings, get_settings
from orchestrator.subsidies import reimbursement
from orchestrator.subsidies.ledger import period_of
from orchestrator.subsidies.models import EntryKind, SubsidyEntry, SubsidyPeriod
from orchestrator.supervision import figures
from orchestrator.supervision.fold import tally_day
from orchestrator.supervision.models import SupervisionDay, SupervisionHours, SupervisionRatings
from orchestrator.tools.history import HistoryOptions, HistoryReport, write_history
from orchestrator.tools.supervision_bench import ENDPOINTS, VIEWS, run_bench
from tests.conftest import fresh_postgres_database

NOW = datetime(2026, 11, 20, 15, 30, tzinfo=CHINA)  # a Friday afternoon
FILINGS = 20_000


@pytest.fixture(scope="module")
def written() -> Iterator[tuple[Runtime, HistoryReport]]:
    """20,000 filings over 60 days in two districts, on a PostgreSQL database of their own:
    the size the issue asks CI to run the supervision bench's code on."""
    with fresh_postgres_database() as url:
        settings = Settings(database_url=url)
        options = HistoryOptions(
            filings=FILINGS, days=60, districts=("370783", "370811"), batch_size=2500, jobs=2
        )
        calendar = default_calendar()
        clock = Clock(origin=NOW, scale=0.0)
        report = write_history(settings, options, calendar=calendar, clock=clock)
        rt = runtime.from_settings(settings, clock=clock)
        try:
            yield rt, report
        finally:
            rt.database.dispose()


@pytest.mark.integration
class TestHistory:
    def test_writes_what_it_reports(self, written: tuple[Runtime, HistoryReport]) -> None:
        rt, report = written
        with rt.database.reading() as session:
            assert session.scalar(select(func.count()).select_from(Filing)) == FILINGS
            assert session.scalar(select(func.count()).select_from(Step)) == report.steps
            assert session.scalar(select(func.count()).select_from(Rating)) == report.ratings
            assert session.scalar(select(func.count()).select_from(FollowUp)) == report.follow_ups
            statuses = dict(
                session.execute(select(Filing.status, func.count()).group_by(Filing.status)).all()
            )
            missing = session.scalar(
                select(func.count()).where(Material.status == MaterialStatus.MISSING)
            )
            officers = session.scalar(select(func.count()).where(Staff.role == Role.OFFICER))
        # Mostly complete, some open (recent ones, or waiting for a 容缺 material).
        assert statuses[FilingStatus.COMPLETE] > 0.75 * FILINGS
        assert statuses[FilingStatus.ACCEPTED] > 0
        assert missing and missing > 0
        assert officers == 2
        assert report.summary_rows > 0

    def test_its_summary_is_what_a_fold_counts(
        self, written: tuple[Runtime, HistoryReport]
    ) -> None:
        rt, _ = written
        with rt.database.reading() as session:
            days = sorted(session.scalars(select(SupervisionDay.day).distinct()))
            assert len(days) > 30
            for day in days[:3] + days[-3:]:
                counted = tally_day(session, day, calendar=rt.calendar)
                stored = {
                    (r.day, r.district_code, r.branch_id, r.subject): [
                        r.count,
                        r.within_half_day,
                        r.within_one_day,
                        r.within_three_days,
                        r.working_seconds,
                    ]
                    for r in session.scalars(
                        select(SupervisionDay).where(SupervisionDay.day == day)
                    )
                }
                assert stored == counted.times
                hours = {
                    (r.day, r.district_code, r.branch_id, r.hours): r.count
                    for r in session.scalars(
                        select(SupervisionHours).where(SupervisionHours.day == day)
                    )
                }
                assert hours == counted.hours
                rated = {
                    (r.day, r.district_code, r.branch_id): [r.count, r.good]
                    for r in session.scalars(
                        select(SupervisionRatings).where(SupervisionRatings.day == day)
                    )
                }
                assert rated == counted.ratings

    def test_its_subsidy_ledger_adds_up_to_its_months_and_reports(
        self, written: tuple[Runtime, HistoryReport]
    ) -> None:
        """Each month's committed and settled amounts are its entries' sums to the fen, never
        past the budget; every settlement closes a reservation of a complete filing; each
        ended month is approved and its reimbursement report sums to its settlements."""
        rt, report = written
        entry, month = SubsidyEntry, SubsidyPeriod
        with rt.database.reading() as session:
            assert session.scalar(select(func.count()).select_from(entry)) == report.subsidy_entries
            sums = {
                (district, period, kind): int(total)
                for district, period, kind, total in session.execute(
                    select(
                        entry.district_code, entry.period, entry.kind, func.sum(entry.amount_fen)
                    ).group_by(entry.district_code, entry.period, entry.kind)
                )
            }
            months = session.scalars(select(month)).all()
            orphans = session.scalar(
                select(func.count())
                .select_from(entry)
                .join(Filing, Filing.id == entry.filing_id)
                .where(entry.kind == EntryKind.SETTLED, Filing.status != FilingStatus.COMPLETE)
            )
            ended = [m for m in months if m.period < period_of(NOW)]
            reports = {
                (m.district_code, m.period): reimbursement.report(
                    session.connection(), district_code=m.district_code, period=m.period
                )
                for m in ended[:3]
            }
        assert months and report.subsidy_entries > 0 and orphans == 0
        for m in months:
            key = (m.district_code, m.period)
            assert m.committed_fen == sums.get((*key, EntryKind.RESERVED), 0) <= m.budget_fen
            assert m.settled_fen == sums.get((*key, EntryKind.SETTLED), 0)
        assert ended and all(m.approved_at is not None for m in ended)
        assert all(r.total_fen == r.settled_fen for r in reports.values())

    def test_leaves_the_tracker_nothing_of_the_past_to_do(
        self, written: tuple[Runtime, HistoryReport]
    ) -> None:
        """Filings ready are settled met or missed; materials long past due were reminded
        and flagged then: a tracker started on this history works on today only."""
        rt, _ = written
        now = rt.clock.now()
        with rt.database.reading() as session:
            settled = session.execute(
                select(Filing.sla_state, func.count())
                .where(Filing.ready_at.is_not(None))
                .group_by(Filing.sla_state)
            ).all()
            undealt = session.scalar(
                select(func.count())
                .select_from(Material)
                .where(
                    Material.status == MaterialStatus.MISSING,
                    Material.due_at <= now,
                    Material.overdue_at.is_(None),
                )
            )
        assert {state for state, _ in settled} <= {SlaState.MET, SlaState.MISSED}
        assert dict(settled).get(SlaState.MET, 0) > 0
        assert undealt == 0

    def test_an_officer_sees_its_figures(self, written: tuple[Runtime, HistoryReport]) -> None:
        rt, _ = written
        with rt.database.reading() as session:
            filters = figures.filters_for(
                session,
                Scope(district_code="370783"),
                district_code=None,
                branch_id=None,
                start=None,
                end=None,
                today=NOW.date(),
            )
            histogram = figures.completion_histogram(session, filters)
            ready = session.scalar(
                select(func.count()).where(
                    Filing.district_code == "370783",
                    Filing.ready_at >= datetime(2026, 10, 22, tzinfo=CHINA),
                )
            )
        assert histogram.count == ready


def test_sqlite_is_refused_with_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setenv("ONESTOP_DATABASE_URL", "sqlite:///nowhere.db")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["history", "--filings", "10"])
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "PostgreSQL" in result.stderr
    assert "ONESTOP_DATABASE_URL" in result.stderr
    assert "Traceback" not in result.output


def test_help_explains_the_command() -> None:
    result = CliRunner().invoke(app, ["history", "--help"])
    assert result.exit_code == 0
    for words in ("--filings", "--days", "--district", "PostgreSQL"):
        assert words in result.output


@pytest.mark.integration
def test_the_supervision_bench_times_every_endpoint_and_view(
    written: tuple[Runtime, HistoryReport],
) -> None:
    """The hand-run benchmark's code, on this history: every endpoint and every view of
    the dashboard answers (a refusal would stop it) and is timed."""
    rt, report = written
    runtime.install(rt)
    figures_timed = run_bench(rt, district_code=None, requests=3)
    assert figures_timed.filings == report.filings
    assert [e.endpoint for e in figures_timed.endpoints] == list(ENDPOINTS)
    assert [v.endpoint for v in figures_timed.views] == [f"/portal/{v}" for v in VIEWS]
    assert all(t.requests == 3 and t.p95_ms > 0 for t in figures_timed.endpoints)
