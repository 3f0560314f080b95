"""Staff, passwords and bearer tokens, and what each role may see."""

from __future__ import annotations

import enum
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session, joinedload

from orchestrator.errors import Invalid, NotFound
from orchestrator.identity.models import (
    TOKEN_LABEL_LENGTH,
    ApiToken,
    Branch,
    District,
    Role,
    Staff,
)
from orchestrator.notifications.inbox import Recipient
from orchestrator.privacy import MOBILE

_hasher = PasswordHasher()
_RowT = TypeVar("_RowT", Branch, Staff)

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


# Asked for no particular lifetime, a token lives this long (never past the maximum).
DEFAULT_TOKEN_LIFETIME = timedelta(days=30)
# A token's last use is kept to this precision: recording every use would write a row per
# API request, where "used in the last minute" is all an administrator needs to know.
LAST_USE_PRECISION = timedelta(minutes=1)


class TokenStatus(enum.StrEnum):
    """Whether a token lets its holder in."""

    LIVE = "live"
    EXPIRED = "expired"
    REVOKED = "revoked"


def ends_at(token: ApiToken, *, max_lifetime: timedelta) -> datetime:
    """When `token` stops being live (unless revoked first): its own expiry, or its creation
    plus the maximum lifetime, whichever comes first.

    The maximum is applied here, at every check, rather than only when a token is issued: so
    the tokens issued with no expiry of their own (before every token had to expire) end
    too, and lowering the maximum cuts the tokens already issued.
    """
    latest = token.created_at + max_lifetime
    if token.expires_at is None or token.expires_at > latest:
        return latest
    return token.expires_at


def _status(token: ApiToken, *, now: datetime, max_lifetime: timedelta) -> TokenStatus:
    if token.revoked_at is not None:
        return TokenStatus.REVOKED
    return (
        TokenStatus.LIVE if now < ends_at(token, max_lifetime=max_lifetime) else TokenStatus.EXPIRED
    )


def token_lifetime(days: int | None, *, max_lifetime: timedelta) -> timedelta:
    """The lifetime of a token asked for `days` (None: the default, within the maximum).

    Refused (Invalid) unless 1 ≤ `days` ≤ the maximum: every token expires, and no token
    is issued for longer than it could live.
    """
    if days is None:
        return min(DEFAULT_TOKEN_LIFETIME, max_lifetime)
    if not 1 <= days <= max_lifetime.days:
        most = max_lifetime.days
        raise Invalid(
            f"令牌有效期应为 1 至 {most} 天：令牌都会过期，且最长不超过 {most} 天"
            f"（ONESTOP_TOKEN_MAX_DAYS）；所请求的是 {days} 天",
            f"a token lives 1 to {most} days: every token expires, and none lives longer than"
            f" {most} days (ONESTOP_TOKEN_MAX_DAYS); {days} asked",
            field="days",
        )
    return timedelta(days=days)


def _check_label(label: str) -> None:
    if len(label) > TOKEN_LABEL_LENGTH or not label.isprintable():
        raise Invalid(
            f"令牌标签应为不超过 {TOKEN_LABEL_LENGTH} 个可打印字符",
            f"a token's label is at most {TOKEN_LABEL_LENGTH} printable characters",
            field="label",
        )


def issue_token(
    session: Session,
    staff: Staff,
    *,
    now: datetime,
    label: str = "",
    ttl: timedelta = DEFAULT_TOKEN_LIFETIME,
) -> str:
    """A new bearer token for `staff`; only its digest is kept, so show it once.

    It expires `ttl` after `now`, or sooner if the maximum lifetime ends it (`ends_at`, at
    every check). What an operator may ask for: `token_lifetime`.
    """
    if ttl <= timedelta(0):
        raise Invalid("令牌有效期应为正数", "a token's lifetime must be positive", field="ttl")
    _check_label(label)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            staff_id=staff.id,
            digest=_digest(token),
            label=label,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    return token


@dataclass(frozen=True)
class Bearer:
    """The member of staff a live token belongs to, and whether its use is due to be recorded."""

    staff: Staff
    token_id: int
    use_unrecorded: bool  # no use recorded within LAST_USE_PRECISION: `record_token_use`


def authenticate(
    session: Session, token: str, *, now: datetime, max_lifetime: timedelta
) -> Bearer | None:
    """The active member of staff behind a live `token`, or None."""
    row = session.scalars(
        # The staff member in the same query: every API call asks this first.
        select(ApiToken)
        .options(joinedload(ApiToken.staff))
        .where(ApiToken.digest == _digest(token))
    ).first()
    if row is None or not row.staff.active:
        return None
    if _status(row, now=now, max_lifetime=max_lifetime) is not TokenStatus.LIVE:
        return None
    # The row just read says whether a write is due, so a check costs no statement but this
    # one until a minute has passed; `record_token_use` decides again, in the database.
    recorded = row.last_used_at
    unrecorded = recorded is None or recorded <= now - LAST_USE_PRECISION
    return Bearer(staff=row.staff, token_id=row.id, use_unrecorded=unrecorded)


def record_token_use(session: Session, *, token_id: int, now: datetime) -> bool:
    """Record `now` as the token's last use unless a use within LAST_USE_PRECISION is
    recorded already; whether this call recorded it.

    The condition is the UPDATE's own, so concurrent callers write one row change between
    them: on PostgreSQL a second UPDATE waits for the first's row lock and re-checks the row
    it committed; on SQLite writers take turns. A last use never moves back in time.
    """
    recorded = session.scalar(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            or_(
                ApiToken.last_used_at.is_(None),
                ApiToken.last_used_at <= now - LAST_USE_PRECISION,
            ),
        )
        .values(last_used_at=now)
        .returning(ApiToken.id)
    )
    return recorded is not None


