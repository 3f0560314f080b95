"""The tasks' base class: its transaction commits first, then what it decided is sent."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from orchestrator.filings.history import event_row
from orchestrator.filings.models import EVENT_TABLE, Event, Filing
from orchestrator.runtime import Runtime
from orchestrator.tasks.base import OneStopTask
from tests.api import file_undispatched
from tests.people import BranchStaff


def probes(rt: Runtime, filing_id: int) -> int:
    """The probe events of the filing, as another connection sees them (committed only)."""
    with rt.database.connection() as conn:
        query = select(func.count()).where(Event.filing_id == filing_id, Event.kind == "probe")
        return int(conn.execute(query).scalar_one())


@pytest.fixture
def filing_id(onestop: Runtime, branch_staff: BranchStaff) -> int:
    code = file_undispatched(onestop, branch_staff)
    with onestop.database.reading() as session:
        return session.scalars(select(Filing.id).where(Filing.tracking_code == code)).one()


class TestTransaction:
    def test_sends_what_it_decided_once_committed(self, onestop: Runtime, filing_id: int) -> None:
        seen: list[int] = []
        with OneStopTask().transaction() as tx:
            tx.conn.execute(
                EVENT_TABLE.insert(),
                [event_row(filing_id, "probe", at=onestop.clock.now(), step=None)],
            )
            tx.after_commit(lambda: seen.append(probes(onestop, filing_id)))
            assert seen == []
        assert seen == [1]  # the send saw the row: it ran after the commit

    def test_sends_nothing_when_it_rolls_back(self, onestop: Runtime, filing_id: int) -> None:
        sent: list[str] = []
        with pytest.raises(RuntimeError), OneStopTask().transaction() as tx:
            tx.after_commit(lambda: sent.append("step"))
            raise RuntimeError("the step's transaction failed")
        assert sent == []

    def test_a_send_that_fails_leaves_the_commit_and_the_other_sends(
        self, onestop: Runtime, filing_id: int
    ) -> None:
        sent: list[str] = []

        def broker_down() -> None:
            raise ConnectionError("broker unreachable")

        with OneStopTask().transaction() as tx:
            tx.conn.execute(
                EVENT_TABLE.insert(),
                [event_row(filing_id, "probe", at=onestop.clock.now(), step=None)],
            )
            tx.after_commit(broker_down)
            tx.after_commit(lambda: sent.append("others"))
        assert sent == ["others"]  # the sweeper finds what the failed send would have sent
        assert probes(onestop, filing_id) == 1
