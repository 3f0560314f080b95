"""Deadlines across New Year: accepted on a provisional calendar, revised when the notice lands.

The State Council publishes next year's schedule in November or December. Until it is
imported, a deadline that reaches into that year counts weekends and statutory holidays
only and says it is provisional; importing the notice moves such deadlines and records it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select
from typer.testing import CliRunner

from orchestrator import runtime
from orchestrator.calendar import HolidayDataError, WorkingCalendar, parse_duration, parse_holidays
from orchestrator.calendar.schedules import import_schedules
from orchestrator.cli.calendar import app as calendar_cli
from orchestrator.clock import CHINA, Clock
from orchestrator.filings import service, views
from orchestrator.filings.models import Event, Filing
from orchestrator.filings.schemas import FilingInput
from orchestrator.identity.models import Role, Staff
from orchestrator.identity.service import ensure_branch, ensure_staff, issue_token
from orchestrator.migrations import migrate
from orchestrator.runtime import Runtime
from orchestrator.settings import Settings
from orchestrator.tools.seed import seed_reference
from orchestrator.tracker.deadlines import Revision, revise_deadlines
from tests.api import api_client, at_rest, new_filing, post_filing, wait_for
from tests.factories import ALL_MATERIALS, TRADE_NAMES, filing_input_for
from tests.people import BranchStaff, actor_of

SHOUGUANG, RENCHENG = "370783", "370811"

# A made-up 2027 schedule for tests (the real notice is not out): it gives the week of the
# Spring Festival off, 5–11 February, with a make-up working Saturday on the 20th, and
# bridges 元旦 to the weekend. Everything else as the law fixes it.
TEST_2027 = """
schedules:
  - year: 2027
    notice: {title: test only — not the State Council's notice, published: 2026-12-10}
    periods:
      - {name: 元旦, name_en: New Year's Day, total_days: 3,
         days_off: {first: 2027-01-01, last: 2027-01-03}}
      - {name: 春节, name_en: Spring Festival, total_days: 7, makeup_workdays: [2027-02-20],
         days_off: {first: 2027-02-05, last: 2027-02-11}}
      - {name: 清明节, name_en: Qingming Festival, total_days: 1,
         days_off: {first: 2027-04-05, last: 2027-04-05}}
      - {name: 劳动节, name_en: Labour Day, total_days: 2,
         days_off: {first: 2027-05-01, last: 2027-05-02}}
      - {name: 端午节, name_en: Dragon Boat Festival, total_days: 1,
         days_off: {first: 2027-06-09, last: 2027-06-09}}
      - {name: 中秋节, name_en: Mid-Autumn Festival, total_days: 1,
         days_off: {first: 2027-09-15, last: 2027-09-15}}
      - {name: 国庆节, name_en: National Day, total_days: 3,
         days_off: {first: 2027-10-01, last: 2027-10-03}}
"""


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


WINTER = _days(date(2026, 12, 1), date(2027, 2, 28))


class Desk:
    """A Shouguang and a Rencheng clerk filing straight through the service (no workers)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        with rt.database.transaction() as session:
            self.clerks = {
                code: self._clerk(session, code, bank)
                for code, bank in ((SHOUGUANG, "ABC"), (RENCHENG, "ABC"))
            }

    @staticmethod
    def _clerk(session: object, district: str, bank: str) -> tuple[service.Actor, int]:
        branch = ensure_branch(
            session,  # type: ignore[arg-type]
            code=f"{district}-{bank}",
            name=f"{bank} {district}",
            bank_code=bank,
            district_code=district,
        )
        clerk = ensure_staff(
            session,  # type: ignore[arg-type]
            username=f"clerk{district}",
            name="王芳",
            role=Role.CLERK,
            district_code=district,
            branch=branch,
        )
        return actor_of(clerk), clerk.id

    def file(self, district: str, at: datetime, *, supplement_later: bool = False) -> str:
        """File at `at`; with `supplement_later`, the staff roster is left to supplement."""
        materials = [m for m in ALL_MATERIALS if not (supplement_later and m == "staff_roster")]
        data = FilingInput.model_validate(
            filing_input_for(
                district,
                company_name__trade_name=next(TRADE_NAMES),
                materials=materials,
            )
        )
        actor, staff_id = self.clerks[district]
        with self.rt.database.transaction() as session:
            filed = service.file_filing(
                session,
                actor=actor,
                staff_id=staff_id,
                data=data,
                idempotency_key=None,
                now=at,
                lease_until=at + timedelta(minutes=1),
                calendar=self.rt.calendar,
            )
            session.info["after_commit"].clear()  # no workers here: nothing to dispatch
            return filed.filing.tracking_code

    def view(self, code: str) -> views.FilingDetail:
        """The filing as the API shows it to its clerk."""
        with self.rt.database.reading() as session:
            filing = session.scalars(select(Filing).where(Filing.tracking_code == code)).one()
            events = service.events_of(session, filing)
            return views.detail(filing, events, self.rt.calendar, reveal_personal_data=True)

    def events(self, code: str, kind: str) -> list[Event]:
        with self.rt.database.reading() as session:
            filing = session.scalars(select(Filing).where(Filing.tracking_code == code)).one()
            return [e for e in service.events_of(session, filing) if e.kind == kind]


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    """A fresh SQLite OneStop whose calendar knows the shipped years (2025, 2026) only."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'onestop.db'}")
    migrate(settings.database_url)
    rt = runtime.from_settings(settings)
    with rt.database.transaction() as session:
        seed_reference(session)
    previous = runtime._current
    runtime.install(rt)
    try:
        yield Desk(rt)
    finally:
        runtime._current = previous
        rt.database.dispose()


def _at(day: date, hour: int = 16, minute: int = 30) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=CHINA)


_SLA = {SHOUGUANG: "0.5d", RENCHENG: "3d"}


def _import(desk: Desk, notice: str) -> tuple[WorkingCalendar, list[Revision]]:
    """Import `notice` and re-evaluate open deadlines, as `onestop calendar import` does."""
    with desk.rt.database.transaction() as session:
        calendar = import_schedules(
            session,
            parse_holidays(notice),
            calendar=desk.rt.calendar,
            now=_at(date(2026, 12, 10), 9),
            actor="test",
        )
        revisions = revise_deadlines(session, calendar=calendar, now=_at(date(2026, 12, 10), 9))
    return desk.rt.holidays.refresh(), revisions


class TestAcceptedOnAProvisionalCalendar:
    def test_every_winter_day_files_with_and_without_a_material_to_supplement(
        self, desk: Desk
    ) -> None:
        calendar = desk.rt.calendar
        filed: list[views.FilingDetail] = []
        for day in WINTER:
            at = _at(day)
            for district, later in ((SHOUGUANG, False), (RENCHENG, True)):
                view = desk.view(desk.file(district, at, supplement_later=later))
                assert view.deadline_at > at
                reaches_2027 = view.deadline_at.year >= 2027 or day.year >= 2027
                assert view.deadline_provisional is reaches_2027, (day, district)
                assert calendar.touches_provisional(at, view.deadline_at) is reaches_2027
                for material in view.materials:
                    if material.due_at is not None:
                        due_2027 = material.due_at.year >= 2027 or day.year >= 2027
                        assert material.due_provisional is due_2027, (day, material.code)
                accepted = desk.events(view.tracking_code, "accepted")[0]
                assert accepted.detail["deadline_provisional"] is reaches_2027
                filed.append(view)

        official, _ = _import(desk, TEST_2027)
        for before in filed:
            after = desk.view(before.tracking_code)
            assert not after.deadline_provisional
            assert not any(m.due_provisional for m in after.materials)
            expected = official.add(before.accepted_at, parse_duration(_SLA[before.district_code]))
            assert after.deadline_at == expected
            moved = after.deadline_at != before.deadline_at or any(
                a.due_at != b.due_at for a, b in zip(after.materials, before.materials, strict=True)
            )
            assert len(desk.events(before.tracking_code, "deadline_revised")) == int(moved)

    def test_from_28_december_a_supplement_deadline_lands_after_the_statutory_new_year(
        self, desk: Desk
    ) -> None:
        # Monday 28 Dec 16:30 + 5 working days: 29, 30, 31 Dec, then 元旦 (Friday) and the
        # weekend off, 4 Jan, and 5 Jan until 16:30.
        view = desk.view(desk.file(RENCHENG, _at(date(2026, 12, 28)), supplement_later=True))
        (roster,) = [m for m in view.materials if m.code == "staff_roster"]
        assert roster.due_at == _at(date(2027, 1, 5))
        assert roster.due_provisional
        # Rencheng's 3 working days still end on 31 December...
        assert view.deadline_at == _at(date(2026, 12, 31))
        assert not view.deadline_provisional
        # ...and from the 29th they reach into January.
        later = desk.view(desk.file(RENCHENG, _at(date(2026, 12, 29))))
        assert later.deadline_at == _at(date(2027, 1, 4))
        assert later.deadline_provisional

    def test_a_deadline_within_2026_is_not_provisional(self, desk: Desk) -> None:
        # Shouguang's half day (3 h 30 min) from 9:30: 2 h 30 min before lunch, 1 h after.
        view = desk.view(desk.file(SHOUGUANG, _at(date(2026, 12, 30), 9)))
        assert view.deadline_at == _at(date(2026, 12, 30), 14, 0)
        assert not view.deadline_provisional


class TestImportingTheSchedule:
    def test_moves_provisional_deadlines_and_records_why(self, desk: Desk) -> None:
        # Accepted on Wednesday 3 Feb 2027, 16:30, in Rencheng (3 working days). Provisional:
        # half an hour on the 3rd, the 4th, then 除夕–初三 (5–8 Feb, a weekend among them)
        # off, the 9th, and the 10th until 16:30.
        code = desk.file(RENCHENG, _at(date(2027, 2, 3)), supplement_later=True)
        before = desk.view(code)
        assert before.deadline_at == _at(date(2027, 2, 10))
        assert before.deadline_provisional
        ready = desk.file(SHOUGUANG, _at(date(2026, 12, 2), 10))  # untouched by 2027

        _, revisions = _import(desk, TEST_2027)

        after = desk.view(code)
        # Official: the week off ends on Thursday 11 Feb, so Friday 12 Feb and then
        # Monday 15 Feb carry the rest.
        assert after.deadline_at == _at(date(2027, 2, 15), 16, 30)
        assert not after.deadline_provisional
        assert [r.tracking_code for r in revisions] == [code]
        (revised,) = desk.events(code, "deadline_revised")
        assert revised.actor == "calendar"
        assert revised.detail["deadline_from"] == before.deadline_at.isoformat()
        assert revised.detail["deadline_at"] == after.deadline_at.isoformat()
        assert revised.detail["deadline_provisional"] is False
        assert set(revised.detail["materials"]) == {"staff_roster"}
        assert desk.events(ready, "deadline_revised") == []

    def test_through_the_command_line(self, desk: Desk, tmp_path: Path) -> None:
        code = desk.file(RENCHENG, _at(date(2027, 2, 3)))
        notice = tmp_path / "2027.yaml"
        notice.write_text(TEST_2027, encoding="utf-8")
        runner = CliRunner()

        dry = runner.invoke(calendar_cli, ["import", "--dry-run", str(notice)])
        assert dry.exit_code == 0, dry.output
        assert "would import 2027" in dry.stdout
        assert code in dry.stdout
        assert desk.view(code).deadline_provisional  # nothing written

        done = runner.invoke(calendar_cli, ["import", str(notice)])
        assert done.exit_code == 0, done.output
        assert "imported 2027; deadlines moved on 1 open filing(s)" in done.stdout
        desk.rt.holidays.refresh()
        assert not desk.view(code).deadline_provisional

        again = runner.invoke(calendar_cli, ["import", str(notice)])
        assert again.exit_code == 2
        assert "already official" in again.stderr

    def test_other_processes_see_the_schedule_without_a_restart(
        self, desk: Desk, tmp_path: Path
    ) -> None:
        other = runtime.from_settings(
            desk.rt.settings.model_copy(update={"calendar_refresh_seconds": 0.01})
        )
        assert other.calendar.is_provisional(date(2027, 3, 1))
        with desk.rt.database.transaction() as session:
            import_schedules(
                session,
                parse_holidays(TEST_2027),
                calendar=desk.rt.calendar,
                now=_at(date(2026, 12, 10)),
                actor="test",
            )
        deadline = datetime.now().timestamp() + 5
        while other.calendar.is_provisional(date(2027, 3, 1)):
            assert datetime.now().timestamp() < deadline, "the schedule was never seen"
        assert not other.calendar.is_workday(date(2027, 2, 10))

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            (lambda s: s["periods"].pop(1), "2027-02-05 农历除夕"),  # Spring Festival left out
            (lambda s: s.update(year=2026), "already official"),
        ],
        ids=["statutory-day-missing", "year-already-official"],
    )
    def test_a_wrong_notice_is_refused_and_nothing_is_written(
        self, desk: Desk, change: object, message: str
    ) -> None:
        raw = yaml.safe_load(TEST_2027)
        change(raw["schedules"][0])  # type: ignore[operator]
        if raw["schedules"][0]["year"] == 2026:  # keep the dates in the year it claims
            for period in raw["schedules"][0]["periods"]:
                for key in ("first", "last"):
                    period["days_off"][key] = period["days_off"][key].replace(year=2026)
                period.pop("makeup_workdays", None)
        data = parse_holidays(yaml.safe_dump(raw, allow_unicode=True))
        with (
            pytest.raises(HolidayDataError, match=message),
            desk.rt.database.transaction() as session,
        ):
            import_schedules(
                session, data, calendar=desk.rt.calendar, now=_at(date(2026, 12, 10)), actor="t"
            )
        assert desk.rt.holidays.refresh().is_provisional(date(2027, 1, 1))


class TestThroughTheApi:
    """The API accepts filings on a provisional calendar and says which dates may move."""

    @pytest.fixture
    def clock_at(self, onestop: Runtime) -> Iterator[Callable[[datetime], Runtime]]:
        def install(instant: datetime) -> Runtime:
            return runtime.install(replace(onestop, clock=Clock(origin=instant)))

        yield install
        runtime.install(onestop)

    @pytest.mark.parametrize(
        ("now", "deadline_provisional", "missing_schedule"),
        [
            (datetime(2026, 12, 28, 10, tzinfo=CHINA), False, 2027),  # ready the same day
            (datetime(2027, 3, 1, 10, tzinfo=CHINA), True, None),
        ],
        ids=["2026-12-28", "2027-03-01"],
    )
    def test_files_with_and_without_a_material_to_supplement(
        self,
        clock_at: Callable[[datetime], Runtime],
        branch_staff: BranchStaff,
        now: datetime,
        deadline_provisional: bool,
        missing_schedule: int | None,
    ) -> None:
        rt = clock_at(now)
        with rt.database.transaction() as session:  # tokens issued today expire before March
            token = issue_token(
                session, session.get_one(Staff, branch_staff.clerk_id), now=rt.clock.now()
            )
        api = api_client()
        for materials in (list(ALL_MATERIALS), [m for m in ALL_MATERIALS if m != "staff_roster"]):
            response = post_filing(api, token, new_filing(materials=materials))
            assert response.status_code == 201, response.text
            filing = response.json()
            assert filing["deadline_provisional"] is deadline_provisional
            due = {m["code"]: m["due_provisional"] for m in filing["materials"] if m["due_at"]}
            assert due == ({} if len(materials) == len(ALL_MATERIALS) else {"staff_roster": True})
            wait_for(api, token, filing["tracking_code"], at_rest)
        health = api.get("/healthz").json()
        assert health.get("calendar", {}).get("missing_schedule") == missing_schedule
        assert rt.clock.now().year == now.year
