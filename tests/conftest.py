"""Shared fixtures: the embedded runtime (on SQLite, and on PostgreSQL for the tests marked
`databases`), and the real PostgreSQL, RabbitMQ and Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from orchestrator import runtime
from orchestrator.runtime import Runtime
from orchestrator.settings import Settings
from orchestrator.tools.embedded import run_embedded
from tests import services
from tests.api import FILINGS, Undispatched, api_client, auth, file_undispatched
from tests.factories import ALL_MATERIALS
from tests.leaks import SESSION_WATCH, fail_the_run_if_leaked
from tests.people import BranchStaff, make_branch_staff


def pytest_configure(config: pytest.Config) -> None:
    # Before any test: every log record of the run is read for unmasked resident IDs.
    if not SESSION_WATCH.installed:
        SESSION_WATCH.install()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # A run whose tests pass fails still if any record logged a resident ID unmasked.
    fail_the_run_if_leaked(session)


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


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new PostgreSQL database on the test server (started if down); dropped afterwards."""
    _require(("PostgreSQL",))
    name = f"onestop_test_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(services.PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(services.PG_ADMIN_URL).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    with fresh_postgres_database() as url:
        yield url


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


DATABASES = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each test of the embedded runtime on SQLite, and also on PostgreSQL if it is marked
    `databases("sqlite", "postgresql")`.

    One runtime per database for the whole session: pytest groups the tests by it, so each
    starts once. The PostgreSQL runs count as integration tests.
    """
    if "_embedded" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("databases")
    kinds = marker.args if marker else ("sqlite",)
    unknown = set(kinds) - set(DATABASES)
    if unknown:
        raise pytest.UsageError(f"databases: unknown {sorted(unknown)}, not {DATABASES}")
    params = [
        pytest.param(kind, marks=[pytest.mark.integration] if kind == "postgresql" else [])
        for kind in kinds
    ]
    metafunc.parametrize("_embedded", params, indirect=True, scope="session")


def embedded_settings(database_url: str) -> Settings:
    """Embedded-mode settings on `database_url`, with short leases and retries."""
    return Settings(
        database_url=database_url,
        broker_url="memory://localhost/",
        step_lease_seconds=3,
        sweep_interval_seconds=0.5,
        retry_base_seconds=0.05,
        retry_max_countdown_seconds=2,
        worker_concurrency=8,
        # The SLA pass writes events of its own: tests that count a filing's events run it
        # themselves (`tracker.sla.evaluate_open`), never behind their back.
        sla_evaluation_seconds=3600,
    )


@pytest.fixture(scope="session")
def _embedded(request: pytest.FixtureRequest) -> Iterator[Runtime]:
    # One embedded OneStop per database for the whole session: starting and stopping a
    # worker costs seconds. Tests stay independent through distinct names and fresh
    # simulators. The database comes from `pytest_generate_tests`.
    with ExitStack() as stack:
        if request.param == "postgresql":
            # A database of its own: its sweeper must not touch another test's steps.
            url = stack.enter_context(fresh_postgres_database())
        else:
            directory = request.getfixturevalue("tmp_path_factory").mktemp("embedded")
            url = f"sqlite:///{directory / 'onestop.db'}"
        yield stack.enter_context(run_embedded(embedded_settings(url)))


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


@pytest.fixture
def api(onestop: Runtime) -> Iterator[TestClient]:
    """A client of a fresh API application on the embedded OneStop."""
    with api_client() as client:
        yield client


@pytest.fixture
def undispatched(
    onestop: Runtime, api: TestClient, branch_staff: BranchStaff
) -> Iterator[Undispatched]:
    """Files undispatched filings as the clerk, `missing` the materials named, and cancels
    each at the end so that no worker takes it up later; returns the tracking code."""
    codes: list[str] = []

    def file(*missing: str, **overrides: object) -> str:
        provided = [m for m in ALL_MATERIALS if m not in missing]
        codes.append(file_undispatched(onestop, branch_staff, materials=provided, **overrides))
        return codes[-1]

    yield file
    for code in codes:
        api.post(f"{FILINGS}/{code}/cancel", headers=auth(branch_staff.clerk_token))
