"""Holiday schedules imported after release, and the calendar every process counts with.

The shipped `holidays.yaml` knows the years published before a release. A year's notice
published later is imported into the database (`onestop calendar import FILE`), which
every process of a deployment shares, on however many machines: each process adds the
imported schedules to the shipped ones and looks again now and then
(`HolidayBook.calendar`), so nothing needs restarting when the notice comes out.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import String, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column

from orchestrator.calendar.holidays import (
    HolidayData,
    HolidayDataError,
    YearSchedule,
    missing_statutory_days,
)
from orchestrator.calendar.working_calendar import WorkingCalendar
from orchestrator.db import Base

log = logging.getLogger(__name__)

IMPORTED = "imported schedules (database)"


class ImportedSchedule(Base):
    """One year's State Council schedule, imported after the release that shipped without it."""

    __tablename__ = "holiday_schedule"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    schedule: Mapped[dict[str, Any]]  # the YearSchedule as JSON, validated on the way in
    imported_at: Mapped[datetime]
    imported_by: Mapped[str] = mapped_column(String(60))


def imported_schedules(session: Session, *, besides: frozenset[int]) -> HolidayData | None:
    """The imported schedules of years not in `besides`, oldest first (None if none).

    A release that ships a year's schedule supersedes the copy imported before it.
    """
    rows = session.scalars(
        select(ImportedSchedule)
        .where(ImportedSchedule.year.not_in(besides))
        .order_by(ImportedSchedule.year)
    ).all()
    if not rows:
        return None
    return HolidayData(schedules=tuple(YearSchedule.model_validate(r.schedule) for r in rows))


def _fingerprint(session: Session) -> tuple[int, datetime | None]:
    """Changes whenever a schedule is imported: how many there are and the newest import."""
    count, newest = session.execute(
        select(func.count(), func.max(ImportedSchedule.imported_at))
    ).one()
    return int(count), newest


def import_schedules(
    session: Session,
    data: HolidayData,
    *,
    calendar: WorkingCalendar,
    now: datetime,
    actor: str,
) -> WorkingCalendar:
    """Store the schedules of `data` for years `calendar` does not know; the new calendar.

    Refused (HolidayDataError) if a year is already official, if a schedule leaves out a
    statutory holiday, or if it contradicts the schedules already known.
    """
    known = sorted(calendar.known_years & data.years)
    if known:
        raise HolidayDataError(
            f"{'、'.join(map(str, known))} 年已有正式节假日安排，不能重复导入 / the schedule for"
            f" {', '.join(map(str, known))} is already official and cannot be imported again"
        )
    for schedule in data.schedules:
        missing = missing_statutory_days(schedule)
        if missing:
            days = ", ".join(f"{day} {name}" for day, name in missing)
            raise HolidayDataError(
                f"{schedule.year} 年的安排缺少法定节假日 / the {schedule.year} schedule gives"
                f" no day off on these statutory holidays: {days}"
            )
    try:
        updated = calendar.with_schedules(data, source=IMPORTED)
    except ValueError as exc:  # pydantic: the years together contradict each other
        raise HolidayDataError(
            f"与已知的节假日安排冲突 / conflicts with the schedules already known: {exc}"
        ) from exc
    for schedule in data.schedules:
        session.add(
            ImportedSchedule(
                year=schedule.year,
                schedule=schedule.model_dump(mode="json"),
                imported_at=now,
                imported_by=actor,
            )
        )
    return updated


class HolidayBook:
    """The calendar a process counts with: shipped schedules plus imported ones, re-read
    from the database at most every `refresh_seconds`.

    A read that fails (no database yet, a cut) keeps the calendar already in hand: the
    shipped schedules are never worse than what the process started with.
    """

    def __init__(
        self,
        shipped: WorkingCalendar,
        sessions: Callable[[], AbstractContextManager[Session]],
        *,
        refresh_seconds: float,
    ) -> None:
        self._shipped = shipped
        self._sessions = sessions
        self._refresh_seconds = refresh_seconds
        self._calendar = shipped
        self._fingerprint: tuple[int, datetime | None] = (0, None)
        self._checked_at = -float("inf")
        self._lock = threading.Lock()

    @property
    def calendar(self) -> WorkingCalendar:
        """The current calendar (re-read from the database when it is time to look)."""
        if time.monotonic() - self._checked_at >= self._refresh_seconds:
            self.refresh()
        return self._calendar

    def refresh(self) -> WorkingCalendar:
        """Look at the imported schedules now; rebuild the calendar if they changed."""
        if not self._lock.acquire(blocking=False):
            return self._calendar  # another thread is looking: use what is in hand
        try:
            self._checked_at = time.monotonic()
            with self._sessions() as session:
                fingerprint = _fingerprint(session)
                if fingerprint != self._fingerprint:
                    imported = imported_schedules(session, besides=self._shipped.known_years)
                    self._calendar = (
                        self._shipped.with_schedules(imported, source=IMPORTED)
                        if imported is not None
                        else self._shipped
                    )
                    self._fingerprint = fingerprint
        except (SQLAlchemyError, HolidayDataError, ValueError) as exc:
            # Not worth more than a note: the calendar in hand stays right until a notice is
            # imported, and whatever cut the database off is reported where it bites.
            log.info("imported holiday schedules not read, calendar kept: %s", exc)
        finally:
            self._lock.release()
        return self._calendar