@dataclass(frozen=True)
class TokenInfo:
    """What may be shown of a token: never its secret, nor the digest that stands for it."""

    id: int
    username: str
    label: str
    created_at: datetime
    expires_at: datetime  # when it stops being live (`ends_at`)
    expiry_capped: bool  # the maximum lifetime ends it, before any expiry chosen at issue
    last_used_at: datetime | None
    revoked_at: datetime | None
    status: TokenStatus

    @classmethod
    def of(cls, token: ApiToken, *, now: datetime, max_lifetime: timedelta) -> TokenInfo:
        """What may be shown of `token` at `now`."""
        ends = ends_at(token, max_lifetime=max_lifetime)
        return cls(
            id=token.id,
            username=token.staff.username,
            label=token.label,
            created_at=token.created_at,
            expires_at=ends,
            expiry_capped=ends != token.expires_at,
            last_used_at=token.last_used_at,
            revoked_at=token.revoked_at,
            status=_status(token, now=now, max_lifetime=max_lifetime),
        )


@dataclass(frozen=True)
class StaffTokens:
    """A member of staff and every token ever issued to them, oldest first."""

    username: str
    name: str
    active: bool
    tokens: list[TokenInfo]


def staff_named(session: Session, username: str) -> Staff:
    """The member of staff `username`; NotFound if there is none."""
    staff = session.scalars(select(Staff).where(Staff.username == username)).first()
    if staff is None:
        raise NotFound(f"没有用户名为 {username!r} 的员工", f"no staff member named {username!r}")
    return staff


def list_tokens(
    session: Session, *, username: str, now: datetime, max_lifetime: timedelta
) -> StaffTokens:
    """The tokens of the member of staff `username` (NotFound if there is none)."""
    staff = staff_named(session, username)
    rows = session.scalars(
        select(ApiToken).where(ApiToken.staff_id == staff.id).order_by(ApiToken.id)
    )
    return StaffTokens(
        username=staff.username,
        name=staff.name,
        active=staff.active,
        tokens=[TokenInfo.of(row, now=now, max_lifetime=max_lifetime) for row in rows],
    )


@dataclass(frozen=True)
class Revocation:
    """A revoked token, and whether it had been revoked before this revocation."""

    token: TokenInfo
    already: bool  # revoked earlier, at token.revoked_at: nothing changed


def revoke_token(
    session: Session, *, token_id: int, now: datetime, max_lifetime: timedelta
) -> Revocation:
    """Revoke the token `token_id` (NotFound if there is none); revoking it again changes
    nothing and says so."""
    # Conditional, so that of two concurrent revocations one revokes and one finds it done.
    revoked = session.scalar(
        update(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(ApiToken.id)
    )
    token = session.scalars(
        select(ApiToken)
        .options(joinedload(ApiToken.staff))
        .where(ApiToken.id == token_id)
        .execution_options(populate_existing=True)
    ).first()
    if token is None:
        raise NotFound(f"没有编号为 {token_id} 的令牌", f"no token with id {token_id}")
    info = TokenInfo.of(token, now=now, max_lifetime=max_lifetime)
    return Revocation(token=info, already=revoked is None)


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


def _by_key_or_new(session: Session, model: type[_RowT], **key: str) -> _RowT:
    """The row of `model` with this unique `key`, or a new one with it, added to the session."""
    row = session.scalars(select(model).filter_by(**key)).first()
    if row is None:
        row = model(**key)
        session.add(row)
    return row


def ensure_branch(
    session: Session, *, code: str, name: str, bank_code: str, district_code: str
) -> Branch:
    """The branch with `code`, created or updated."""
    branch = _by_key_or_new(session, Branch, code=code)
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
    staff = _by_key_or_new(session, Staff, username=username)
    staff.name, staff.role, staff.district_code = name, role, district_code
    staff.branch = branch
    if password is not None:
        staff.password_hash = hash_password(password)
    session.flush()
    return staff


def branch_recipients(
    session: Session, *, branch_id: int, filed_by: int | None = None
) -> list[Recipient]:
    """Who at a branch hears of a filing's trouble: its managers (active ones) and, if
    given, the clerk who filed it, each once."""
    managers = (Staff.branch_id == branch_id) & (Staff.role == Role.BRANCH_MANAGER)
    return _recipients(
        session, managers if filed_by is None else or_(Staff.id == filed_by, managers)
    )


def district_officers(session: Session, *, district_code: str) -> list[Recipient]:
    """The market-supervision officers (active ones) of a district."""
    return _recipients(
        session, (Staff.role == Role.OFFICER) & (Staff.district_code == district_code)
    )


def _recipients(session: Session, who: ColumnElement[bool]) -> list[Recipient]:
    rows = session.execute(
        select(Staff.id, Staff.mobile).where(Staff.active, who).order_by(Staff.id)
    )
    return [Recipient(staff_id, mobile) for staff_id, mobile in rows]


def set_mobile(session: Session, username: str, mobile: str | None) -> Staff:
    """Text `username`'s escalations to `mobile` from now on (None: the inbox only);
    Invalid for a number that is not a mainland China mobile."""
    if mobile is not None and not MOBILE.fullmatch(mobile):
        raise Invalid(
            f"手机号码应为 11 位大陆手机号：{mobile}",
            f"a mobile is 11 digits, a mainland China number: {mobile}",
        )
    staff = staff_named(session, username)
    staff.mobile = mobile
    return staff
