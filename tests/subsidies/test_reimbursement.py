"""A month's reimbursement report per vendor (rows, CSV, PDF) and its approval by an officer,
which closes the month."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import Connection

from orchestrator.clock import CHINA
from orchestrator.errors import Conflict, Forbidden
from orchestrator.identity.models import Role, Staff
from orchestrator.models import Base
from orchestrator.reference import load_reference
from orchestrator.subsidies import ledger, reimbursement
from orchestrator.subsidies.policy import COURIER_VENDOR, SEAL_VENDOR, free_items
from tests.subsidies import clean, new_filing

SHOUGUANG = "370783"
NOV = datetime(2026, 11, 20, 10, tzinfo=CHINA)
DEC = datetime(2026, 12, 3, 10, tzinfo=CHINA)
OFFICER = Staff(username="zhao", role=Role.OFFICER, district_code=SHOUGUANG)


@pytest.fixture
def conn() -> Iterator[Connection]:
    engine = sa.create_engine("sqlite://", poolclass=sa.StaticPool)
    Base.metadata.create_all(engine)
    with engine.begin() as connection:
        clean(connection)
        yield connection
    engine.dispose()


def _completed(conn: Connection, n: int, *, accepted: datetime, completed: datetime) -> int:
    """A Shouguang filing (four seals, couriered) accepted and completed at those instants."""
    filing_id = new_filing(conn, SHOUGUANG, n)
    policy = load_reference().districts[SHOUGUANG].policy
    items = free_items(policy, industry_code="0111", seals=["official", "finance",
                       "invoice", "legal_representative"], couriered=True)  # fmt: skip
    ledger.reserve(
        conn, filing_id=filing_id, district_code=SHOUGUANG, items=items,
        budget_fen=policy.subsidies.budget_fen or 0, now=accepted, actor="clerk",
    )  # fmt: skip
    ledger.settle(conn, filing_id, now=completed, actor="worker")
    return filing_id


class TestReport:
    def test_each_vendor_is_owed_what_the_ledger_settled_in_the_month(
        self, conn: Connection
    ) -> None:
        _completed(conn, 1, accepted=NOV, completed=NOV)
        _completed(conn, 2, accepted=NOV, completed=NOV + timedelta(days=1))
        _completed(conn, 3, accepted=NOV, completed=DEC)  # December's
        month = reimbursement.report(conn, district_code=SHOUGUANG, period="2026-11")
        assert {(v.vendor, v.items, v.amount_fen) for v in month.vendors} == {
            (SEAL_VENDOR, 8, 2 * 6000),
            (COURIER_VENDOR, 2, 2 * 1400),
        }
        assert month.total_fen == month.settled_fen == 2 * 7400
        assert month.committed_fen == 3 * 7400  # reserved in November, all three
        courier = reimbursement.report(
            conn, district_code=SHOUGUANG, period="2026-11", vendor=COURIER_VENDOR
        )
        assert [line.amount_fen for line in courier.lines] == [1400, 1400]

    def test_the_csv_ends_with_a_total_per_vendor(self, conn: Connection) -> None:
        _completed(conn, 1, accepted=NOV, completed=NOV)
        text = reimbursement.to_csv(
            reimbursement.report(conn, district_code=SHOUGUANG, period="2026-11")
        )
        rows = [row.split(",") for row in text.splitlines()]
        assert rows[0] == list(reimbursement.CSV_HEADER)
        assert len(rows) == 1 + 5 + 2
        assert [(r[0], r[4], r[5]) for r in rows if r[1] == "TOTAL"] == [
            (COURIER_VENDOR, "1400", "14.00"),
            (SEAL_VENDOR, "6000", "60.00"),
        ]

    def test_the_pdf_is_the_same_bytes_for_the_same_report(self, conn: Connection) -> None:
        _completed(conn, 1, accepted=NOV, completed=NOV)
        month = reimbursement.report(conn, district_code=SHOUGUANG, period="2026-11")
        pdf = reimbursement.to_pdf(month, district_name="寿光市")
        assert pdf.startswith(b"%PDF") and pdf == reimbursement.to_pdf(
            month, district_name="寿光市"
        )

    def test_budget_use_lists_each_month_with_bookings(self, conn: Connection) -> None:
        _completed(conn, 1, accepted=NOV, completed=DEC)
        use = reimbursement.budget_use(
            conn, district_code=SHOUGUANG, first="2026-01", last="2026-12"
        )
        assert [(m.period, m.committed_fen, m.settled_fen) for m in use] == [
            ("2026-11", 7400, 0),
            ("2026-12", 0, 7400),
        ]
        assert (
            use[0].budget_fen == load_reference().districts[SHOUGUANG].policy.subsidies.budget_fen
        )


class TestApproval:
    def test_the_officer_closes_the_month_and_a_late_settlement_lands_in_the_next(
        self, conn: Connection
    ) -> None:
        _completed(conn, 1, accepted=NOV, completed=NOV)
        late = new_filing(conn, SHOUGUANG, 2)
        policy = load_reference().districts[SHOUGUANG].policy
        items = free_items(policy, industry_code="0111", seals=["official"], couriered=False)
        ledger.reserve(conn, filing_id=late, district_code=SHOUGUANG, items=items,
                       budget_fen=10**6, now=NOV, actor="clerk")  # fmt: skip

        approved = reimbursement.approve(
            conn, district_code=SHOUGUANG, period="2026-11", officer=OFFICER, now=DEC
        )
        assert (approved.approved_at, approved.approved_by) == (DEC, "staff:zhao")
        assert approved.total_fen == 7400

        # Completed at November's last second, recorded after the approval.
        at = datetime(2026, 11, 30, 23, 59, 59, tzinfo=CHINA)
        assert ledger.settle(conn, late, now=at, actor="worker") == 2000
        assert reimbursement.report(conn, district_code=SHOUGUANG, period="2026-11") == approved
        december = reimbursement.report(conn, district_code=SHOUGUANG, period="2026-12")
        assert december.total_fen == 2000
        # A reservation dated in it also goes to the next month, and its budget.
        assert ledger.period_of(at) == "2026-11"
        again = ledger.reserve(conn, filing_id=new_filing(conn, SHOUGUANG, 3),
                               district_code=SHOUGUANG, items=items, budget_fen=10**6,
                               now=at, actor="clerk")  # fmt: skip
        assert again is not None and again.period == "2026-12"

    @pytest.mark.parametrize(
        "who",
        [
            Staff(username="qian", role=Role.OFFICER, district_code="370811"),
            Staff(username="sun", role=Role.CLERK, district_code=SHOUGUANG),
        ],
    )
    def test_only_an_officer_of_the_district_approves(self, conn: Connection, who: Staff) -> None:
        with pytest.raises(Forbidden):
            reimbursement.approve(
                conn, district_code=SHOUGUANG, period="2026-11", officer=who, now=DEC
            )

    def test_a_month_not_ended_or_approved_already_is_a_conflict(self, conn: Connection) -> None:
        with pytest.raises(Conflict):
            reimbursement.approve(
                conn, district_code=SHOUGUANG, period="2026-12", officer=OFFICER, now=DEC
            )
        reimbursement.approve(
            conn, district_code=SHOUGUANG, period="2026-11", officer=OFFICER, now=DEC
        )
        with pytest.raises(Conflict):
            reimbursement.approve(
                conn, district_code=SHOUGUANG, period="2026-11", officer=OFFICER, now=DEC
            )
