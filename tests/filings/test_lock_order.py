"""A worker finishing a step and a person changing the same filing at that moment: the one
that came second waits for the first, and neither is chosen as a deadlock's victim.

PostgreSQL only: SQLite takes one lock for the whole database, so no two transactions ever
hold rows each other wants.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import Connection, func, select, text

from orchestrator.filings import service, transitions
from orchestrator.filings.models import Filing, FilingStatus, Step, StepStatus
from orchestrator.runtime import Runtime
from tests.filings.test_transitions import LEASE, claimed_registration
from tests.people import BranchStaff

pytestmark = pytest.mark.databases("postgresql")

CREDIT_CODE = "91370783MA3C7RX41T"


def _waiting_on_a_lock(rt: Runtime) -> int:
    with rt.database.connection() as conn:
        return (
            conn.scalar(
                select(func.count())
                .select_from(text("pg_stat_activity"))
                .where(text("datname = current_database() AND wait_event_type = 'Lock'"))
            )
            or 0
        )


def _in_another_transaction(rt: Runtime, action: Callable[[], None]) -> Callable[[], None]:
    """Start `action` on a thread once it waits for a lock; the function that joins it (and
    raises what it raised)."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            action()
        except BaseException as error:
            failures.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 10
    while not _waiting_on_a_lock(rt):
        assert thread.is_alive() or failures, "it finished without waiting for the worker"
        assert time.monotonic() < deadline, "it never waited for the worker's lock"
        time.sleep(0.02)

    def join() -> None:
        thread.join(timeout=30)
        assert not thread.is_alive()
        if failures:
            raise failures[0]

    return join


def _hold_step(conn: Connection, step_id: int) -> None:
    """What the worker's first statement does: its step row is the worker's till it commits."""
    conn.execute(select(Step.id).where(Step.id == step_id).with_for_update())


def test_a_withdrawal_waits_for_the_registration_the_worker_is_recording(
    onestop: Runtime, branch_staff: BranchStaff
) -> None:
    step_id = claimed_registration(onestop, branch_staff)
    with onestop.database.reading() as session:
        code = session.scalars(
            select(Filing.tracking_code).join(Step).where(Step.id == step_id)
        ).one()

    def withdraw() -> None:
        with onestop.database.transaction() as session:
            service.withdraw_filing(
                session, tracking_code=code, actor="applicant", now=onestop.clock.now()
            )

    now = onestop.clock.now()
    with onestop.database.connection() as worker:
        _hold_step(worker, step_id)
        join = _in_another_transaction(onestop, withdraw)
        # The registration gives the filing its credit code (an update of the filing's row)
        # and inserts events (each checking the filing's key).
        transitions.succeed(
            worker, step_id, {"credit_code": CREDIT_CODE}, now=now, lease_until=now + LEASE
        )
    join()
    with onestop.database.reading() as session:
        filing = session.scalars(select(Filing).where(Filing.tracking_code == code)).one()
        statuses = {step.name: step.status for step in filing.steps}
        assert filing.status == FilingStatus.CANCELLED and filing.credit_code
        done = [name for name, status in statuses.items() if status == StepStatus.DONE]
        assert len(done) == 1
        assert set(statuses.values()) == {StepStatus.DONE, StepStatus.CANCELLED}
