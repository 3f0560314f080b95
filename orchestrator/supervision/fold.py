"""Keeping the daily summary current: a day is folded again, whole, from the filings.

A fold of day D deletes D's summary rows and counts afresh the filings that became ready
on D, the steps that finished on D and the ratings given on D (each read by an index on
its instant), so it is idempotent and its cost grows with one day's work, never with the
history. The beat folds today and yesterday (`tasks.supervision`), which also catches a
transaction that committed after midnight what it stamped before; the workers' hot path
does nothing for it beyond the index entries.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import delete, insert, literal, select
from sqlalchemy.orm import Session

from orchestrator.calendar import WorkingCalendar
from orchestrator.clock import CHINA
from orchestrator.feedback.models import Rating
from orchestrator.filings.models import Filing, Step, StepStatus
from orchestrator.supervision.models import (
    FILING_SUBJECT,
    SupervisionDay,
    SupervisionHours,
    SupervisionRatings,
)
from orchestrator.supervision.tally import Tally


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The instants a China day starts and ends at (end exclusive)."""
    start = datetime.combine(day, time(), CHINA)
    return start, datetime.combine(day + timedelta(days=1), time(), CHINA)


def working_seconds(calendar: WorkingCalendar, start: datetime, end: datetime) -> int:
    """Whole working seconds from `start` to `end` on `calendar`."""
    return int(calendar.elapsed(start, end).total_seconds())


def tally_day(session: Session, day: date, *, calendar: WorkingCalendar) -> Tally:
    """Day `day` counted from the filings, steps and ratings."""
    tally = Tally(day_seconds=int(calendar.day_length.total_seconds()))
    start, end = day_bounds(day)
    ready = select(Filing.district_code, Filing.branch_id, Filing.accepted_at, Filing.ready_at)
    for district, branch, accepted_at, ready_at in session.execute(
        ready.where(Filing.ready_at >= start, Filing.ready_at < end)
    ):
        assert ready_at is not None  # selected by it
        seconds = working_seconds(calendar, accepted_at, ready_at)
        tally.time(day, district, branch, FILING_SUBJECT, seconds, hist=True)
    steps = (
        select(Filing.district_code, Filing.branch_id, Step.name, Step.started_at, Step.finished_at)
        .join(Filing, Filing.id == Step.filing_id)
        # The status inline, not a parameter: a generic plan could not use the partial index.
        .where(
            Step.status == literal(StepStatus.DONE.value, literal_execute=True),
            Step.finished_at >= start,
            Step.finished_at < end,
        )
    )
    for district, branch, name, started_at, finished_at in session.execute(steps):
        if started_at is not None and finished_at is not None:
            seconds = working_seconds(calendar, started_at, finished_at)
            tally.time(day, district, branch, name, seconds, hist=False)
    rated = (
        select(Filing.district_code, Filing.branch_id, Rating.score)
        .join(Filing, Filing.id == Rating.filing_id)
        .where(Rating.created_at >= start, Rating.created_at < end)
    )
    for district, branch, score in session.execute(rated):
        tally.rating(day, district, branch, score)
    return tally


def fold_days(session: Session, first: date, last: date, *, calendar: WorkingCalendar) -> int:
    """Fold every day from `first` to `last` (inclusive) afresh; returns the rows written."""
    written = 0
    day = first
    while day <= last:
        tally = tally_day(session, day, calendar=calendar)
        for model in (SupervisionDay, SupervisionHours, SupervisionRatings):
            session.execute(delete(model).where(model.day == day))
        for model, rows in (
            (SupervisionDay, tally.day_rows()),
            (SupervisionHours, tally.hours_rows()),
            (SupervisionRatings, tally.rating_rows()),
        ):
            if rows:
                session.execute(insert(model), rows)
                written += len(rows)
        day += timedelta(days=1)
    return written
