"""Committed deadlines kept true to the calendar: re-evaluated when a holiday schedule lands.

A filing accepted before next year's State Council notice is out has a provisional
deadline if it reaches into that year (weekends and statutory holidays only). Once the
notice is imported, its deadline and its 容缺 materials' due dates are computed again
from the same acceptance instant and committed time; each change is an event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from orchestrator.calendar import WorkingCalendar
from orchestrator.filings.history import record
from orchestrator.filings.models import Filing, FilingStatus, MaterialStatus
from orchestrator.filings.service import committed_deadline, supplement_due
from orchestrator.reference import load_reference
from orchestrator.reference.models import Material as CatalogueEntry

CALENDAR = "calendar"

# Filings whose deadline still binds someone: once ready (or cancelled) it is history.
_OPEN = (FilingStatus.ACCEPTED, FilingStatus.ACTION_REQUIRED)


@dataclass(frozen=True)
class Revision:
    """One filing whose deadline or due dates moved."""

    tracking_code: str
    deadline_from: datetime
    deadline_to: datetime
    provisional: bool  # the new deadline still reaches into a year without a schedule
    materials: tuple[str, ...]  # the 容缺 materials whose due date moved


def revise_deadlines(
    session: Session, *, calendar: WorkingCalendar, now: datetime, batch: int = 500
) -> list[Revision]:
    """Recompute the deadlines of every open filing on `calendar`; record each change.

    Rows another transaction holds are skipped: the next run takes them.
    """
    catalogue = load_reference().materials
    revisions: list[Revision] = []
    last_id = 0
    while True:
        filings = session.scalars(
            select(Filing)
            .where(Filing.status.in_(_OPEN), Filing.id > last_id)
            .order_by(Filing.id)
            .limit(batch)
            .options(selectinload(Filing.materials))
            .with_for_update(of=Filing, skip_locked=True, key_share=True)
        ).all()
        if not filings:
            return revisions
        for filing in filings:
            revision = _revise(session, filing, calendar, catalogue, now=now)
            if revision is not None:
                revisions.append(revision)
        last_id = filings[-1].id


def _revise(
    session: Session,
    filing: Filing,
    calendar: WorkingCalendar,
    catalogue: dict[str, CatalogueEntry],
    *,
    now: datetime,
) -> Revision | None:
    accepted = filing.accepted_at
    deadline = committed_deadline(
        calendar, accepted_at=accepted, sla_working_days=filing.sla_working_days
    )
    if filing.blocked_seconds:  # the time it waited for its applicant stays credited
        deadline = calendar.add(deadline, timedelta(seconds=filing.blocked_seconds))
    moved_materials: dict[str, dict[str, str]] = {}
    for material in filing.materials:
        entry = catalogue.get(material.code)
        days = entry.supplement_deadline_working_days if entry else None
        if material.status != MaterialStatus.MISSING or material.due_at is None or days is None:
            continue
        due = supplement_due(calendar, accepted_at=accepted, days=days)
        if due != material.due_at:
            moved_materials[material.code] = {
                "from": material.due_at.isoformat(),
                "to": due.isoformat(),
            }
            material.due_at = due
    if deadline == filing.deadline_at and not moved_materials:
        return None
    revision = Revision(
        tracking_code=filing.tracking_code,
        deadline_from=filing.deadline_at,
        deadline_to=deadline,
        provisional=calendar.touches_provisional(accepted, deadline),
        materials=tuple(moved_materials),
    )
    filing.deadline_at = deadline
    session.flush()
    record(
        session,
        filing.id,
        "deadline_revised",
        at=now,
        actor=CALENDAR,
        deadline_from=revision.deadline_from.isoformat(),
        deadline_at=deadline.isoformat(),
        deadline_provisional=revision.provisional,
        materials=moved_materials,
        calendar=sorted(calendar.known_years),
    )
    return revision
