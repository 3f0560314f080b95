"""The token tests' world: a clock that shows what the test says, a clerk to issue tokens
to, and tokens as older versions of OneStop left them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update

from orchestrator.clock import CHINA, Clock
from orchestrator.identity.models import ApiToken, Staff
from orchestrator.identity.service import issue_token
from orchestrator.runtime import Runtime

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=CHINA)


@dataclass(frozen=True)
class StoppedClock(Clock):
    """A clock that shows `at`, however much real time passes."""

    at: datetime = T0

    def now(self) -> datetime:
        return self.at


@dataclass
class TokenWorld:
    """A runtime installed for the test, and a clerk to issue tokens to."""

    rt: Runtime
    username: str

    def at(self, instant: datetime) -> None:
        """Set the clock to `instant`."""
        self.rt.clock = StoppedClock(at=instant)

    def later(self, **delta: float) -> datetime:
        """Move the clock on by `delta` (timedelta's keywords); the new instant."""
        self.at(self.rt.clock.now() + timedelta(**delta))
        return self.rt.clock.now()

    def with_max_days(self, days: int) -> None:
        """Make ONESTOP_TOKEN_MAX_DAYS `days` from now on."""
        self.rt.settings = self.rt.settings.model_copy(update={"token_max_days": days})

    def staff(self) -> Staff:
        """The clerk, read afresh."""
        with self.rt.database.reading() as session:
            return session.query(Staff).filter_by(username=self.username).one()


def digest(token: str) -> str:
    """How the database knows a token (SHA-256, hex)."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_never_expiring(world: TokenWorld, *, issued_at: datetime) -> str:
    """A token as `token issue --days 0` made them, before every token had to expire."""
    with world.rt.database.transaction() as session:
        token = issue_token(session, world.staff(), now=issued_at, label="never")
        session.flush()
        session.execute(
            update(ApiToken).where(ApiToken.digest == digest(token)).values(expires_at=None)
        )
        return token
