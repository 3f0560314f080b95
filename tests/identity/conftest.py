"""A OneStop of its own for the token tests, on SQLite and on PostgreSQL, whose clock shows
what the test says: no worker, no simulators, nothing shared but the PostgreSQL database."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator import runtime
from orchestrator.db import Database
from orchestrator.identity.models import Role
from orchestrator.identity.service import ensure_branch, ensure_district, ensure_staff
from orchestrator.migrations import migrate
from orchestrator.settings import Settings
from tests.identity.tokens import StoppedClock, TokenWorld


@pytest.fixture(scope="session")
def _migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Migrated once, copied for each test: migrating a fresh file costs more than most tests.
    path = tmp_path_factory.mktemp("tokens") / "migrated.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def _migrated_postgres(postgres_url: str) -> str:
    migrate(postgres_url)
    return postgres_url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def token_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database: a fresh SQLite file, or this session's PostgreSQL database."""
    if request.param == "sqlite":
        path = tmp_path / "onestop.db"
        shutil.copyfile(request.getfixturevalue("_migrated_sqlite"), path)
        return f"sqlite:///{path}"
    return str(request.getfixturevalue("_migrated_postgres"))


@pytest.fixture
def tokens(token_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TokenWorld]:
    """A runtime of its own (stopped clock at T0), installed as the process's, and a new clerk
    (a fresh name each test: the PostgreSQL database is shared by the session)."""
    database = Database(token_database_url)
    rt = runtime.from_settings(
        Settings(database_url=token_database_url), database=database, clock=StoppedClock()
    )
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
