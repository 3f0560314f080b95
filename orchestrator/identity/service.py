"""Staff, passwords and bearer tokens, and what each role may see."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from orchestrator.identity.models import ApiToken, Branch, District, Role, Staff

_hasher = PasswordHasher()

TOKEN_PREFIX = "ost_"


def hash_password(password: str) -> str:
    """An argon2id hash of `password`."""
    return _hasher.hash(password)


def check_password(staff: Staff, password: str) -> bool:
    """Whether `password` is the staff member's, upgrading the stored hash if it is dated."""
    if not staff.password_hash:
        return False
    try:
        _hasher.verify(staff.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if _hasher.check_needs_rehash(staff.password_hash):
        staff.password_hash = _hasher.hash(password)
    return True


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    session: Session,
    staff: Staff,
    *,
    now: datetime,
    label: str = "",
    ttl: timedelta | None = None,
) -> str:
    """A new bearer token for `staff`; only its digest is kept, so show it once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            staff_id=staff.id,
            digest=_digest(token),
            label=label,
            created_at=now,
            expires_at=now + ttl if ttl else None,
        )
    )
    return token


def revoke_token(session: Session, token: str, *, now: datetime) -> bool:
    """Revoke a live bearer token; False if there is no such token or it was revoked."""
    row = session.scalars(select(ApiToken).where(ApiToken.digest == _digest(token))).first()
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = now
    return True


def staff_for_token(session: Session, token: str, *, now: datetime) -> Staff | None:
    """The active staff member a live token belongs to, or None."""
    row = session.scalars(
        # The staff member in the same query: every API call asks this first.
        select(ApiToken)
        .options(joinedload(ApiToken.staff))
        .where(ApiToken.digest == _digest(token))
    ).first()
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    return row.staff if row.staff.active else None


@dataclass(frozen=True)
class Scope:
    """The filings a member of staff may see: one branch, one district, all, or none.

    Least privilege by default: a scope that names no branch or district and is not
    `everything` sees nothing.
    """

    branch_id: int | None = None
    district_code: str | None = None
    can_file: bool = False
    everything: bool = False

    @property
    def sees_nothing(self) -> bool:
        """Whether no filing at all is visible in this scope."""
        return not self.everything and self.branch_id is None and self.district_code is None

    @classmethod
    def of(cls, staff: Staff) -> Scope:
        """What `staff` may see and do, by role."""
        if staff.role in (Role.CLERK, Role.BRANCH_MANAGER):
            if staff.branch_id is None:
                return cls()  # branch staff not (or no longer) placed at a branch
            return cls(branch_id=staff.branch_id, can_file=True)
        if staff.role == Role.OFFICER:
            return cls(district_code=staff.district_code)
        if staff.role == Role.ADMIN:
            return cls(everything=True)
        return cls()


def ensure_district(session: Session, code: str, name: str) -> District:
    """The district row for `code`, created if missing."""
    district = session.get(District, code)
    if district is None:
        district = District(code=code, name=name)
        session.add(district)
    return district


def ensure_branch(
    session: Session, *, code: str, name: str, bank_code: str, district_code: str
) -> Branch:
    """The branch with `code`, created or updated."""
    branch = session.scalars(select(Branch).where(Branch.code == code)).first()
    if branch is None:
        branch = Branch(code=code)
        session.add(branch)
    branch.name, branch.bank_code, branch.district_code = name, bank_code, district_code
    return branch


def ensure_staff(
    session: Session,
    *,
    username: str,
    name: str,
    role: Role,
    district_code: str,
    branch: Branch | None = None,
    password: str | None = None,
) -> Staff:
    """The staff member `username`, created or updated."""
    staff = session.scalars(select(Staff).where(Staff.username == username)).first()
    if staff is None:
        staff = Staff(username=username)
        session.add(staff)
    staff.name, staff.role, staff.district_code = name, role, district_code
    staff.branch = branch
    if password is not None:
        staff.password_hash = hash_password(password)
    session.flush()
    return staff
