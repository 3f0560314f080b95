"""A OneStop of its own for the token tests, on SQLite and on PostgreSQL, whose clock shows
what the test says: no worker, no simulators, nothing shared but the PostgreSQL database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from orchestrator import runtime
from orchestrator.clock import CHINA, Clock
from orchestrator.db import Database
from orchestrator.identity.models import Role, Staff
from orchestrator.identity.service import ensure_branch, ensure_district, ensure_staff
from orchestrator.migrations import migrate
from orchestrator.runtime import Runtime
from orchestrator.settings import Settings

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


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def token_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database: a fresh SQLite file, or this session's PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'onestop.db'}"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    migrate(url)
    return url


@pytest.fixture
def tokens(token_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TokenWorld]:
    """A runtime of its own (stopped clock at T0), installed as the process's, and a new clerk
    (a fresh name each test: the PostgreSQL database is shared by the session)."""
    settings = Settings(database_url=token_database_url)
    database = Database(token_database_url)
    rt = runtime.from_settings(settings, database=database, clock=StoppedClock())
    username = f"clerk_{uuid.uuid4().hex[:8]}"
    with database.transaction() as session:
        ensure_district(session, "370783", "寿光市")
        branch = ensure_branch(
            session, code="SG-ABC-01", name="农业银行寿光支行", bank_code="ABC",
            district_code="370783",
        )  # fmt: skip
        ensure_staff(
            session, username=username, name="王芳", role=Role.CLERK, district_code="370783",
            branch=branch,
        )  # fmt: skip
    monkeypatch.setattr(runtime, "_current", rt)
    yield TokenWorld(rt=rt, username=username)
    database.dispose()
