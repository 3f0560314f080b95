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
    WorkingCalendar,
    missing_schedule_notice,
)
from orchestrator.settings import Settings, get_settings

__all__ = [
    "DEFAULT_OFFICE_HOURS",
    "HolidayData",
    "HolidayDataError",
    "HolidayPeriod",
    "OfficePeriod",
    "WorkingCalendar",
    "WorkingDuration",
    "YearSchedule",
    "calendar_for",
    "default_calendar",
    "default_data_path",
    "load_holidays",
    "missing_schedule_notice",
    "parse_duration",
    "parse_holidays",
]


@lru_cache(maxsize=1)
def default_calendar() -> WorkingCalendar:
    """The shipped holiday data with the settings' office hours, built once per process."""
    return calendar_for(get_settings())


def calendar_for(settings: Settings) -> WorkingCalendar:
    """The shipped holiday data with the office hours of `settings`."""
    return WorkingCalendar.from_file(
        office_hours=(settings.office_morning, settings.office_afternoon)
    )
