"""容缺 materials the applicant sends from the tracking page, waiting for the branch.

What the entrepreneur sends is not applied at once: it waits as a pending supplement (the
upload, the fields the material carries, when it came), validated as at intake when it is
sent so that the applicant sees their mistakes at once. The branch then confirms it, which
runs the core's one supplement path (`service.supplement_material`: the material supplied,
its fields set, the blocked steps unblocked, exactly once), or refuses it with a reason the
applicant reads on the tracking page, the material still due.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, ForeignKey, Index, LargeBinary, String, Text, exists, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from orchestrator.calendar import WorkingCalendar
from orchestrator.db import Base, str_enum
from orchestrator.errors import Conflict, Invalid, NotFound
from orchestrator.filings import service
from orchestrator.filings.acceptance import supplemented
from orchestrator.filings.history import record
from orchestrator.filings.models import Filing, FilingStatus, MaterialStatus
from orchestrator.filings.uploads import UploadStore, checked_media_type, file_columns
from orchestrator.identity.service import Scope
from orchestrator.privacy import masked
from orchestrator.reference import load_reference
from orchestrator.validation import FieldError, field_errors

APPLICANT = "applicant"  # the actor of events the tracking page records
MAX_REASON = 500


class SupplementStatus(enum.StrEnum):
    """Where a supplement the applicant sent stands."""

    PENDING = "pending"  # waits for the branch
    CONFIRMED = "confirmed"  # the branch confirmed it: the material is supplied
    REFUSED = "refused"  # the branch refused it, with a reason; the material is still due


class PendingSupplement(Base):
    """A 容缺 material sent from the tracking page: its upload, the fields it carries, and
    the branch's answer. Its bytes are kept by an `UploadStore` (the database's: this row)."""

    __tablename__ = "pending_supplement"
    __table_args__ = (Index("ix_pending_supplement_filing_status", "filing_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    filing_id: Mapped[int] = mapped_column(ForeignKey("filing.id"))
    material: Mapped[str] = mapped_column(String(40))
    status: Mapped[SupplementStatus] = mapped_column(str_enum(SupplementStatus))
    data: Mapped[dict[str, Any]]  # the fields the material carries, as sent
    filename: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    storage: Mapped[str] = mapped_column(String(20))
    content: Mapped[bytes | None] = mapped_column(LargeBinary)  # the database store's
    submitted_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(60))
    reason: Mapped[str | None] = mapped_column(Text)  # why the branch refused it


def _errors(errors: list[FieldError]) -> Invalid:
    return Invalid(
        "补正内容有误，请按字段修改",
        "the supplement is invalid: see each field",
        errors=[error.model_dump() for error in errors],
    )


def _required(field: str) -> FieldError:
    return FieldError(field=field, code="missing", message_zh="请填写此项",
                      message_en="this field is required")  # fmt: skip


def carried_fields(material_code: str) -> tuple[str, ...]:
    """The filing's fields a supplement of the material sets (the catalogue's `carries`)."""
    entry = load_reference().materials.get(material_code)
    return entry.carries if entry is not None else ()


def _due(filing: Filing, material_code: str) -> bool:
    return any(
        m.code == material_code and m.status == MaterialStatus.MISSING for m in filing.materials
    )


def _open_of(session: Session, filing_id: int, material_code: str) -> PendingSupplement | None:
    return session.scalars(
        select(PendingSupplement).where(
            PendingSupplement.filing_id == filing_id,
            PendingSupplement.material == material_code,
            PendingSupplement.status == SupplementStatus.PENDING,
        )
    ).first()


def submit(
    session: Session,
    store: UploadStore,
    *,
    filing: Filing,
    material_code: str,
    filename: str,
    content: bytes,
    data: dict[str, Any],
    now: datetime,
) -> PendingSupplement:
    """Keep what the applicant sent for a 容缺 material still due, to wait for the branch.

    The upload is checked as at intake (its bytes sniffed, its size limited) and `data`, the
    fields the material carries, each required and validated as at intake; each error names
    its field (`file`, or the field's path). Nothing is kept when anything is wrong.
    """
    # The filing's row locked: two sends at once cannot both wait for the same material.
    session.execute(select(Filing.id).where(Filing.id == filing.id).with_for_update(key_share=True))
    entry = load_reference().materials.get(material_code)
    if entry is None or not _due(filing, material_code):
        raise NotFound(
            "该申请没有待补正的此项材料",
            "this filing has no such material to supplement",
            material=material_code,
        )
    if filing.status == FilingStatus.CANCELLED:
        raise Conflict("该申请已撤销", "this filing has been cancelled", material=material_code)
    if _open_of(session, filing.id, material_code) is not None:
        raise Conflict(
            "该材料已提交，正等待网点确认",
            "this material was sent and waits for the branch",
            material=material_code,
        )
    errors: list[FieldError] = []
    try:
        media_type = checked_media_type(filename, content)
    except Invalid as refused:
        errors += [FieldError.model_validate(e) for e in refused.detail["errors"]]
        media_type = ""
    carried = {field: data.get(field) for field in entry.carries}
    errors += [_required(field) for field, value in carried.items() if value in (None, [], "")]
    if not errors:
        try:
            supplemented(filing.payload, entry, carried)
        except ValidationError as exc:
            errors += field_errors(exc)
    if errors:
        raise _errors(errors)
    row = PendingSupplement(
        filing_id=filing.id,
        material=material_code,
        status=SupplementStatus.PENDING,
        data=carried,
        **file_columns(store, filename=filename, media_type=media_type, content=content),
        submitted_at=now,
    )
    store.put(row, content)
    session.add(row)
    session.flush()
    record(session, filing.id, "supplement_sent", at=now, actor=APPLICANT,
           material=material_code, supplement_id=row.id, data=masked(carried),
           sha256=row.sha256)  # fmt: skip
    return row


def of_filing(session: Session, filing_id: int) -> list[PendingSupplement]:
    """The filing's supplements sent from the tracking page, oldest first."""
    return list(
        session.scalars(
            select(PendingSupplement)
            .where(PendingSupplement.filing_id == filing_id)
            .order_by(PendingSupplement.id)
        )
    )


def awaiting_confirmation() -> ColumnElement[bool]:
    """Whether a filing has a supplement waiting for the branch to confirm it: the condition
    on `Filing` of the work queue's "supplement to confirm" bucket (`queue.condition`)."""
    return exists(
        select(PendingSupplement.id).where(
            PendingSupplement.filing_id == Filing.id,
            PendingSupplement.status == SupplementStatus.PENDING,
        )
    )


def _locked(
    session: Session, scope: Scope, tracking_code: str, supplement_id: int
) -> tuple[Filing, PendingSupplement]:
    filing = service.get_filing(session, scope, tracking_code, lock=True)
    row = session.scalars(
        select(PendingSupplement)
        .where(PendingSupplement.id == supplement_id, PendingSupplement.filing_id == filing.id)
        .with_for_update()
    ).first()
    if row is None:
        raise NotFound("未找到该补正", "no such supplement", supplement_id=supplement_id)
    if row.status != SupplementStatus.PENDING:
        raise Conflict("该补正已处理", "this supplement has been dealt with already",
                       status=row.status.value)  # fmt: skip
    return filing, row


def confirm(
    session: Session,
    *,
    actor: service.Actor,
    tracking_code: str,
    supplement_id: int,
    now: datetime,
    lease_until: datetime,
    calendar: WorkingCalendar | None = None,
) -> PendingSupplement:
    """The branch confirms a supplement: the core's supplement path sets the fields it
    carries and unblocks its steps, once (a second confirm is a Conflict)."""
    _filing, row = _locked(session, actor.scope, tracking_code, supplement_id)
    service.supplement_material(
        session,
        actor=actor,
        tracking_code=tracking_code,
        material_code=row.material,
        data=dict(row.data),
        now=now,
        lease_until=lease_until,
        calendar=calendar,
    )
    row.status = SupplementStatus.CONFIRMED
    row.decided_at, row.decided_by = now, actor.name
    session.flush()
    return row


def refuse(
    session: Session,
    *,
    actor: service.Actor,
    tracking_code: str,
    supplement_id: int,
    reason: str,
    now: datetime,
) -> PendingSupplement:
    """The branch refuses a supplement, saying why: the applicant reads the reason on the
    tracking page, and the material stays due (they may send it again)."""
    filing, row = _locked(session, actor.scope, tracking_code, supplement_id)
    service.require_branch_staff(actor)
    reason = reason.strip()
    if not reason:
        raise _errors([_required("reason")])
    if len(reason) > MAX_REASON:
        raise _errors([FieldError(field="reason", code="too_long",
                                  message_zh=f"不超过 {MAX_REASON} 字",
                                  message_en=f"at most {MAX_REASON} characters")])  # fmt: skip
    row.status = SupplementStatus.REFUSED
    row.decided_at, row.decided_by, row.reason = now, actor.name, reason
    record(session, filing.id, "supplement_refused", at=now, actor=actor.name,
           material=row.material, supplement_id=row.id)  # fmt: skip
    session.flush()
    return row
