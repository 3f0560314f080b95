"""The ledger's hooks on a running OneStop: acceptance reserves, completion settles once,
cancellation and withdrawal release, a rejection corrected and resubmitted keeps the
reservation; and two acceptances never both take the last of a month's budget."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import event, select

from orchestrator.clock import CHINA
from orchestrator.filings import service
from orchestrator.filings.models import Filing, FilingStatus
from orchestrator.runtime import Runtime
from orchestrator.subsidies import ledger
from orchestrator.subsidies.models import ENTRY_TABLE, PERIOD_TABLE, EntryKind
from orchestrator.subsidies.policy import Item
from tests.filings import (
    complete,
    file,
    file_for_pickup,
    file_undispatched,
    hand_over,
    set_behaviour,
    wait_for,
)
from tests.filings.test_lock_order import _in_another_transaction
from tests.filings.test_resubmit_and_withdraw import rejected_by_tax, resubmit, withdraw
from tests.people import BranchStaff
from tests.subsidies import SHOUGUANG, with_budget

pytestmark = pytest.mark.databases("sqlite", "postgresql")

FOUR_SEALS = {"seal:official", "seal:finance", "seal:invoice", "seal:legal_representative"}


def _entries(rt: Runtime, code: str) -> list[tuple[EntryKind, str, int]]:
    with rt.database.reading() as session:
        filing_id = session.scalars(select(Filing.id).where(Filing.tracking_code == code)).one()
        rows = session.execute(
            select(ENTRY_TABLE.c.kind, ENTRY_TABLE.c.item, ENTRY_TABLE.c.amount_fen)
            .where(ENTRY_TABLE.c.filing_id == filing_id)
            .order_by(ENTRY_TABLE.c.id)
        )
        return [(EntryKind(kind), item, fen) for kind, item, fen in rows]


def _of_kind(entries: list[tuple[EntryKind, str, int]], kind: EntryKind) -> set[str]:
    return {item for k, item, _ in entries if k == kind}


def _committed(rt: Runtime, period: str) -> int:
    with rt.database.reading() as session:
        return (
            session.scalar(
                select(PERIOD_TABLE.c.committed_fen).where(
                    PERIOD_TABLE.c.district_code == SHOUGUANG, PERIOD_TABLE.c.period == period
                )
            )
            or 0
        )


@pytest.mark.usefixtures("ample_budget")
class TestHooks:
    def test_acceptance_reserves_the_four_seals_and_the_courier(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        code = file_undispatched(onestop, branch_staff)
        entries = _entries(onestop, code)
        assert _of_kind(entries, EntryKind.RESERVED) == {*FOUR_SEALS, "courier"}
        assert sum(fen for _, _, fen in entries) == 7400  # Shouguang's ¥74 a firm

    def test_a_collected_filing_reserves_no_courier_and_completion_settles_once(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        filing = file_for_pickup(onestop, branch_staff)
        code = filing.tracking_code
        assert _of_kind(_entries(onestop, code), EntryKind.SETTLED) == set()
        hand_over(onestop, branch_staff, code)
        entries = _entries(onestop, code)
        assert _of_kind(entries, EntryKind.RESERVED) == FOUR_SEALS
        assert _of_kind(entries, EntryKind.SETTLED) == FOUR_SEALS
        with onestop.database.transaction() as session:  # a duplicate completion
            again = ledger.settle(
                session.connection(), filing.id, now=onestop.clock.now(), actor="worker"
            )
        assert again == 0
        assert len(_entries(onestop, code)) == 8

    def test_a_couriered_filing_settles_with_the_courier_at_completion(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        code = file(onestop, branch_staff)
        wait_for(onestop, code, complete)
        assert _of_kind(_entries(onestop, code), EntryKind.SETTLED) == {*FOUR_SEALS, "courier"}

    def test_cancellation_gives_the_reservation_back_to_the_month(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        period = ledger.period_of(onestop.clock.now())
        before = _committed(onestop, period)
        code = file_undispatched(onestop, branch_staff)
        assert _committed(onestop, period) == before + 7400
        with onestop.database.transaction() as session:
            service.cancel_filing(
                session, actor=branch_staff.clerk, tracking_code=code, now=onestop.clock.now()
            )
        assert _of_kind(_entries(onestop, code), EntryKind.RELEASED) == {*FOUR_SEALS, "courier"}
        assert _committed(onestop, period) == before

    def test_a_rejection_resubmitted_keeps_the_reservation_a_withdrawal_releases_it(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        code = rejected_by_tax(onestop, branch_staff)
        set_behaviour(onestop, "tax", rejection_rate=0.0)
        resubmit(onestop, branch_staff, code)
        entries = _entries(onestop, code)
        assert {kind for kind, _, _ in entries} == {EntryKind.RESERVED}
        code = rejected_by_tax(onestop, branch_staff)
        withdraw(onestop, code)
        wait_for(onestop, code, lambda f: f.status == FilingStatus.CANCELLED)
        set_behaviour(onestop, "tax", rejection_rate=0.0)
        assert _of_kind(_entries(onestop, code), EntryKind.RELEASED) == {*FOUR_SEALS, "courier"}


def test_a_spent_budget_falls_back_to_paid_and_the_clerk_is_told_first(
    onestop: Runtime, branch_staff: BranchStaff, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger, "load_reference", lambda: with_budget(1))
    with onestop.database.reading() as session:
        offered = ledger.offer(
            session.connection(),
            district_code=SHOUGUANG,
            industry_code="7511",
            seals=["official"],
            couriered=False,
            now=onestop.clock.now(),
        )
    assert [item.code for item in offered.items] == ["seal:official"]
    assert not offered.covered
    code = file_undispatched(onestop, branch_staff)
    entries = _entries(onestop, code)
    assert _of_kind(entries, EntryKind.FALLBACK) == {*FOUR_SEALS, "courier"}
    assert _of_kind(entries, EntryKind.RESERVED) == set()
    with onestop.database.transaction() as session:
        service.cancel_filing(
            session, actor=branch_staff.clerk, tracking_code=code, now=onestop.clock.now()
        )
    assert _of_kind(_entries(onestop, code), EntryKind.RELEASED) == set()  # nothing was held


@pytest.mark.databases("postgresql")
def test_two_acceptances_cannot_both_take_the_last_of_the_budget(
    onestop: Runtime, branch_staff: BranchStaff
) -> None:
    # A month of its own, far ahead, and items of their own: other tests' filings are apart.
    now = datetime(2099, 1, 5, 10, tzinfo=CHINA)
    first, second = (
        _filing_id(onestop, file_undispatched(onestop, branch_staff)) for _ in range(2)
    )
    probe = (Item("probe", "seal", 600),)
    outcomes: dict[int, bool] = {}

    def accept(filing_id: int) -> None:
        with onestop.database.transaction() as session:
            reservation = ledger.reserve(
                session.connection(),
                filing_id=filing_id,
                district_code=SHOUGUANG,
                items=probe,
                budget_fen=1000,  # room for one probe, not two
                now=now,
                actor="clerk",
            )
            assert reservation is not None
            outcomes[filing_id] = reservation.granted

    with onestop.database.connection() as conn:  # the first holds the month's row...
        taken = ledger.reserve(
            conn, filing_id=first, district_code=SHOUGUANG, items=probe, budget_fen=1000,
            now=now, actor="clerk",
        )  # fmt: skip
        assert taken is not None and taken.granted
        join = _in_another_transaction(onestop, lambda: accept(second))  # ...the second waits
    join()
    assert outcomes == {second: False}
    assert _committed(onestop, "2099-01") == 600


def _filing_id(rt: Runtime, code: str) -> int:
    with rt.database.reading() as session:
        return session.scalars(select(Filing.id).where(Filing.tracking_code == code)).one()


class TestCost:
    """What completion adds to a worker's transaction: one look-up for a filing with nothing
    reserved; for one with a reservation, the month's lock, one insert and one update."""

    def _settling(self, rt: Runtime, code: str) -> list[str]:
        statements: list[str] = []

        def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
            statements.append(statement.split()[0])

        filing_id = _filing_id(rt, code)
        # On this connection alone: the runtime's worker and beat share the engine.
        with rt.database.connection() as conn:
            event.listen(conn, "before_cursor_execute", count)
            try:
                ledger.settle(conn, filing_id, now=rt.clock.now(), actor="worker")
            finally:
                event.remove(conn, "before_cursor_execute", count)
        return [s for s in statements if s != "BEGIN"]

    @pytest.mark.usefixtures("ample_budget")
    def test_a_reserved_filing(self, onestop: Runtime, branch_staff: BranchStaff) -> None:
        code = file_undispatched(onestop, branch_staff)
        assert self._settling(onestop, code) == ["SELECT", "SELECT", "INSERT", "UPDATE"]

    def test_a_filing_that_fell_back_to_paid(
        self, onestop: Runtime, branch_staff: BranchStaff, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(ledger, "load_reference", lambda: with_budget(1))
        code = file_undispatched(onestop, branch_staff)
        assert self._settling(onestop, code) == ["SELECT"]
