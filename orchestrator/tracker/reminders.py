"""容缺 materials coming due: the applicant is reminded a working day before the due date,
and once it has passed the filing is flagged to its branch.

A pass reads only the missing materials due within the next working day that are not yet
reminded, and those past due not yet flagged (an index on status and due date finds
them), so it costs what is coming due, not the history. Each material is marked as it is
dealt with, in the transaction that writes its text to the outbox and its event to the
filing's history: nothing is said twice, however often the pass runs or is retried. A
flagged filing is in its branch's queue ("material overdue"), and a notice in the inbox
of the clerk who filed it and of the branch's managers says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session, joinedload

from orchestrator.calendar import WorkingCalendar, WorkingDuration
from orchestrator.filings.history import record
from orchestrator.filings.models import Filing, FilingStatus, Material, MaterialStatus
from orchestrator.identity.service import branch_recipients
from orchestrator.notifications import inbox, notices
from orchestrator.notifications.notices import DueMaterial, FilingFacts
from orchestrator.reference import load_reference

TRACKER = "tracker"
# How long before its due date a missing material is recalled to the applicant.
REMINDER_LEAD = WorkingDuration(days=Decimal(1))
# Filings whose materials still hold a step: once ready or cancelled, nobody waits for them.
_OPEN = (FilingStatus.ACCEPTED, FilingStatus.ACTION_REQUIRED)


@dataclass(frozen=True)
class Pass:
    """What one pass did: the materials reminded and flagged, as (tracking code, code)."""

    reminded: tuple[tuple[str, str], ...]
    flagged: tuple[tuple[str, str], ...]


def remind_and_flag(
    session: Session,
    *,
    calendar: WorkingCalendar,
    now: datetime,
    send_by: datetime,
    batch: int = 500,
) -> Pass:
    """Remind the applicant of each material due within a working day; flag each past due.

    Rows another transaction holds (a supplement being confirmed) are skipped: the next
    pass takes them if they are still missing. No reminder goes out for a material whose
    whole time to supply was a working day or less (the text asking for it was the
    reminder), nor for one already past due when first seen (the flag is what follows).
    """
    horizon = calendar.add(now, REMINDER_LEAD)
    reminded = [
        (material.filing.tracking_code, material.code)
        for material in _coming_due(session, Material.reminded_at, horizon, batch)
        if _remind(session, material, calendar, now=now, send_by=send_by)
    ]
    flagged = []
    for material in _coming_due(session, Material.overdue_at, now, batch):
        _flag(session, material, now=now)
        flagged.append((material.filing.tracking_code, material.code))
    return Pass(tuple(reminded), tuple(flagged))


def _coming_due(
    session: Session, mark: InstrumentedAttribute[datetime | None], by: datetime, batch: int
) -> list[Material]:
    """Missing materials of open filings due by `by` whose `mark` is not set, locked."""
    return list(
        session.scalars(
            select(Material)
            .join(Filing)
            .where(
                Material.status == MaterialStatus.MISSING,
                Material.due_at <= by,
                mark.is_(None),
                Filing.status.in_(_OPEN),
            )
            .order_by(Material.due_at, Material.id)
            .limit(batch)
            .options(joinedload(Material.filing))
            .with_for_update(of=Material, skip_locked=True)
        )
    )


def _remind(
    session: Session,
    material: Material,
    calendar: WorkingCalendar,
    *,
    now: datetime,
    send_by: datetime,
) -> bool:
    assert material.due_at is not None
    material.reminded_at = now
    filing = material.filing
    too_late = material.due_at <= now  # the pass did not run in time: the flag says it
    too_soon = calendar.elapsed(filing.accepted_at, material.due_at) <= calendar.to_timedelta(
        REMINDER_LEAD
    )
    if too_late or too_soon:
        return False
    entry = load_reference().materials[material.code]
    facts = FilingFacts(
        filing_id=filing.id,
        tracking_code=filing.tracking_code,
        company_name=filing.company_name,
        mobile=filing.payload["legal_representative"]["mobile"],
        materials_due=(DueMaterial(entry.name_zh, entry.name_en, material.due_at),),
    )
    session.flush()
    notices.announce(session.connection(), "material_reminder", facts, now=now, send_by=send_by)
    record(session, filing.id, "material_reminded", at=now, actor=TRACKER, **_due(material))
    return True


def _flag(session: Session, material: Material, *, now: datetime) -> None:
    material.overdue_at = now
    filing = material.filing
    inbox.notify(
        session,
        "material_overdue",
        cause=str(material.id),
        recipients=branch_recipients(
            session, branch_id=filing.branch_id, filed_by=filing.created_by
        ),
        filing_id=filing.id,
        now=now,
        tracking_code=filing.tracking_code,
        company_name=filing.company_name,
        **_due(material),
    )
    record(
        session,
        material.filing_id,
        "material_overdue",
        at=now,
        actor=TRACKER,
        **_due(material),
        blocks=list(material.blocks),
    )


def _due(material: Material) -> dict[str, str]:
    """How the tracker's events and notices name a material due: its code and due date."""
    assert material.due_at is not None
    return {"material": material.code, "due_at": material.due_at.isoformat()}
