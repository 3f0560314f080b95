"""The working-day calendar: official holidays, office hours and working-time arithmetic."""

from __future__ import annotations

from functools import lru_cache

from orchestrator.calendar.duration import WorkingDuration, parse_duration
from orchestrator.calendar.holidays import (
    HolidayData,
    HolidayDataError,
    HolidayPeriod,
    YearSchedule,
    default_data_path,
    load_holidays,
    parse_holidays,
)
from orchestrator.calendar.working_calendar import (
    DEFAULT_OFFICE_HOURS,
    OfficePeriod,
    UnknownYearError,
    WorkingCalendar,
)
from orchestrator.settings import Settings, get_settings

__all__ = [
    "DEFAULT_OFFICE_HOURS",
    "HolidayData",
    "HolidayDataError",
    "HolidayPeriod",
    "OfficePeriod",
    "UnknownYearError",
    "WorkingCalendar",
    "WorkingDuration",
    "YearSchedule",
    "calendar_for",
    "default_calendar",
    "default_data_path",
    "load_holidays",
    "parse_duration",
    "parse_holidays",
]


@lru_cache(maxsize=2)
def default_calendar(*, provisional: bool = False) -> WorkingCalendar:
    """The shipped holiday data with the settings' office hours, built once per process."""
    return calendar_for(get_settings(), provisional=provisional)


def calendar_for(settings: Settings, *, provisional: bool = False) -> WorkingCalendar:
    """The shipped holiday data with the office hours of `settings`."""
    return WorkingCalendar.from_file(
        office_hours=(settings.office_morning, settings.office_afternoon),
        provisional=provisional,
    )
