"""The entrepreneur's view of their filing (/track): who may open it, for how long, and what
they see.

A filing opens to whoever holds its tracking code (printed on the receipt) and the last four
digits of its legal representative's mobile. What opens is a tracking session: a server-side
row, only the SHA-256 digest of its id stored (as for staff sessions), that names that one
filing and ends a fixed, short time after it was opened, busy or not. A visitor who has not
opened a filing yet has a session too, holding the form's CSRF token and the language chosen.

What the page shows is `TrackingView`: built from the masked detail view, never from the raw
application, so no resident ID and no digit of a mobile past the first three can reach it.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import ForeignKey, String, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, selectinload

from orchestrator.calendar import WorkingCalendar
from orchestrator.db import Base
from orchestrator.filings import documents, views
from orchestrator.filings.models import Document, Event, Filing, MaterialStatus, StepStatus
from orchestrator.identity.sessions import new_browser_session, session_digest, tokens_match
from orchestrator.reference import load_reference
from orchestrator.workflow import CREDIT_CODE, HANDOVER_STEP, step_giving

# What the visitor types: the code as printed (any case, spaces allowed) and four digits.
_DIGITS = re.compile(r"[0-9]{4}")
# Compared against when no filing has the code, so that a code that does not exist takes as
# long to refuse as wrong digits (no telling which codes exist).
_DECOY_DIGITS = "----"


class TrackingSession(Base):
    """A browser's session of the tracking page; `filing_id` once a filing was opened in it."""

    __tablename__ = "tracking_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    filing_id: Mapped[int | None] = mapped_column(ForeignKey("filing.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(index=True)


@dataclass(frozen=True)
class Visitor:
    """A live tracking session: its row, CSRF token, language, and the filing it opened."""

    row_id: int
    csrf_token: str
    language: str
    filing_id: int | None


def normalized_code(text: str) -> str:
    """A tracking code as typed (any case, spaces or dashes) in the form it is stored."""
    return re.sub(r"[\s-]", "", text).upper()


def open_visit(
    session: Session, *, now: datetime, language: str, filing_id: int | None = None
) -> str:
    """A new tracking session; returns its id, which only the cookie keeps."""
    session_id, row = new_browser_session(
        TrackingSession, filing_id=filing_id, language=language, created_at=now
    )
    session.add(row)
    return session_id


def find_visit(
    session: Session, session_id: str, *, now: datetime, lifetime: timedelta
) -> Visitor | None:
    """The live tracking session `session_id` names, or None (unknown or ended)."""
    row = session.scalars(
        select(TrackingSession).where(TrackingSession.digest == session_digest(session_id))
    ).first()
    if row is None or row.created_at <= now - lifetime:
        return None
    return Visitor(row.id, row.csrf_token, row.language, row.filing_id)


def csrf_matches(visitor: Visitor, submitted: str | None) -> bool:
    """Whether a form's token is the session's, compared in constant time."""
    return tokens_match(visitor.csrf_token, submitted)


def set_language(session: Session, *, row_id: int, language: str) -> None:
    """Show the session's pages in `language` from now on."""
    session.execute(
        update(TrackingSession).where(TrackingSession.id == row_id).values(language=language)
    )


def end_visit(session: Session, session_id: str) -> None:
    """End the tracking session `session_id` (nothing if it is unknown)."""
    session.execute(
        delete(TrackingSession).where(TrackingSession.digest == session_digest(session_id))
    )


def _mobile_of(filing: Filing) -> str:
    representative = filing.payload.get("legal_representative", {})
    mobile = representative.get("mobile", "") if isinstance(representative, dict) else ""
    return mobile if isinstance(mobile, str) else ""


def open_filing(
    session: Session,
    *,
    tracking_code: str,
    mobile_last_four: str,
    replacing: str | None,
    language: str,
    now: datetime,
    lifetime: timedelta,
) -> str | None:
    """A new tracking session for the filing `tracking_code` if `mobile_last_four` are the last
    four digits of its legal representative's mobile; None otherwise, the same None whether
    the code exists or not. The session `replacing` (the form's) ends: the id changes when a
    filing opens. Tracking sessions that have ended, anyone's, are swept on the way."""
    code = normalized_code(tracking_code)
    filing = session.scalars(select(Filing).where(Filing.tracking_code == code)).first()
    expected = _mobile_of(filing)[-4:] if filing is not None else _DECOY_DIGITS
    given = mobile_last_four.strip()
    well_formed = _DIGITS.fullmatch(given) is not None
    if not (hmac.compare_digest(expected.encode(), given.encode()) and well_formed):
        return None
    assert filing is not None  # the decoy never matches four digits
    session.execute(delete(TrackingSession).where(TrackingSession.created_at <= now - lifetime))
    if replacing is not None:
        end_visit(session, replacing)
    return open_visit(session, now=now, language=language, filing_id=filing.id)


