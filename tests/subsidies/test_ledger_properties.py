"""Random filings, policies, budgets, cancellations, approvals and policy changes against a
model of what the ledger must say: ledger, budget and reimbursement report agree to the fen,
and nothing is settled twice."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, func, select

from orchestrator.clock import CHINA
from orchestrator.errors import Conflict
from orchestrator.identity.models import Role, Staff
from orchestrator.models import Base
from orchestrator.reference import SEAL_KINDS, DistrictPolicy
from orchestrator.subsidies import ledger, reimbursement
from orchestrator.subsidies.models import ENTRY_TABLE, PERIOD_TABLE, EntryKind
from orchestrator.subsidies.policy import free_items
from tests.subsidies import clean, new_filing

DISTRICTS = ("370783", "370811")
INDUSTRIES = ("0111", "6511", "7211")
START = datetime(2026, 11, 20, 10, 0, tzinfo=CHINA)


def _policy(
    kinds: frozenset[str],
    divisions: frozenset[str] | None,
    courier: bool,
    budget: int,
    seal_prices: tuple[int, int, int, int],
    parcel: int,
) -> DistrictPolicy:
    paying = bool(kinds) or courier
    subsidies: dict[str, Any] = {"courier_free": courier, "budget_fen": budget if paying else None}
    if kinds:
        subsidies["seals"] = {
            "kinds": sorted(kinds),
            "industry_divisions": None if divisions is None else sorted(divisions),
        }
    return DistrictPolicy.model_validate(
        {
            "sla_working_days": 3,
            "partner_banks": ["ABC"],
            "subsidies": subsidies,
            "prices": {"seals_fen": dict(zip(SEAL_KINDS, seal_prices, strict=True)),
                       "parcel_fen": parcel},
        }
    )  # fmt: skip


policies = st.builds(
    _policy,
    st.frozensets(st.sampled_from(SEAL_KINDS)),
    st.none() | st.frozensets(st.sampled_from(["01", "65", "72"])),
    st.booleans(),
    st.integers(1, 20_000),
    st.tuples(*[st.integers(0, 3_000)] * 4),
    st.integers(0, 2_000),
)
districts = st.integers(0, len(DISTRICTS) - 1)
filing_pick = st.integers(0, 1_000)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("policy"), districts, policies),
        st.tuples(
            st.just("accept"),
            districts,
            st.sampled_from(INDUSTRIES),
            st.frozensets(st.sampled_from(SEAL_KINDS), min_size=1),
            st.booleans(),
        ),
        st.tuples(st.just("tick"), st.integers(0, 20)),
        st.tuples(st.just("complete"), filing_pick, st.booleans()),
        st.tuples(st.just("cancel"), filing_pick, st.booleans()),
        st.tuples(st.just("approve"), districts),
    ),
    max_size=40,
)


@dataclass
class _Filing:
    id: int
    district: str
    items: tuple[ledger.Item, ...]
    reservation: ledger.Reservation | None
    state: str = "open"  # complete, cancelled


@pytest.fixture(scope="module")
def engine() -> Iterator[sa.Engine]:
    engine = sa.create_engine("sqlite://", poolclass=sa.StaticPool)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


def _month_start(now: datetime) -> datetime:
    return now.astimezone(CHINA).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(initial=st.tuples(policies, policies), ops=operations)
def test_ledger_budget_and_reports_agree_to_the_fen(
    engine: sa.Engine, initial: tuple[DistrictPolicy, DistrictPolicy], ops: list[Any]
) -> None:
    with engine.begin() as conn:
        clean(conn)
        _run(conn, dict(zip(DISTRICTS, initial, strict=True)), ops)


def _run(conn: Connection, policy: dict[str, DistrictPolicy], ops: list[Any]) -> None:
    now = START
    filings: list[_Filing] = []
    committed: dict[tuple[str, str], int] = {}  # the model's budget use
    approved: dict[tuple[str, str], reimbursement.Report] = {}

    def landing(district: str, at: datetime) -> str:
        period = ledger.period_of(at)
        while (district, period) in approved:
            period = ledger.next_period(period)
        return period

    for op in ops:
        match op:
            case ("policy", d, new):
                policy[DISTRICTS[d]] = new
            case ("accept", d, industry, seals, couriered):
                district = DISTRICTS[d]
                items = free_items(
                    policy[district], industry_code=industry, seals=seals, couriered=couriered
                )
                offered = ledger.offer(
                    conn,
                    district_code=district,
                    industry_code=industry,
                    seals=seals,
                    couriered=couriered,
                    now=now,
                    policy=policy[district],
                )
                filing_id = new_filing(conn, district, len(filings))
                budget = policy[district].subsidies.budget_fen or 0
                got = ledger.reserve(
                    conn,
                    filing_id=filing_id,
                    district_code=district,
                    items=items,
                    budget_fen=budget,
                    now=now,
                    actor="clerk",
                )
                filings.append(_Filing(filing_id, district, items, got))
                if not items:
                    assert got is None and not offered.covered
                    continue
                assert got is not None
                key = (district, landing(district, now))
                assert got.period == key[1]
                fits = committed.get(key, 0) + got.total_fen <= budget
                assert got.granted == fits == offered.covered  # the clerk was told the truth
                if fits:
                    committed[key] = committed.get(key, 0) + got.total_fen
            case ("tick", days):
                now += timedelta(days=days, hours=1)
            case ("complete" | "cancel", pick, late):
                if not filings:
                    continue
                filing = filings[pick % len(filings)]
                # Late: recorded with an instant at the end of last month (a clock at the
                # boundary, a transaction that committed after the approval).
                at = _month_start(now) - timedelta(seconds=1) if late else now
                if op[0] == "complete":
                    fen = ledger.settle(conn, filing.id, now=at, actor="worker")
                    if filing.state == "open":
                        filing.state = "complete"
                        assert fen == _granted_total(filing)
                    else:
                        assert fen == 0  # never twice, nor after a release
                else:
                    fen = ledger.release(conn, filing.id, now=at, actor="clerk")
                    if filing.state == "open":
                        filing.state = "cancelled"
                        assert fen == _granted_total(filing)
                        if filing.reservation is not None and filing.reservation.granted:
                            key = (filing.district, filing.reservation.period)
                            committed[key] -= fen
                    else:
                        assert fen == 0
            case ("approve", d):
                district = DISTRICTS[d]
                period = ledger.period_of(_month_start(now) - timedelta(days=1))
                officer = Staff(username="officer", role=Role.OFFICER, district_code=district)
                if (district, period) in approved:
                    with pytest.raises(Conflict):
                        reimbursement.approve(
                            conn, district_code=district, period=period, officer=officer, now=now
                        )
                    continue
                approved[(district, period)] = reimbursement.approve(
                    conn, district_code=district, period=period, officer=officer, now=now
                )
    _check(conn, filings, committed, approved)


def _granted_total(filing: _Filing) -> int:
    reservation = filing.reservation
    return reservation.total_fen if reservation is not None and reservation.granted else 0


def _check(
    conn: Connection,
    filings: list[_Filing],
    committed: dict[tuple[str, str], int],
    approved: dict[tuple[str, str], reimbursement.Report],
) -> None:
    entries = conn.execute(select(ENTRY_TABLE)).all()
    by_item: dict[tuple[int, str], dict[bool, Any]] = {}
    for entry in entries:
        slot = by_item.setdefault((entry.filing_id, entry.item), {})
        assert entry.closing not in slot  # one opening and one closing entry per item at most
        slot[entry.closing] = entry
        assert entry.amount_fen >= 0
    for slot in by_item.values():
        opening, closing = slot.get(False), slot.get(True)
        assert opening is not None
        if closing is not None:
            assert opening.kind == EntryKind.RESERVED  # a fallback is the firm's, never closed
            assert closing.amount_fen == opening.amount_fen
            assert closing.period >= opening.period
            if (opening.district_code, ledger.period_of(closing.at)) in approved:
                event("a late closing landed after its closed month")
    for filing in filings:
        kinds = {
            slot[True].kind
            for (filing_id, _), slot in by_item.items()
            if filing_id == filing.id and True in slot
        }
        granted = filing.reservation is not None and filing.reservation.granted
        expected = {"open": set(), "complete": {EntryKind.SETTLED},
                    "cancelled": {EntryKind.RELEASED}}[filing.state]  # fmt: skip
        assert kinds == (expected if granted else set())

    months = conn.execute(select(PERIOD_TABLE)).all()
    for month in months:
        key = (month.district_code, month.period)
        in_month = [e for e in entries if (e.district_code, e.period) == key]
        # Budget: reservations of the month less their releases (wherever booked).
        reserved = sum(e.amount_fen for e in in_month if e.kind == EntryKind.RESERVED)
        released = sum(
            by_item[(e.filing_id, e.item)][True].amount_fen
            for e in in_month
            if e.kind == EntryKind.RESERVED
            and True in by_item[(e.filing_id, e.item)]
            and by_item[(e.filing_id, e.item)][True].kind == EntryKind.RELEASED
        )
        assert month.committed_fen == reserved - released == committed.get(key, 0)
        assert month.committed_fen <= max(month.budget_fen, 0) or month.committed_fen == 0
        # Reimbursement: the report sums the month's settlements, vendor by vendor.
        settled = sum(e.amount_fen for e in in_month if e.kind == EntryKind.SETTLED)
        full = reimbursement.report(conn, district_code=key[0], period=key[1])
        assert full.total_fen == settled == month.settled_fen
        assert sum(v.amount_fen for v in full.vendors) == settled
        per_vendor = [
            reimbursement.report(conn, district_code=key[0], period=key[1], vendor=v.vendor)
            for v in full.vendors
        ]
        assert sum(r.total_fen for r in per_vendor) == settled
        csv_total = sum(
            int(row.split(",")[4])
            for row in reimbursement.to_csv(full).splitlines()[1:]
            if row.split(",")[1] == "TOTAL"
        )
        assert csv_total == settled
        if key in approved:  # closed: nothing landed in it since (a release of one of its
            # reservations still gives its budget back: see `ledger`)
            then = approved[key]
            assert (full.lines, full.vendors, full.settled_fen, full.approved_at) == (
                then.lines, then.vendors, then.settled_fen, then.approved_at,
            )  # fmt: skip
    # Everything reserved is settled, released, or still held for an open filing.
    total = conn.scalar(
        select(func.coalesce(func.sum(ENTRY_TABLE.c.amount_fen), 0)).where(
            ENTRY_TABLE.c.kind == EntryKind.RESERVED
        )
    )
    held = sum(_granted_total(f) for f in filings if f.state == "open")
    closed = sum(e.amount_fen for e in entries if e.closing)
    assert total == closed + held
