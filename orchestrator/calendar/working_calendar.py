"""Working days and office hours: when a deadline falls, how much working time has passed.

All arithmetic is done on naive wall-clock China time. That is exact because China has
had no daylight saving time since 1991, so every local day has the same 24 hours.

A year with a State Council schedule in the data is official. A year without one (next
year, before its notice is out) is provisional: weekends and the statutory holidays the
law fixes are days off, and there are no make-up working days. The calendar answers for
both and says which (`is_provisional`, `touches_provisional`); importing the notice
later turns a provisional year into an official one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from pathlib import Path

from orchestrator.calendar.duration import WorkingDuration
from orchestrator.calendar.holidays import (
    HolidayData,
    HolidayPeriod,
    default_data_path,
    load_holidays,
)
from orchestrator.calendar.statutory import statutory_days_off
from orchestrator.clock import CHINA

logger = logging.getLogger(__name__)

OfficePeriod = tuple[time, time]

DEFAULT_OFFICE_HOURS: tuple[OfficePeriod, ...] = ((time(9), time(12)), (time(13), time(17)))

_ONE_DAY = timedelta(days=1)
_MIDNIGHT = time(0)
# Longest stretch without office time that can happen with real data is ~10 days; a year
# without one means the data or the office hours are broken, not that we should spin.
_MAX_IDLE_DAYS = 366
_NOTICE_MONTH = 11


def missing_schedule_notice(year: int) -> tuple[str, str]:
    """What operators are told, in Chinese and English, while `year`'s schedule is missing."""
    return (
        f"尚未导入 {year} 年的国务院节假日安排，涉及 {year} 年的期限均为临时期限；通知发布后请运行"
        " onestop calendar import FILE",
        f"the State Council's {year} holiday schedule has not been imported: deadlines reaching"
        f" into {year} are provisional. Import the notice with `onestop calendar import FILE`"
        " once it is published",
    )


def _validated_office_hours(periods: Iterable[Sequence[time]]) -> tuple[OfficePeriod, ...]:
    """Office periods sorted by start; each non-empty, naive, and not overlapping the next."""
    result: list[OfficePeriod] = []
    for period in periods:
        if len(period) != 2:
            raise ValueError(f"an office period is (start, end), got {period!r}")
        start, end = period
        if start.tzinfo is not None or end.tzinfo is not None:
            raise ValueError("office hours are China wall-clock times; give naive times")
        if not start < end:
            raise ValueError(f"office period {start}–{end} must end after it starts")
        result.append((start, end))
    if not result:
        raise ValueError("office hours need at least one (start, end) period")
    result.sort()
    for (_, previous_end), (start, _) in pairwise(result):
        if start < previous_end:
            raise ValueError(f"office periods overlap at {start}")
    return tuple(result)


def _offset(moment: time) -> timedelta:
    """Time since midnight."""
    return datetime.combine(date.min, moment) - datetime.combine(date.min, _MIDNIGHT)


def _to_local(instant: datetime) -> datetime:
    """Naive China wall-clock time; naive input already is China time."""
    if instant.tzinfo is None:
        return instant
    return instant.astimezone(CHINA).replace(tzinfo=None)


def _to_aware(local: datetime) -> datetime:
    """Attach China time to a naive wall-clock value."""
    return local.replace(tzinfo=CHINA)


def _day_of(value: date) -> date:
    """The China-time date of a date or datetime."""
    return _to_local(value).date() if isinstance(value, datetime) else value


