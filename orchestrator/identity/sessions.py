"""The staff portal's server-side sessions: signing in with a password, timeouts, sign-out.

A session's id lives in the browser's cookie and nowhere else: the database keeps its
SHA-256 digest (as for API tokens). A session ends when it was idle longer than the idle
timeout, or lived longer than the absolute one, whichever comes first; a member of staff
who is deactivated loses every session at the next request.

Each session carries a synchronizer token against cross-site request forgery (a form posts
it back; `csrf_matches` compares in constant time) and the language its pages are shown in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session, joinedload

from orchestrator.errors import Invalid
from orchestrator.identity.models import Branch, Role, Staff, StaffSession
from orchestrator.identity.service import Scope, check_password, hash_password, staff_named

# The shortest password `set_password` accepts: lockout slows guessing down online, and a
# length floor keeps a stolen hash expensive to search offline.
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200

RowT = TypeVar("RowT")

# How precisely a session's last activity is kept: recording every page would write a row
# per request, where the idle timeout is counted in minutes.
SESSION_TOUCH_PRECISION = timedelta(minutes=1)

# A password hash to check against when no such user exists, so that an unknown username
# takes as long to refuse as a wrong password (no telling which usernames exist).
_DECOY_HASH = hash_password(secrets.token_urlsafe(16))


def session_digest(session_id: str) -> str:
    """What the database keeps of a browser session's id (staff portal or tracking page)."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def new_browser_session(row: Callable[..., RowT], **columns: Any) -> tuple[str, RowT]:
    """A new browser session: its id, which only the cookie keeps, and its `row` (of the staff
    portal's sessions or the tracking page's) with the id's digest and a CSRF token."""
    session_id = secrets.token_urlsafe(32)
    token = secrets.token_urlsafe(32)
    return session_id, row(digest=session_digest(session_id), csrf_token=token, **columns)


def tokens_match(expected: str, submitted: str | None) -> bool:
    """Whether a form's CSRF token is the session's, compared in constant time."""
    return submitted is not None and hmac.compare_digest(expected.encode(), submitted.encode())


@dataclass(frozen=True)
class SessionTimeouts:
    """When a session ends: `idle` after its last request, `absolute` after its start."""

    idle: timedelta
    absolute: timedelta


@dataclass(frozen=True)
class SignedIn:
    """The member of staff a live session belongs to, as the portal needs them."""

    staff_id: int
    username: str
    name: str
    role: Role
    branch_name: str | None
    scope: Scope

    @property
    def actor(self) -> str:
        """How events name this member of staff (as the API names a bearer)."""
        return f"staff:{self.username}"


@dataclass(frozen=True)
class LiveSession:
    """A session found live: its row's id, its CSRF token and language, who signed in."""

    row_id: int
    csrf_token: str
    language: str
    staff: SignedIn | None  # None: a visitor who has not signed in
    touch_due: bool  # no activity recorded within SESSION_TOUCH_PRECISION: `touch`


def open_session(
    session: Session, *, now: datetime, language: str, staff_id: int | None = None
) -> str:
    """A new session (a visitor's, or a member of staff's); returns its id, which only the
    cookie keeps."""
    session_id, row = new_browser_session(
        StaffSession, staff_id=staff_id, language=language, created_at=now, last_seen_at=now
    )
    session.add(row)
    return session_id


def _ended(row: StaffSession, *, now: datetime, timeouts: SessionTimeouts) -> bool:
    return row.last_seen_at <= now - timeouts.idle or row.created_at <= now - timeouts.absolute


def find_session(
    session: Session, session_id: str, *, now: datetime, timeouts: SessionTimeouts
) -> LiveSession | None:
    """The live session `session_id` names, or None (unknown, timed out, or its member of
    staff deactivated)."""
    row = session.scalars(
        select(StaffSession)
        .options(joinedload(StaffSession.staff).joinedload(Staff.branch))
        .where(StaffSession.digest == session_digest(session_id))
    ).first()
    if row is None or _ended(row, now=now, timeouts=timeouts):
        return None
    signed_in = None
    if row.staff is not None:
        if not row.staff.active:
            return None
        branch: Branch | None = row.staff.branch
        signed_in = SignedIn(
            staff_id=row.staff.id,
            username=row.staff.username,
            name=row.staff.name,
            role=row.staff.role,
            branch_name=branch.name if branch is not None else None,
            scope=Scope.of(row.staff),
        )
    return LiveSession(
        row_id=row.id,
        csrf_token=row.csrf_token,
        language=row.language,
        staff=signed_in,
        touch_due=row.last_seen_at <= now - SESSION_TOUCH_PRECISION,
    )


