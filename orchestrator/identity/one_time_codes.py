"""One-time codes for the tracking page: acting on a filing (supplying a material, rating)
needs a code texted to the legal representative's mobile.

`issue` makes a 6-digit code for a filing and a purpose, keeps only a salted hash of it,
and sends it through the outbox; it expires after `LIFETIME`, and a newer code of the same
purpose replaces it. At most `MAX_PER_HOUR` codes are issued per filing in any hour (texts
cost money and pester the applicant). `verify` consumes the code; after `MAX_ATTEMPTS`
wrong codes it is dead, so a 6-digit code cannot be guessed by trying.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import ForeignKey, Index, String, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from orchestrator.db import Base
from orchestrator.errors import TooManyRequests
from orchestrator.notifications import notices, outbox
from orchestrator.notifications.texts import PURPOSES

LIFETIME = timedelta(minutes=10)
MAX_PER_HOUR = 5
MAX_ATTEMPTS = 5
DIGITS = 6


class Purpose(enum.StrEnum):
    """What a code lets the applicant do on the tracking page."""

    SUPPLEMENT = "supplement"  # supply a 容缺 material
    RATE = "rate"  # rate the service (好差评)


if set(Purpose) != set(PURPOSES):  # every purpose has its words in the text, and only those
    raise RuntimeError(f"texts.PURPOSES {sorted(PURPOSES)} != Purpose {sorted(Purpose)}")


class OneTimeCode(Base):
    """One code issued: a salted hash of it, never the code."""

    __tablename__ = "one_time_code"
    __table_args__ = (Index("ix_one_time_code_filing", "filing_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    filing_id: Mapped[int] = mapped_column(ForeignKey("filing.id"))
    purpose: Mapped[str] = mapped_column(String(20))
    salt: Mapped[str] = mapped_column(String(32))
    digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    # Used, replaced by a newer code, or dead of wrong attempts: never valid again.
    spent_at: Mapped[datetime | None]


class CodeHolder(Protocol):
    """What a code needs of a filing (the `Filing` ORM object, which this layer cannot name)."""

    id: int
    payload: dict[str, Any]


def _digest(salt: str, code: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def issue(session: Session, *, filing: CodeHolder, purpose: str, now: datetime) -> datetime:
    """Text a new code for `purpose` to the filing's legal representative; when it expires.

    `filing` is loaded in `session` (its row is locked while the limit is counted); the
    text goes through the outbox once the caller commits.

    Raises `TooManyRequests` past `MAX_PER_HOUR` codes for the filing in the last hour, and
    `ValueError` for an unknown purpose (a caller's bug, not the applicant's).
    """
    purpose = Purpose(purpose).value
    # Serialise issues for one filing (the row lock), so that the hourly limit holds.
    session.refresh(filing, with_for_update={"key_share": True})
    recent = session.scalar(
        select(func.count())
        .select_from(OneTimeCode)
        .where(
            OneTimeCode.filing_id == filing.id, OneTimeCode.created_at > now - timedelta(hours=1)
        )
    )
    if (recent or 0) >= MAX_PER_HOUR:
        raise TooManyRequests(
            "验证码发送过于频繁，请一小时后再试",
            "too many codes were sent for this filing: try again in an hour",
            retry_after=3600,
        )
    session.execute(
        update(OneTimeCode)
        .where(
            OneTimeCode.filing_id == filing.id,
            OneTimeCode.purpose == purpose,
            OneTimeCode.spent_at.is_(None),
        )
        .values(spent_at=now)
    )
    code = f"{secrets.randbelow(10**DIGITS):0{DIGITS}d}"
    salt = secrets.token_hex(16)
    expires_at = now + LIFETIME
    session.add(
        OneTimeCode(
            filing_id=filing.id,
            purpose=purpose,
            salt=salt,
            digest=_digest(salt, code),
            created_at=now,
            expires_at=expires_at,
            attempts=0,
        )
    )
    session.flush()
    notices.send_code(
        session.connection(),
        filing_id=filing.id,
        mobile=filing.payload["legal_representative"]["mobile"],
        code=code,
        purpose=purpose,
        now=now,
        expires_at=expires_at,
    )
    outbox.send_after_commit(session)
    return expires_at


def verify(session: Session, *, filing: CodeHolder, purpose: str, code: str, now: datetime) -> bool:
    """Whether `code` is the filing's live code for `purpose`; a right code is used up.

    A wrong code counts against the live one, which dies at `MAX_ATTEMPTS` wrong codes;
    asked again after that, `TooManyRequests` says to ask for a new code. The count is a
    write: the caller commits after a False too (raising a refusal that rolls back would
    let a guesser try for ever).
    """
    purpose = Purpose(purpose).value
    live = session.scalars(
        select(OneTimeCode)
        .where(
            OneTimeCode.filing_id == filing.id,
            OneTimeCode.purpose == purpose,
            OneTimeCode.spent_at.is_(None),
        )
        .order_by(OneTimeCode.id.desc())
        .limit(1)
        .with_for_update()
    ).one_or_none()
    if live is None:
        if _died_of_attempts(session, filing.id, purpose, now):
            raise TooManyRequests(
                "验证码错误次数过多，请重新获取验证码",
                "too many wrong codes: ask for a new code",
            )
        return False
    if live.expires_at <= now:
        live.spent_at = now
        return False
    given = code.strip()
    if len(given) == DIGITS and given.isascii() and given.isdigit():
        right = hmac.compare_digest(_digest(live.salt, given), live.digest)
    else:
        right = False
    if right:
        live.spent_at = now
        return True
    live.attempts += 1
    if live.attempts >= MAX_ATTEMPTS:
        live.spent_at = now
    return False


def _died_of_attempts(session: Session, filing_id: int, purpose: str, now: datetime) -> bool:
    """Whether the filing's latest code for `purpose` died of wrong attempts, unexpired."""
    latest = session.scalars(
        select(OneTimeCode)
        .where(OneTimeCode.filing_id == filing_id, OneTimeCode.purpose == purpose)
        .order_by(OneTimeCode.id.desc())
        .limit(1)
    ).one_or_none()
    return latest is not None and latest.attempts >= MAX_ATTEMPTS and latest.expires_at > now
