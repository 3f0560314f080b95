"""Drafts of the clerk's one form and the materials uploaded with them.

A clerk may leave a filing half typed and come back: the form is kept as typed (strings,
not yet a `FilingInput`) in a draft of their branch; uploads hang on the draft until it is
filed, then on the filing too. A draft is filed under an idempotency key of its own, so a
second submit of the same draft finds the filing of the first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from orchestrator.calendar import WorkingCalendar
from orchestrator.db import Base
from orchestrator.errors import Invalid, NotFound
from orchestrator.filings import service
from orchestrator.filings.history import record
from orchestrator.filings.models import Event
from orchestrator.filings.schemas import FilingInput
from orchestrator.identity.service import Scope


class Draft(Base):
    """A filing being typed at a branch; `tracking_code` once it is filed."""

    __tablename__ = "filing_draft"
    __table_args__ = (Index("ix_filing_draft_branch_updated", "branch_id", "updated_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    form: Mapped[dict[str, Any]]  # field name -> what was typed
    tracking_code: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    @property
    def idempotency_key(self) -> str:
        """The key the draft is filed under: the same draft never files twice."""
        return idempotency_key(self.id)


class Upload(Base):
    """A material uploaded for a draft: what it is, and where its bytes are stored."""

    __tablename__ = "upload"
    __table_args__ = (Index("ix_upload_draft_material", "draft_id", "material"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("filing_draft.id"))
    material: Mapped[str] = mapped_column(String(40))
    filename: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    storage: Mapped[str] = mapped_column(String(20))  # which store holds the bytes
    content: Mapped[bytes | None] = mapped_column(LargeBinary)  # the database store's
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime]


def idempotency_key(draft_id: int) -> str:
    """The idempotency key a draft is filed under."""
    return f"portal-draft-{draft_id}"


def new_draft(session: Session, *, branch_id: int, staff_id: int, now: datetime) -> Draft:
    """An empty draft of the branch's, begun by `staff_id`."""
    draft = Draft(branch_id=branch_id, staff_id=staff_id, form={}, created_at=now, updated_at=now)
    session.add(draft)
    session.flush()
    return draft


def get_draft(session: Session, scope: Scope, draft_id: int) -> Draft:
    """The draft, if it is of the caller's branch (another branch's is not found)."""
    draft = session.get(Draft, draft_id)
    if draft is None or scope.branch_id is None or draft.branch_id != scope.branch_id:
        raise NotFound("草稿不存在", "no such draft")
    return draft


def open_drafts(session: Session, scope: Scope, *, limit: int = 20) -> list[Draft]:
    """The branch's drafts not yet filed, the latest touched first."""
    return list(
        session.scalars(
            select(Draft)
            .where(Draft.branch_id == scope.branch_id, Draft.tracking_code.is_(None))
            .order_by(Draft.updated_at.desc())
            .limit(limit)
        )
    )


def save_form(session: Session, draft: Draft, form: dict[str, Any], *, now: datetime) -> None:
    """Keep what the clerk typed (a filed draft is not changed)."""
    if draft.tracking_code is None:
        draft.form = form
        draft.updated_at = now


def uploads_of(session: Session, draft_id: int) -> list[Upload]:
    """The draft's uploads, the latest of each material last."""
    return list(
        session.scalars(select(Upload).where(Upload.draft_id == draft_id).order_by(Upload.id))
    )


MANDATE = "branch_mandate"  # the client's mandate to the branch (授权委托书), a material


def file_draft(
    session: Session,
    *,
    actor: service.Actor,
    staff_id: int,
    draft: Draft,
    data: FilingInput,
    identity_checked: bool,
    now: datetime,
    lease_until: datetime,
    calendar: WorkingCalendar,
) -> str:
    """File the draft as the branch, an agent on record; returns the tracking code.

    The clerk must have checked the legal representative's identity in person and uploaded
    the client's mandate; both are recorded with the filing (an event). A draft filed
    already returns its filing: a second submit never files twice.
    """

    if draft.tracking_code is not None:
        return draft.tracking_code
    mandate = next(
        (u for u in reversed(uploads_of(session, draft.id)) if u.material == MANDATE), None
    )
    errors: list[tuple[str, str, str, str]] = []
    if not identity_checked:
        errors.append(("identity_checked", "identity_not_checked", "请先当面核验法定代表人身份",
                       "check the legal representative's identity in person first"))  # fmt: skip
    if mandate is None:
        errors.append((MANDATE, "mandate_missing", "请上传委托人的授权委托书",
                       "upload the client's mandate to the branch"))  # fmt: skip
    if errors:
        raise Invalid("填写有误，请按字段修改", "some fields are invalid", errors=[
            {"field": f, "code": c, "message_zh": zh, "message_en": en} for f, c, zh, en in errors
        ])  # fmt: skip
    assert mandate is not None
    filed = service.file_filing(
        session,
        actor=actor,
        staff_id=staff_id,
        data=data,
        idempotency_key=draft.idempotency_key,
        now=now,
        lease_until=lease_until,
        calendar=calendar,
    )
    if filed.created:
        record(
            session,
            filed.filing.id,
            "filed_as_agent",
            at=now,
            actor=actor.name,
            branch_id=draft.branch_id,
            identity_checked_in_person=True,
            mandate_upload_id=mandate.id,
            mandate_sha256=mandate.sha256,
        )
    draft.tracking_code = filed.filing.tracking_code
    draft.updated_at = now
    return filed.filing.tracking_code


def agent_record(session: Session, filing_id: int) -> dict[str, Any] | None:
    """The record that the branch filed as the client's agent, if it did."""
    event = session.scalars(
        select(Event).where(Event.filing_id == filing_id, Event.kind == "filed_as_agent")
    ).first()
    return None if event is None else {"at": event.at, "actor": event.actor, **event.detail}