def touch(session: Session, *, row_id: int, now: datetime) -> None:
    """Record activity on the session at `now` (it idles from there)."""
    session.execute(
        update(StaffSession)
        .where(StaffSession.id == row_id, StaffSession.last_seen_at < now)
        .values(last_seen_at=now)
    )


def csrf_matches(live: LiveSession, submitted: str | None) -> bool:
    """Whether a form's token is the session's, compared in constant time."""
    return tokens_match(live.csrf_token, submitted)


@dataclass(frozen=True)
class PasswordMatch:
    """A member of staff whose password was right, and a fresher hash of it, if due."""

    staff_id: int
    rehashed: str | None  # argon2's parameters moved on since the stored hash: keep this


def staff_with_password(session: Session, username: str, password: str) -> PasswordMatch | None:
    """The active member of staff `username` if `password` is theirs, else None.

    An unknown username costs a password check all the same (against a decoy hash). Only
    reads: run it in a reading session, so that the slow hash holds up no writer.
    """
    staff = session.scalars(select(Staff).where(Staff.username == username)).first()
    if staff is None or not staff.password_hash:
        check_password(Staff(password_hash=_DECOY_HASH), password)
        return None
    stored = staff.password_hash
    if not check_password(staff, password) or not staff.active:
        return None
    fresher = staff.password_hash if staff.password_hash != stored else None
    staff.password_hash = stored  # nothing changes in the reading session
    return PasswordMatch(staff_id=staff.id, rehashed=fresher)


def sign_in(
    session: Session,
    match: PasswordMatch,
    *,
    replacing: str | None,
    language: str,
    now: datetime,
    timeouts: SessionTimeouts,
) -> str:
    """A new session for the member of staff whose password matched, ending the session
    `replacing` (the login form's); returns the new id. Sessions that have ended, anyone's,
    are swept on the way."""
    if match.rehashed is not None:
        session.execute(
            update(Staff).where(Staff.id == match.staff_id).values(password_hash=match.rehashed)
        )
    ended = or_(
        StaffSession.last_seen_at <= now - timeouts.idle,
        StaffSession.created_at <= now - timeouts.absolute,
    )
    session.execute(delete(StaffSession).where(ended))
    if replacing is not None:
        end_session(session, replacing)
    return open_session(session, now=now, language=language, staff_id=match.staff_id)


def end_session(session: Session, session_id: str) -> None:
    """End the session `session_id` (nothing if it is unknown)."""
    session.execute(delete(StaffSession).where(StaffSession.digest == session_digest(session_id)))


def set_language(session: Session, *, row_id: int, language: str) -> None:
    """Show the session's pages in `language` from now on."""
    session.execute(update(StaffSession).where(StaffSession.id == row_id).values(language=language))


def set_password(session: Session, username: str, password: str) -> Staff:
    """Set the password of the member of staff `username` (NotFound if there is none), and
    end their sessions: whoever signed in with the old password is signed out.

    Invalid if the password is shorter than MIN_PASSWORD_LENGTH characters (or absurdly
    long), or is not printable.
    """
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise Invalid(
            f"密码应为 {MIN_PASSWORD_LENGTH} 至 {MAX_PASSWORD_LENGTH} 个字符，"
            f"输入的有 {len(password)} 个",
            f"a password has {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters;"
            f" this one has {len(password)}",
            field="password",
        )
    if not password.isprintable():
        raise Invalid(
            "密码不能含控制字符（如制表符）",
            "a password cannot contain control characters (such as a tab)",
            field="password",
        )
    staff = staff_named(session, username)
    staff.password_hash = hash_password(password)
    session.execute(delete(StaffSession).where(StaffSession.staff_id == staff.id))
    return staff
