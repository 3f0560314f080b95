"""Who works where: districts, bank branches, staff and the tokens they call the API with."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from orchestrator.db import Base, str_enum


class Role(enum.StrEnum):
    """What a member of staff may do."""

    CLERK = "clerk"  # files and follows the filings of their own branch
    BRANCH_MANAGER = "branch_manager"  # the same, and manages the branch's clerks
    OFFICER = "officer"  # market supervision: reads everything in their district
    ADMIN = "admin"  # everything


class District(Base):
    """A county-level division (GB/T 2260) running an enterprise-opening desk."""

    __tablename__ = "district"

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(40))


class Branch(Base):
    """A partner bank branch that files on its clients' behalf (银行网点代办)."""

    __tablename__ = "branch"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    bank_code: Mapped[str] = mapped_column(String(20))
    district_code: Mapped[str] = mapped_column(ForeignKey("district.code"))

    district: Mapped[District] = relationship()


class Staff(Base):
    """A person who signs in: branch staff, an officer or an administrator."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    role: Mapped[Role] = mapped_column(str_enum(Role))
    district_code: Mapped[str] = mapped_column(ForeignKey("district.code"))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    # Where escalations are texted beside the inbox (`onestop staff mobile`); none: inbox only.
    mobile: Mapped[str | None] = mapped_column(String(20))

    branch: Mapped[Branch | None] = relationship()


TOKEN_LABEL_LENGTH = 100


class ApiToken(Base):
    """A bearer token issued to a member of staff; only its SHA-256 digest is stored.

    No token is live past the maximum lifetime from its creation (`identity.service.ends_at`)
    nor past its `expires_at`, which only tokens issued before every token had to expire
    lack.
    """

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(TOKEN_LABEL_LENGTH), default="")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # Written at most once a minute (`identity.service.record_token_use`), not per request.
    last_used_at: Mapped[datetime | None]

    staff: Mapped[Staff] = relationship()


class StaffSession(Base):
    """A browser's session of the staff portal, kept in the database; only the SHA-256 digest
    of its id is stored, so a copy of the table lets nobody in.

    A session without `staff_id` is a visitor's, before signing in: it holds the CSRF token
    of the login form and the language chosen. Signing in replaces it with a new session
    (a new id), so an id planted before sign-in is worth nothing after (session fixation).
    """

    __tablename__ = "staff_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime]
    # Written at most once a minute (`identity.sessions.SESSION_TOUCH_PRECISION`).
    last_seen_at: Mapped[datetime] = mapped_column(index=True)

    staff: Mapped[Staff | None] = relationship()
