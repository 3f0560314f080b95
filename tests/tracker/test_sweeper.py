"""The sweeper on PostgreSQL: it skips the steps another transaction holds locked, so a
client that hangs inside a transaction must not hold a step's lock for ever — the server
ends such a session after `db_idle_in_transaction_timeout_seconds`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from orchestrator import runtime
from orchestrator.filings.models import Filing
from orchestrator.migrations import migrate
from orchestrator.runtime import Runtime
from orchestrator.settings import Settings
from orchestrator.tools.seed import seed_reference
from orchestrator.tracker.sweeper import sweep
from tests.api import file_undispatched
from tests.faults.soak import fresh_database
from tests.people import make_branch_staff

pytestmark = pytest.mark.integration

IDLE_TIMEOUT_SECONDS = 3

# A OneStop process that locks a step's row as a worker's claim does, then hangs inside its
# transaction (the test stops it with SIGSTOP): it prints its backend's pid once it holds
# the lock.
HOLD_A_STEP_LOCKED = """
import sys, time
import sqlalchemy as sa
from orchestrator.db import get_database

with get_database().connection() as conn:
    conn.execute(sa.text("SELECT id FROM step WHERE id = :id FOR UPDATE"), {"id": int(sys.argv[1])})
    print(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one(), flush=True)
    time.sleep(3600)
"""


@pytest.fixture
def on_postgres(postgres_url: str) -> Iterator[Runtime]:
    """A runtime on a fresh, migrated PostgreSQL database of the test's own."""
    with fresh_database(postgres_url) as url:
        migrate(url)
        rt = runtime.from_settings(Settings(database_url=url))
        with rt.database.transaction() as session:
            seed_reference(session)
        try:
            yield rt
        finally:
            rt.database.dispose()


def registration_step(rt: Runtime, code: str) -> int:
    with rt.database.transaction() as session:
        filing = session.scalars(sa.select(Filing).where(Filing.tracking_code == code)).one()
        return filing.steps[0].id


def backend_alive(rt: Runtime, pid: int) -> bool:
    with rt.database.connection() as conn:
        query = sa.text("SELECT EXISTS (SELECT FROM pg_stat_activity WHERE pid = :pid)")
        return bool(conn.execute(query, {"pid": pid}).scalar_one())


class TestAStepLockedByAHungClient:
    def test_is_swept_once_the_server_ends_the_idle_transaction(self, on_postgres: Runtime) -> None:
        rt = on_postgres
        step_id = registration_step(rt, file_undispatched(rt, make_branch_staff(rt)))
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD_A_STEP_LOCKED, str(step_id)],
            env={
                **os.environ,
                "ONESTOP_DATABASE_URL": rt.database.url,
                "ONESTOP_DB_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS": str(IDLE_TIMEOUT_SECONDS),
            },
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout is not None
            backend = int(holder.stdout.readline())
            locked_at = time.monotonic()
            holder.send_signal(signal.SIGSTOP)  # hung: it will never end its transaction

            # Long after the step came due, as a sweep would see it.
            def swept() -> list[int]:
                later = rt.clock.now() + timedelta(minutes=5)
                with rt.database.transaction() as session:
                    return sweep(session, now=later, lease_until=later + timedelta(minutes=1))

            # While the lock is held the sweeper passes the step by (skip locked; the filing's
            # other root, Shouguang's bank pre-check, it takes) ...
            assert step_id not in swept()
            assert time.monotonic() - locked_at < IDLE_TIMEOUT_SECONDS, "too slow to tell"
            # ... and once the server has ended the hung session, it takes it.
            deadline = locked_at + IDLE_TIMEOUT_SECONDS + 10
            while step_id not in swept():
                assert time.monotonic() < deadline, "the step stayed locked"
                time.sleep(0.2)
            # The server ended it, not the client: the holder is still there, stopped.
            assert not backend_alive(rt, backend)
            assert holder.poll() is None
        finally:
            holder.kill()
            holder.wait()
