"""Shared fixtures: the embedded runtime on SQLite, and the real PostgreSQL, RabbitMQ, Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa

from orchestrator import runtime
from orchestrator.embedded import run_embedded
from orchestrator.runtime import Runtime
from orchestrator.settings import Settings
from tests import services
from tests.people import BranchStaff, make_branch_staff


def _require(service_names: tuple[str, ...]) -> None:
    """Start the named services if down; fail in CI, skip elsewhere, when they stay down."""
    problems = [
        problem
        for service in services.SERVICES
        if service.name in service_names and (problem := services.ensure(service)) is not None
    ]
    if problems:
        message = "; ".join(problems)
        if services.IN_CI:
            pytest.fail(f"integration services unavailable in CI: {message}")
        pytest.skip(f"integration services unavailable: {message}")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    _require(("PostgreSQL",))
    name = f"onestop_test_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(services.PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(services.PG_ADMIN_URL).set(database=name)
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    """The local RabbitMQ broker (started if down)."""
    _require(("RabbitMQ",))
    return services.AMQP_URL


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The local Redis (started if down); give each test keys of its own (a unique prefix)."""
    _require(("Redis",))
    return services.REDIS_URL


@pytest.fixture(scope="session")
def embedded_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Embedded-mode settings on a fresh SQLite file, with short leases and retries."""
    directory = tmp_path_factory.mktemp("embedded")
    return Settings(
        database_url=f"sqlite:///{directory / 'onestop.db'}",
        broker_url="memory://localhost/",
        step_lease_seconds=3,
        sweep_interval_seconds=0.5,
        retry_base_seconds=0.05,
        retry_max_countdown_seconds=2,
        worker_concurrency=8,
    )


@pytest.fixture(scope="session")
def _embedded(embedded_settings: Settings) -> Iterator[Runtime]:
    # One embedded OneStop for the whole session: starting and stopping a worker costs
    # seconds. Tests stay independent through distinct names and fresh simulators.
    with run_embedded(embedded_settings) as rt:
        yield rt


@pytest.fixture
def onestop(_embedded: Runtime) -> Runtime:
    """OneStop running embedded (SQLite, worker thread, beat, simulators), agencies fresh."""
    assert _embedded.agencies_url
    httpx.post(f"{_embedded.agencies_url}/_sim/reset", timeout=5).raise_for_status()
    runtime.install(_embedded)
    return _embedded


@pytest.fixture(scope="session")
def branch_staff(_embedded: Runtime) -> BranchStaff:
    """Two Shouguang branches with a clerk each, and officers, with API tokens."""
    return make_branch_staff(_embedded)
