"""Staff's inbox in the portal: what the tracker tells branch staff and officers.

A notice is a row for one member of staff, written in the transaction of what causes it
(a material found past due, later a filing at risk of its deadline), so it is there
exactly when its cause is. Its `key` (the cause and the recipient) is unique: a cause
recorded twice still makes one notice each. A recipient whose record has a mobile is also
texted, through the outbox in the same transaction: once per notice, like the notice.

    material_overdue   a 容缺 material's due date passed: the clerk who filed and the
                       branch's managers (the branch may withdraw the step it blocks)
    sla_at_risk        the tracker predicts the filing ready after its deadline: the
                       branch's managers
    sla_breached       the deadline passed and the filing is not ready: the district's
                       supervising officers
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

from sqlalchemy import JSON, ForeignKey, Index, String, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from orchestrator.db import Base
from orchestrator.notifications import outbox, texts

NoticeKind = Literal["material_overdue", "sla_at_risk", "sla_breached"]
PAGE_SIZE = 50
# Every kind of notice has its text (the text's words live with the others, in `texts`).
assert set(get_args(NoticeKind)) == set(texts.STAFF_NOTICES), "a notice kind without its text"
# A notice's text goes after the commit; the sweeper sends it if nothing has by then.
TEXT_SEND_BY = timedelta(minutes=1)


@dataclass(frozen=True)
class Recipient:
    """A member of staff a notice is for, and their mobile if their record has one."""

    staff_id: int
    mobile: str | None = None


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
    recipients: Iterable[Recipient],
    filing_id: int | None,
    now: datetime,
    **detail: Any,
) -> None:
    """Leave a notice of `kind` for each recipient, and text those with a mobile; `cause`
    names what happened once (a material's id), so that the same cause never makes a
    second notice, nor a second text. The caller sends the texts after its commit
    (`outbox.send_after_commit`)."""
    keys = {f"{kind}:{cause}:{r.staff_id}": r for r in recipients}
    known = set(session.scalars(select(StaffNotice.key).where(StaffNotice.key.in_(keys))))
    new = {key: recipient for key, recipient in keys.items() if key not in known}
    session.add_all(
        StaffNotice(
            key=key,
            staff_id=recipient.staff_id,
            filing_id=filing_id,
            kind=kind,
            detail=detail,
            created_at=now,
        )
        for key, recipient in new.items()
    )
    mobiles = {r.mobile for r in new.values() if r.mobile}
    if mobiles:
        text = texts.staff_notice(
            kind,
            tracking_code=str(detail.get("tracking_code", "")),
            company_name=str(detail.get("company_name", "")),
        )
        for mobile in sorted(mobiles):
            outbox.record(
                session.connection(),
                text=text,
                mobile=mobile,
                filing_id=filing_id,
                now=now,
                send_by=now + TEXT_SEND_BY,
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
