"""Working-time arithmetic: deadlines across holidays, office hours, provisional years."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from orchestrator.calendar import (
    WorkingCalendar,
    WorkingDuration,
    default_calendar,
    default_data_path,
    load_holidays,
    parse_duration,
)
from orchestrator.clock import CHINA
from orchestrator.settings import Settings

CALENDAR = WorkingCalendar.from_file()
H = timedelta(hours=1)


def china(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An aware China-time datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=CHINA)


class TestDeadlinesAcrossHolidays:
    # (start, duration, expected) worked out by hand from the notices and 09–12, 13–17.
    @pytest.mark.parametrize(
        ("start", "duration", "expected"),
        [
            # Spring Festival 2026: Fri 02-13 15–17 (2 h), make-up Sat 02-14 (7 h), off
            # 02-15..02-23, Tue 02-24 (7 h), Wed 02-25 09–12 + 13–15 (5 h) = 21 h.
            (datetime(2026, 2, 13, 15), "3d", china(2026, 2, 25, 15)),
            # 2 h on Friday, 1.5 h on the make-up Saturday.
            (datetime(2026, 2, 13, 15), "0.5d", china(2026, 2, 14, 10, 30)),
            (datetime(2026, 2, 13, 15), "1d", china(2026, 2, 14, 15)),
            # From the make-up Saturday's last hour straight over the holiday.
            (datetime(2026, 2, 14, 16), "1h", china(2026, 2, 14, 17)),
            (datetime(2026, 2, 14, 16), "2h", china(2026, 2, 24, 10)),
            # A start during the holiday counts from Tue 02-24 09:00.
            (datetime(2026, 2, 18, 10), "0.5d", china(2026, 2, 24, 13, 30)),
            # The closing make-up Saturday 02-28: Fri 16–17, then 2.5 h on Saturday.
            (datetime(2026, 2, 27, 16), "0.5d", china(2026, 2, 28, 11, 30)),
            # National Day 2025 (10-01..10-08): Tue 09-30 14–17, then Thu 10-09.
            (datetime(2025, 9, 30, 14), "1d", china(2025, 10, 9, 14)),
            # ... 3 + 7 (10-09) + 7 (10-10) + 4 on the make-up Saturday 10-11.
            (datetime(2025, 9, 30, 14), "3d", china(2025, 10, 11, 14)),
            # Saturday 09-27 is off, Sunday 09-28 is a make-up working day.
            (datetime(2025, 9, 27, 10), "4h", china(2025, 9, 28, 14)),
            # National Day 2026 (10-01..10-07): Wed 09-30 16–17, then Thu 10-08.
            (datetime(2026, 9, 30, 16), "0.5d", china(2026, 10, 8, 11, 30)),
            # ... 1 + 7 + 7 + 6 on the make-up Saturday 10-10.
            (datetime(2026, 9, 30, 16), "3d", china(2026, 10, 10, 16)),
            # Mid-Autumn 2026 (Fri 09-25..Sun 09-27) bridges Thursday evening to Monday.
            (datetime(2026, 9, 24, 17), "1h", china(2026, 9, 28, 10)),
            # Saturday 09-19 is off; the make-up Sunday 09-20 gives 3 h + 30 min.
            (datetime(2026, 9, 19, 9), "0.5d", china(2026, 9, 20, 13, 30)),
        ],
    )
    def test_add(self, start: datetime, duration: str, expected: datetime) -> None:
        result = CALENDAR.add(start, parse_duration(duration))
        assert result == expected
        assert result.utcoffset() == timedelta(hours=8)

    def test_elapsed_over_spring_festival(self) -> None:
        start, end = china(2026, 2, 13, 15), china(2026, 2, 25, 15)
        assert CALENDAR.elapsed(start, end) == 21 * H
        assert CALENDAR.elapsed_days(start, end) == 3.0

    def test_elapsed_over_national_day_2025(self) -> None:
        assert CALENDAR.elapsed(china(2025, 9, 30, 9), china(2025, 10, 9, 9)) == 7 * H


class TestOfficeHours:
    def test_result_at_a_period_end_stays_there(self) -> None:
        assert CALENDAR.add(china(2026, 2, 24, 9), 3 * H) == china(2026, 2, 24, 12)
        assert CALENDAR.add(china(2026, 2, 24, 9), parse_duration("1d")) == china(2026, 2, 24, 17)

    def test_start_outside_hours_counts_from_next_period(self) -> None:
        assert CALENDAR.add(china(2026, 2, 24, 12, 30), H) == china(2026, 2, 24, 14)
        assert CALENDAR.add(china(2026, 2, 24, 7), H) == china(2026, 2, 24, 10)
        assert CALENDAR.add(china(2026, 2, 24, 18), H) == china(2026, 2, 25, 10)

    def test_zero_duration_is_the_next_working_instant(self) -> None:
        assert CALENDAR.add(china(2026, 2, 24, 10), timedelta(0)) == china(2026, 2, 24, 10)
        assert CALENDAR.add(china(2026, 2, 24, 12), timedelta(0)) == china(2026, 2, 24, 13)
        assert CALENDAR.add(china(2026, 2, 21, 10), timedelta(0)) == china(2026, 2, 24, 9)

    def test_next_working_instant(self) -> None:
        assert CALENDAR.next_working_instant(china(2026, 3, 2, 9)) == china(2026, 3, 2, 9)
        assert CALENDAR.next_working_instant(china(2026, 3, 2, 11, 59)) == china(2026, 3, 2, 11, 59)
        assert CALENDAR.next_working_instant(china(2026, 3, 2, 12)) == china(2026, 3, 2, 13)
        assert CALENDAR.next_working_instant(china(2026, 3, 2, 17)) == china(2026, 3, 3, 9)
        # Friday evening before Spring Festival → the make-up Saturday.
        assert CALENDAR.next_working_instant(china(2026, 2, 13, 17)) == china(2026, 2, 14, 9)
        # Saturday 2025-09-27 → make-up Sunday 2025-09-28.
        assert CALENDAR.next_working_instant(china(2025, 9, 27, 10)) == china(2025, 9, 28, 9)

    def test_half_a_day_is_half_the_office_hours(self) -> None:
        assert CALENDAR.day_length == 7 * H
        assert CALENDAR.to_timedelta(parse_duration("0.5d")) == timedelta(hours=3, minutes=30)

    def test_custom_office_hours(self) -> None:
        calendar = WorkingCalendar(
            load_holidays(),
            office_hours=[(time(14), time(17, 30)), (time(8, 30), time(11, 30))],
        )
        assert calendar.office_hours == ((time(8, 30), time(11, 30)), (time(14), time(17, 30)))
        assert calendar.day_length == timedelta(hours=6, minutes=30)
        # 0.5 d = 3 h 15 min: 3 h in the morning, 15 min after lunch.
        assert calendar.add(china(2026, 3, 2, 8), parse_duration("0.5d")) == china(
            2026, 3, 2, 14, 15
        )

    def test_office_hours_from_settings(self) -> None:
        settings = Settings(
            office_morning=(time(8), time(12)), office_afternoon=(time(14), time(18))
        )
        calendar = WorkingCalendar(
            load_holidays(), office_hours=(settings.office_morning, settings.office_afternoon)
        )
        assert calendar.day_length == 8 * H

    @pytest.mark.parametrize(
        "periods",
        [
            [],
            [(time(12), time(9))],
            [(time(9), time(12)), (time(11), time(17))],
            [(time(9), time(9))],
            [(time(9, tzinfo=UTC), time(12, tzinfo=UTC))],
        ],
        ids=["empty", "backwards", "overlapping", "zero-length", "aware"],
    )
    def test_bad_office_hours_are_refused(self, periods: list[tuple[time, time]]) -> None:
        with pytest.raises(ValueError, match="office"):
            WorkingCalendar(load_holidays(), office_hours=periods)

    def test_default_calendar_uses_settings_and_is_cached(self) -> None:
        calendar = default_calendar()
        assert calendar is default_calendar()
        assert calendar.office_hours == ((time(9), time(12)), (time(13), time(17)))


class TestTimezones:
    def test_naive_means_china_time(self) -> None:
        assert CALENDAR.add(datetime(2026, 3, 2, 9), H) == china(2026, 3, 2, 10)

    def test_aware_input_is_converted(self) -> None:
        # 07:00 UTC is 15:00 in China.
        result = CALENDAR.add(datetime(2026, 2, 13, 7, tzinfo=UTC), 30 * timedelta(minutes=1))
        assert result == china(2026, 2, 13, 15, 30)
        assert result.tzinfo == CHINA

    def test_is_workday_of_a_datetime_uses_the_china_date(self) -> None:
        # 2026-02-13 17:00 UTC is already Saturday 2026-02-14 01:00 in China (make-up day).
        assert CALENDAR.is_workday(datetime(2026, 2, 13, 17, tzinfo=UTC))
        # 2026-02-14 17:00 UTC is Sunday 2026-02-15 in China (Spring Festival).
        assert not CALENDAR.is_workday(datetime(2026, 2, 14, 17, tzinfo=UTC))


class TestArguments:
    def test_elapsed_is_zero_when_end_is_not_after_start(self) -> None:
        assert CALENDAR.elapsed(china(2026, 3, 3, 10), china(2026, 3, 2, 10)) == timedelta(0)
        assert CALENDAR.elapsed(china(2026, 3, 3, 10), china(2026, 3, 3, 10)) == timedelta(0)

    def test_negative_duration_is_refused(self) -> None:
        with pytest.raises(ValueError, match="negative"):
            CALENDAR.add(china(2026, 3, 2, 10), -H)

    def test_working_duration_and_timedelta_agree(self) -> None:
        start = china(2026, 3, 2, 10)
        as_duration = WorkingDuration(days=Decimal(1), hours=Decimal(4))
        assert CALENDAR.add(start, as_duration) == CALENDAR.add(start, 11 * H)


class TestProvisionalYears:
    """A year without its State Council schedule: weekends and statutory holidays only."""

    def test_the_statutory_holidays_of_2027_are_days_off(self) -> None:
        # 元旦; 除夕 and 春节 (5-8 Feb); 清明; 劳动节; 端午; 中秋; 国庆 1-3 Oct: 13 days.
        statutory = [
            date(2027, 1, 1),
            *(date(2027, 2, day) for day in (5, 6, 7, 8)),
            date(2027, 4, 5),
            date(2027, 5, 1),
            date(2027, 5, 2),
            date(2027, 6, 9),
            date(2027, 9, 15),
            *(date(2027, 10, day) for day in (1, 2, 3)),
        ]
        for day in statutory:
            assert not CALENDAR.is_workday(day), day
        off = [d for d in _days_of(2027) if not CALENDAR.is_workday(d)]
        assert sorted(set(off) - {d for d in off if d.weekday() >= 5}) == sorted(
            d for d in statutory if d.weekday() < 5
        )

    def test_no_make_up_days_and_no_bridging_days(self) -> None:
        # Every weekend day rests, and a weekday rests only if it is a statutory holiday:
        # 2027-02-09 follows the Spring Festival but the law does not give it off.
        assert all(not CALENDAR.is_workday(d) for d in _days_of(2027) if d.weekday() >= 5)
        assert CALENDAR.is_workday(date(2027, 2, 9))
        assert CALENDAR.is_workday(date(2027, 10, 4))

    def test_says_which_years_are_provisional_and_logs_once(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        calendar = WorkingCalendar.from_file()
        assert calendar.is_provisional(date(2027, 1, 1))
        assert not calendar.is_provisional(date(2026, 12, 31))
        assert calendar.touches_provisional(china(2026, 12, 31, 16), china(2027, 1, 4, 10))
        assert not calendar.touches_provisional(china(2026, 12, 1, 9), china(2026, 12, 31, 17))
        with caplog.at_level(logging.WARNING):
            assert not calendar.is_workday(date(2027, 1, 1))
            assert calendar.is_workday(date(2027, 1, 4))
        assert calendar.provisional_years() == {2027}
        assert sum("2027" in record.getMessage() for record in caplog.records) == 1

    def test_a_deadline_running_into_next_year_skips_its_statutory_holiday(self) -> None:
        # 1 h on Thursday 2026-12-31; 元旦 (Fri) and the weekend off; 6 h on Monday 4 Jan.
        assert CALENDAR.add(china(2026, 12, 31, 16), parse_duration("1d")) == china(2027, 1, 4, 16)

    def test_years_before_the_data_are_provisional_too(self) -> None:
        assert CALENDAR.is_provisional(date(2024, 12, 31))
        assert not CALENDAR.is_workday(date(2024, 10, 1))  # 国庆
        assert CALENDAR.is_workday(date(2024, 12, 31))

    def test_span_ending_at_new_year_midnight_does_not_look_into_next_year(self) -> None:
        calendar = WorkingCalendar.from_file()
        assert calendar.elapsed(china(2026, 12, 31, 10), china(2027, 1, 1)) == 6 * H
        assert calendar.add(china(2026, 12, 31, 10), 6 * H) == china(2026, 12, 31, 17)
        assert calendar.provisional_years() == frozenset()

    def test_next_years_schedule_is_missed_from_november(self) -> None:
        assert CALENDAR.missing_schedule(date(2026, 10, 31)) is None
        assert CALENDAR.missing_schedule(date(2026, 11, 1)) == 2027
        assert CALENDAR.missing_schedule(china(2026, 12, 31, 23)) == 2027
        assert CALENDAR.missing_schedule(date(2025, 11, 1)) is None  # 2026 is known

    def test_adding_a_year_is_a_data_change(self, tmp_path: Path) -> None:
        # A made-up 2027 entry (not the real schedule) appended to the shipped data.
        shipped = Path(default_data_path()).read_text(encoding="utf-8")
        extra = """
  - year: 2027
    notice: {title: test only, published: 2026-11-01}
    periods:
      - name: 元旦
        name_en: New Year's Day
        days_off: {first: 2027-01-01, last: 2027-01-03}
        total_days: 3
"""
        path = tmp_path / "holidays.yaml"
        path.write_text(shipped + extra, encoding="utf-8")
        calendar = WorkingCalendar.from_file(path)
        assert calendar.known_years == {2025, 2026, 2027}
        assert not calendar.is_workday(date(2027, 1, 1))
        assert calendar.is_workday(date(2027, 1, 4))
        assert not calendar.is_provisional(date(2027, 6, 1))


def _days_of(year: int) -> list[date]:
    first = date(year, 1, 1)
    return [first + timedelta(days=n) for n in range((date(year + 1, 1, 1) - first).days)]