class WorkingCalendar:
    """Working days from the holiday data, office hours within them, and arithmetic on both."""

    def __init__(
        self,
        holidays: HolidayData,
        *,
        office_hours: Iterable[Sequence[time]] = DEFAULT_OFFICE_HOURS,
        source: str = "<in-memory holiday data>",
    ) -> None:
        """Index `holidays` once."""
        self._holidays = holidays
        self._office_hours = _validated_office_hours(office_hours)
        self._periods = tuple((_offset(s), _offset(e)) for s, e in self._office_hours)
        self._day_length = sum((end - start for start, end in self._periods), timedelta())
        self._source = source
        self._years = holidays.years
        self._off: dict[date, HolidayPeriod] = {}
        self._makeup: dict[date, HolidayPeriod] = {}
        for schedule in holidays.schedules:
            for period in schedule.periods:
                self._off.update(dict.fromkeys(period.days_off.days(), period))
                self._makeup.update(dict.fromkeys(period.makeup_workdays, period))
        self._guessed_years: set[int] = set()
        self._guess_lock = threading.Lock()

    @classmethod
    def from_file(
        cls,
        path: str | Path | None = None,
        *,
        office_hours: Iterable[Sequence[time]] = DEFAULT_OFFICE_HOURS,
    ) -> WorkingCalendar:
        """Build from a holiday YAML file (the one shipped with the package by default)."""
        data = load_holidays(path)
        source = str(path) if path is not None else default_data_path()
        return cls(data, office_hours=office_hours, source=source)

    def with_schedules(self, extra: HolidayData, *, source: str) -> WorkingCalendar:
        """This calendar with the schedules of `extra` (years it lacks) added."""
        merged = HolidayData(schedules=(*self._holidays.schedules, *extra.schedules))
        return WorkingCalendar(
            merged, office_hours=self._office_hours, source=f"{self._source} + {source}"
        )

    # --- what the calendar knows -------------------------------------------------------

    @property
    def office_hours(self) -> tuple[OfficePeriod, ...]:
        """The office periods of a working day, sorted."""
        return self._office_hours

    @property
    def day_length(self) -> timedelta:
        """The working time of one working day (7 h with the default office hours)."""
        return self._day_length

    @property
    def holidays(self) -> HolidayData:
        """The official schedules this calendar counts with."""
        return self._holidays

    @property
    def known_years(self) -> frozenset[int]:
        """Years with an official schedule in the data."""
        return self._years

    @property
    def source(self) -> str:
        """Where the holiday data came from (for messages)."""
        return self._source

    def provisional_years(self) -> frozenset[int]:
        """Years this calendar has so far answered about without their official schedule."""
        with self._guess_lock:
            return frozenset(self._guessed_years)

    def is_provisional(self, day: date) -> bool:
        """Whether `day` falls in a year without an official schedule."""
        return _day_of(day).year not in self._years

    def touches_provisional(self, start: date, end: date) -> bool:
        """Whether any day from `start` to `end` falls in a year without a schedule."""
        first, last = sorted((_day_of(start).year, _day_of(end).year))
        return any(year not in self._years for year in range(first, last + 1))

    def missing_schedule(self, today: date) -> int | None:
        """Next year, if its schedule is missing and it is time to have it (from 1 November).

        The State Council publishes a year's notice in November or December of the year
        before; from 1 November the operators should be told to import it when it is out.
        """
        today = _day_of(today)
        upcoming = today.year + 1
        if today.month >= _NOTICE_MONTH and upcoming not in self._years:
            return upcoming
        return None

    # --- days ---------------------------------------------------------------------------

    def is_workday(self, day: date) -> bool:
        """Weekdays work unless a holiday; weekends rest unless a make-up working day."""
        day = _day_of(day)
        # A notice may reach into the neighbouring year, so its days count first.
        if day in self._makeup:
            return True
        if day in self._off:
            return False
        if day.year not in self._years:
            if day.year not in self._guessed_years:
                self._note_provisional(day.year)
            return day.weekday() < 5 and day not in statutory_days_off(day.year)
        return day.weekday() < 5

    def holiday_period(self, day: date) -> HolidayPeriod | None:
        """The holiday period that makes `day` a day off or a make-up working day, if any."""
        day = _day_of(day)
        return self._off.get(day) or self._makeup.get(day)

    def holiday_name(self, day: date) -> str | None:
        """The name of the holiday `day` belongs to (official, else statutory), if any."""
        day = _day_of(day)
        period = self.holiday_period(day)
        if period is not None:
            return period.name
        return statutory_days_off(day.year).get(day) if day.year not in self._years else None

    def _note_provisional(self, year: int) -> None:
        """Log, once per year, that answers about `year` are provisional."""
        with self._guess_lock:
            first_time = year not in self._guessed_years
            self._guessed_years.add(year)
        if first_time:
            logger.warning(
                "没有 %s 年的节假日安排，临时按周末和法定节假日计算 / no holiday schedule for"
                " %s in %s: counting weekends and statutory holidays (provisional)",
                year,
                year,
                self._source,
            )

    # --- instants -----------------------------------------------------------------------

    def is_office_time(self, instant: datetime) -> bool:
        """Whether `instant` is inside an office period (start inclusive) of a working day."""
        local = _to_local(instant)
        since_midnight = local - datetime.combine(local.date(), _MIDNIGHT)
        in_period = any(start <= since_midnight < end for start, end in self._periods)
        return in_period and self.is_workday(local.date())

    def next_working_instant(self, instant: datetime) -> datetime:
        """`instant` if it is office time on a working day, else the next period's start."""
        return _to_aware(self._next_working_local(_to_local(instant)))

    def _next_working_local(self, local: datetime) -> datetime:
        """`next_working_instant` on naive China time."""
        day = local.date()
        for _ in range(_MAX_IDLE_DAYS):
            midnight = datetime.combine(day, _MIDNIGHT)
            # Only ask about the day (and maybe its year) if office time remains in it.
            if local < midnight + self._periods[-1][1] and self.is_workday(day):
                for start, end in self._periods:
                    if local < midnight + end:
                        return max(local, midnight + start)
            day += _ONE_DAY
        raise RuntimeError(f"no working time within {_MAX_IDLE_DAYS} days after {local}")

    # --- arithmetic ---------------------------------------------------------------------

    def to_timedelta(self, duration: timedelta | WorkingDuration) -> timedelta:
        """Working time of `duration`; a working day is worth `day_length`."""
        if isinstance(duration, WorkingDuration):
            return duration.to_timedelta(self._day_length)
        return duration

    def add(self, start: datetime, duration: timedelta | WorkingDuration) -> datetime:
        """The instant at which `duration` of working time has elapsed after `start`.

        Counting begins at the next working instant; a result that falls exactly on the
        end of an office period stays there (17:00, not the next morning).
        """
        remaining = self.to_timedelta(duration)
        if remaining < timedelta(0):
            raise ValueError(f"duration must not be negative, got {duration}")
        cursor = self._next_working_local(_to_local(start))
        day = cursor.date()
        while True:
            if self.is_workday(day):
                midnight = datetime.combine(day, _MIDNIGHT)
                for start_offset, end_offset in self._periods:
                    begin = max(midnight + start_offset, cursor)
                    available = midnight + end_offset - begin
                    if available <= timedelta(0):
                        continue
                    if remaining <= available:
                        return _to_aware(begin + remaining)
                    remaining -= available
            day += _ONE_DAY

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Working time between two instants (zero if `end` is not after `start`)."""
        begin, finish = _to_local(start), _to_local(end)
        total = timedelta(0)
        day = begin.date()
        while day <= finish.date():
            midnight = datetime.combine(day, _MIDNIGHT)
            overlap = timedelta(0)
            for start_offset, end_offset in self._periods:
                lower = max(midnight + start_offset, begin)
                upper = min(midnight + end_offset, finish)
                if lower < upper:
                    overlap += upper - lower
            # Ask about the day only when it would count, so a span ending at midnight
            # on 1 January does not look into next year.
            if overlap and self.is_workday(day):
                total += overlap
            day += _ONE_DAY
        return total

    def elapsed_days(self, start: datetime, end: datetime) -> float:
        """Working time between two instants in working days (7 h = 1.0 by default)."""
        return self.elapsed(start, end) / self._day_length
