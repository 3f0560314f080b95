"""What a running process works with: settings, database, clock, calendar and agencies.

Built once per process from the settings; the embedded mode and tests install their own
(simulators on an ephemeral port, a scaled clock) with `install()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import orchestrator.models  # noqa: F401  (every mapper known before the first query)
from integrations.base import AgencyAdapter
from integrations.registry import build_adapters
from integrations.sms import SmsGateway, build_sms_gateway
from orchestrator.calendar import WorkingCalendar, calendar_for
from orchestrator.calendar.schedules import HolidayBook
from orchestrator.clock import Clock
from orchestrator.db import Database, get_database
from orchestrator.settings import Settings, get_settings


class ConfigurationError(RuntimeError):
    """The process was started without something it needs (say which, and how to fix it)."""


@dataclass
class Runtime:
    """The process's collaborators; `adapters` are built on first use."""

    settings: Settings
    database: Database
    clock: Clock
    holidays: HolidayBook
    agencies_url: str | None = None

    @property
    def calendar(self) -> WorkingCalendar:
        """The working-day calendar, with any holiday schedule imported since start."""
        return self.holidays.calendar

    @cached_property
    def adapters(self) -> Mapping[str, AgencyAdapter[Any]]:
        """One adapter per agency, sharing connection pools across the process's threads."""
        url = self.agencies_url or self.settings.agencies_url
        if not url:
            raise ConfigurationError(
                "未配置机构地址：请设置 ONESTOP_AGENCIES_URL / no agencies URL: set "
                "ONESTOP_AGENCIES_URL (e.g. the URL of `onestop simulators`)"
            )
        return build_adapters(url, timeout=self.settings.agency_timeout_seconds)

    @cached_property
    def sms(self) -> SmsGateway:
        """The SMS gateway: its own URL if set, else the agencies' (the simulators have one)."""
        url = self.settings.sms_gateway_url or self.agencies_url or self.settings.agencies_url
        if not url:
            raise ConfigurationError(
                "未配置短信网关地址：请设置 ONESTOP_SMS_GATEWAY_URL / no SMS gateway URL: set "
                "ONESTOP_SMS_GATEWAY_URL or ONESTOP_AGENCIES_URL"
            )
        return build_sms_gateway(url, timeout=self.settings.agency_timeout_seconds)


_current: Runtime | None = None


def from_settings(settings: Settings, **overrides: Any) -> Runtime:
    """A runtime for `settings`; keyword overrides replace any of its parts."""
    database = overrides.get("database") or get_database(settings.database_url)
    parts: dict[str, Any] = {
        "settings": settings,
        "database": database,
        "clock": Clock(
            origin=settings.clock_origin,
            scale=settings.clock_scale,
            real_start=settings.clock_real_start,
        ),
        "holidays": HolidayBook(
            calendar_for(settings),
            database.reading,
            refresh_seconds=settings.calendar_refresh_seconds,
        ),
    }
    parts.update(overrides)
    return Runtime(**parts)


def install(runtime: Runtime) -> Runtime:
    """Make `runtime` the process's runtime."""
    global _current
    _current = runtime
    return runtime


def current() -> Runtime:
    """The process's runtime, built from the settings on first use."""
    global _current
    if _current is None:
        _current = from_settings(get_settings())
    return _current
