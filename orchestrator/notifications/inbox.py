"""Staff's inbox in the portal: what the tracker tells branch staff and officers.

A notice is a row for one member of staff, written in the transaction of what causes it
(a material found past due, later a filing at risk of its deadline), so it is there
exactly when its cause is. Its `key` (the cause and the recipient) is unique: a cause
recorded twice still makes one notice each.

    material_overdue   a 容缺 material's due date passed: the clerk who filed and the
                       branch's managers (the branch may withdraw the step it blocks)
    sla_at_risk        the tracker predicts the filing ready after its deadline: the
                       branch's managers
    sla_breached       the deadline passed and the filing is not ready: the district's
                       supervising officers
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import JSON, ForeignKey, Index, String, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from orchestrator.db import Base

NoticeKind = Literal["material_overdue", "sla_at_risk", "sla_breached"]
PAGE_SIZE = 50


class StaffNotice(Base):
    """One notice to one member of staff; read once they have opened their inbox on it."""

    __tablename__ = "staff_notice"
    __table_args__ = (Index("ix_staff_notice_staff_read", "staff_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    filing_id: Mapped[int | None] = mapped_column(ForeignKey("filing.id"))
    kind: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]


def notify(
    session: Session,
    kind: NoticeKind,
    *,
    cause: str,
    staff_ids: Iterable[int],
    filing_id: int | None,
    now: datetime,
    **detail: Any,
) -> None:
    """Leave a notice of `kind` for each of `staff_ids`; `cause` names what happened once
    (a material's id), so that the same cause never makes a second notice."""
    keys = {f"{kind}:{cause}:{staff_id}": staff_id for staff_id in staff_ids}
    known = set(session.scalars(select(StaffNotice.key).where(StaffNotice.key.in_(keys))))
    session.add_all(
        StaffNotice(
            key=key,
            staff_id=staff_id,
            filing_id=filing_id,
            kind=kind,
            detail=detail,
            created_at=now,
        )
        for key, staff_id in keys.items()
        if key not in known
    )


def unread(session: Session, staff_id: int) -> int:
    """How many notices the member of staff has not seen."""
    count = session.scalar(
        select(func.count())
        .select_from(StaffNotice)
        .where(StaffNotice.staff_id == staff_id, StaffNotice.read_at.is_(None))
    )
    return count or 0


def notices(session: Session, staff_id: int, *, limit: int = PAGE_SIZE) -> list[StaffNotice]:
    """The member of staff's latest notices, unread first, newest first."""
    return list(
        session.scalars(
            select(StaffNotice)
            .where(StaffNotice.staff_id == staff_id)
            .order_by(StaffNotice.read_at.is_not(None), StaffNotice.id.desc())
            .limit(limit)
        )
    )


def mark_read(session: Session, staff_id: int, *, now: datetime) -> int:
    """Mark every unread notice of the member of staff read; how many."""
    result = session.execute(
        update(StaffNotice)
        .where(StaffNotice.staff_id == staff_id, StaffNotice.read_at.is_(None))
        .values(read_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
