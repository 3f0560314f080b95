"""The shipped holiday data against the State Council's notices and against chinesecalendar."""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
import pytest

from orchestrator.calendar import WorkingCalendar, YearSchedule, default_data_path, load_holidays
from orchestrator.calendar.holidays import missing_statutory_days

# Typed in from the notices themselves (国办发明电〔2024〕12号 of 2024-11-12 for 2025; the
# notice of 2025-11-04 for 2026), independently of holidays.yaml, so that a typo in the
# data file cannot hide behind a test that reads the same file.
# (year, name, first day off, last day off, make-up working days)
NOTICES: list[tuple[int, str, str, str, tuple[str, ...]]] = [
    (2025, "元旦", "2025-01-01", "2025-01-01", ()),
    (2025, "春节", "2025-01-28", "2025-02-04", ("2025-01-26", "2025-02-08")),
    (2025, "清明节", "2025-04-04", "2025-04-06", ()),
    (2025, "劳动节", "2025-05-01", "2025-05-05", ("2025-04-27",)),
    (2025, "端午节", "2025-05-31", "2025-06-02", ()),
    (2025, "国庆节、中秋节", "2025-10-01", "2025-10-08", ("2025-09-28", "2025-10-11")),
    (2026, "元旦", "2026-01-01", "2026-01-03", ("2026-01-04",)),
    (2026, "春节", "2026-02-15", "2026-02-23", ("2026-02-14", "2026-02-28")),
    (2026, "清明节", "2026-04-04", "2026-04-06", ()),
    (2026, "劳动节", "2026-05-01", "2026-05-05", ("2026-05-09",)),
    (2026, "端午节", "2026-06-19", "2026-06-21", ()),
    (2026, "中秋节", "2026-09-25", "2026-09-27", ()),
    (2026, "国庆节", "2026-10-01", "2026-10-07", ("2026-09-20", "2026-10-10")),
]
PUBLISHED = {2025: date(2024, 11, 12), 2026: date(2025, 11, 4)}


def _days(first: str, last: str) -> list[date]:
    """Every date from `first` to `last` inclusive."""
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


DAYS_OFF = [(day, name) for _, name, first, last, _ in NOTICES for day in _days(first, last)]
MAKEUP_DAYS = [
    (date.fromisoformat(day), name) for _, name, _, _, makeups in NOTICES for day in makeups
]
ALL_DAYS = _days("2025-01-01", "2026-12-31")

CALENDAR = WorkingCalendar.from_file()


@pytest.mark.parametrize(("day", "name"), DAYS_OFF, ids=lambda v: str(v))
def test_official_day_off_is_off(day: date, name: str) -> None:
    period = CALENDAR.holiday_period(day)
    assert not CALENDAR.is_workday(day)
    assert period is not None
    assert period.name == name


@pytest.mark.parametrize(("day", "name"), MAKEUP_DAYS, ids=lambda v: str(v))
def test_makeup_day_is_a_working_weekend_day(day: date, name: str) -> None:
    period = CALENDAR.holiday_period(day)
    assert day.weekday() >= 5
    assert CALENDAR.is_workday(day)
    assert period is not None
    assert period.name == name


def test_every_other_day_follows_the_week() -> None:
    off = {day for day, _ in DAYS_OFF}
    makeup = {day for day, _ in MAKEUP_DAYS}
    wrong = [
        day
        for day in ALL_DAYS
        if CALENDAR.is_workday(day) != (day in makeup or (day.weekday() < 5 and day not in off))
    ]
    assert wrong == []


def test_every_day_agrees_with_chinesecalendar() -> None:
    disagree = [
        (day, CALENDAR.is_workday(day))
        for day in ALL_DAYS
        if CALENDAR.is_workday(day) != chinese_calendar.is_workday(day)
    ]
    assert disagree == []


def test_data_file_periods_match_the_notices() -> None:
    data = load_holidays()
    shipped = [
        (
            schedule.year,
            period.name,
            period.days_off.first.isoformat(),
            period.days_off.last.isoformat(),
            tuple(day.isoformat() for day in period.makeup_workdays),
        )
        for schedule in data.schedules
        for period in schedule.periods
    ]
    assert shipped == NOTICES


def test_data_file_names_the_notices() -> None:
    data = load_holidays()
    assert {s.year: s.notice.published for s in data.schedules} == PUBLISHED
    assert all(f"{s.year}年部分节假日安排" in s.notice.title for s in data.schedules)


def test_working_day_counts() -> None:
    # A whole-year sanity check: both years have 248 working days (as chinesecalendar says).
    counts = {
        year: sum(CALENDAR.is_workday(day) for day in ALL_DAYS if day.year == year)
        for year in (2025, 2026)
    }
    assert counts == {2025: 248, 2026: 248}


def test_data_ships_inside_the_package() -> None:
    assert default_data_path().replace("\\", "/").endswith("orchestrator/calendar/holidays.yaml")
    assert CALENDAR.known_years == {2025, 2026}


@pytest.mark.parametrize("schedule", load_holidays().schedules, ids=lambda s: str(s.year))
def test_every_shipped_schedule_gives_the_statutory_holidays_off(schedule: YearSchedule) -> None:
    # The check `onestop calendar import` applies to a new year holds for the shipped ones.
    assert missing_statutory_days(schedule) == []