def filing_of(session: Session, visitor: Visitor) -> Filing | None:
    """The filing the session opened, with its steps and materials; None if it opened none."""
    if visitor.filing_id is None:
        return None
    return session.scalars(
        select(Filing)
        .where(Filing.id == visitor.filing_id)
        .options(selectinload(Filing.steps), selectinload(Filing.materials))
    ).first()


# What the tracking page shows ------------------------------------------------------------


class TimelineStep(BaseModel):
    name: str
    label_zh: str
    label_en: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None


class ToSupply(BaseModel):
    """A 容缺 material still to supply, and by when."""

    code: str
    name_zh: str
    name_en: str
    due_at: datetime | None
    due_provisional: bool


class CourierStatus(BaseModel):
    """Where the licence and seals are, when they travel by courier."""

    status: str  # the delivery step's status
    waybill: str | None  # from the courier's first answer (in transit) or its last
    state: str | None  # the courier's own word ("delivered")


class TrackingView(BaseModel):
    tracking_code: str
    company_name: str
    status: str
    accepted_at: datetime
    deadline_at: datetime
    deadline_provisional: bool
    deadline_working_days: float
    ready_at: datetime | None
    completed_at: datetime | None
    credit_code: str | None  # once registration is done
    licence_available: bool  # the e-licence can be downloaded
    steps: list[TimelineStep]
    holders: list[TimelineStep]  # the steps (their agencies) that hold the filing now
    to_supply: list[ToSupply]
    courier: CourierStatus | None
    mobile_prefix: str  # the first three digits, never more


# Where a filing is "held": an agency works on it, or waits for the applicant or the branch.
_HOLDING = {
    StepStatus.READY.value,
    StepStatus.RUNNING.value,
    StepStatus.SUBMITTED.value,
    StepStatus.BLOCKED.value,
    StepStatus.AT_BRANCH.value,
}


def tracking_view(session: Session, filing: Filing, calendar: WorkingCalendar) -> TrackingView:
    """What the applicant sees of `filing`, personal numbers masked: its part of the masked
    detail view (the fields of the same name), and what only the page shows."""
    shown = views.detail(filing, [], calendar, reveal_personal_data=False)
    steps = [TimelineStep.model_validate(s, from_attributes=True) for s in shown.steps]
    registered = any(
        s.name == step_giving(CREDIT_CODE) and s.status == StepStatus.DONE.value
        for s in shown.steps
    )
    licence = licence_of(session, filing) if registered else None
    catalogue = load_reference().materials
    to_supply = [
        ToSupply(
            code=m.code,
            name_zh=catalogue[m.code].name_zh if m.code in catalogue else m.code,
            name_en=catalogue[m.code].name_en if m.code in catalogue else m.code,
            due_at=m.due_at,
            due_provisional=m.due_provisional,
        )
        for m in shown.materials
        if m.status == MaterialStatus.MISSING.value
    ]
    return TrackingView.model_validate(
        {
            **shown.model_dump(),
            "deadline_working_days": calendar.elapsed_days(shown.accepted_at, shown.deadline_at),
            "credit_code": shown.credit_code if registered else None,
            "licence_available": licence is not None,
            "steps": steps,
            "holders": [s for s in steps if s.status in _HOLDING],
            "to_supply": to_supply,
            "courier": _courier(shown, _ticket(session, filing.id)),
            "mobile_prefix": _mobile_of(filing)[:3],
        }
    )


def _ticket(session: Session, filing_id: int) -> str | None:
    """The waybill the courier gave with its first answer, while the parcel travels."""
    detail = session.scalars(
        select(Event.detail)
        .where(
            Event.filing_id == filing_id,
            Event.step == HANDOVER_STEP,
            Event.kind == "submitted",
        )
        .order_by(Event.id.desc())
        .limit(1)
    ).first()
    ticket = (detail or {}).get("ticket")
    return ticket if isinstance(ticket, str) and ticket else None


def _courier(shown: views.FilingDetail, ticket: str | None = None) -> CourierStatus | None:
    delivery = shown.application.get("delivery", {})
    if not isinstance(delivery, dict) or delivery.get("method") != "courier":
        return None
    step = next((s for s in shown.steps if s.name == HANDOVER_STEP), None)
    if step is None:
        return None
    result = step.result or {}
    waybill, state = result.get("waybill"), result.get("state")
    return CourierStatus(
        status=step.status,
        waybill=waybill if isinstance(waybill, str) else ticket,
        state=state if isinstance(state, str) else None,
    )


def licence_of(session: Session, filing: Filing) -> Document | None:
    """The filing's e-licence, once registration is done and the authority issued one."""
    if not filing.credit_code:
        return None
    return documents.latest_of_filing(session, filing.id, documents.LICENCE)
