"""The subsidy ledger: reserve at acceptance, settle at completion, release at cancellation.

Every amount is integer fen and every entry is an insert; nothing is updated but the
district's month (`SubsidyPeriod`), whose row serialises what is booked in it:

- `reserve` books the filing's free items in the month of acceptance if the month's budget
  still covers all of them together (the row is locked, so two acceptances cannot both take
  the last of it); otherwise the filing falls back to paid, every item booked as `fallback`
  (what the firm pays), outside the budget. A rejected step that is corrected and resubmitted
  changes nothing here: the reservation stands until the filing completes or is cancelled.
- `settle`, at completion, books what the district owes each vendor: one entry per reserved
  item not closed yet, in a conditional insert, the unique key (filing, item, closing)
  refusing a second one in any case.
- `release`, at cancellation or withdrawal, gives each reserved item not closed yet back to
  the budget of the month it was reserved in.

An approved month is closed: an entry dated in it (a completion or cancellation recorded
after the approval, with a clock at the month's end) is booked in the first open month
after it, and what it owes the vendors never changes again. Its budget use still drops
when one of its reservations is released later: that money was never spent. Months are
calendar months in China ("2026-12").

Lock order: a caller holds the filing's rows (its steps, then the filing) before the month
rows; several month rows are locked in ascending order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, exists, insert, literal, select, true, update
from sqlalchemy.dialects import postgresql, sqlite

from orchestrator.clock import CHINA
from orchestrator.reference import DistrictPolicy, load_reference
from orchestrator.subsidies.models import ENTRY_TABLE as _ENTRY
from orchestrator.subsidies.models import PERIOD_TABLE as _PERIOD
from orchestrator.subsidies.models import EntryKind
from orchestrator.subsidies.policy import Item, free_items, items_of_filing


def period_of(instant: datetime) -> str:
    """The month `instant` falls in, in China: "2026-12"."""
    return instant.astimezone(CHINA).strftime("%Y-%m")


def next_period(period: str) -> str:
    """The month after `period`."""
    year, month = int(period[:4]), int(period[5:])
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}"


@dataclass(frozen=True)
class Reservation:
    """What acceptance booked for a filing: its items, free (`granted`) or paid by the firm."""

    period: str
    granted: bool
    items: tuple[Item, ...]

    @property
    def total_fen(self) -> int:
        """The items' amount together."""
        return sum(item.amount_fen for item in self.items)


def reserve_for_filing(
    conn: Connection,
    *,
    filing_id: int,
    district_code: str,
    payload: Mapping[str, Any],
    now: datetime,
    actor: str,
) -> Reservation | None:
    """`reserve` what the district's policy in force makes free for an accepted filing."""
    policy = load_reference().districts[district_code].policy
    return reserve(
        conn,
        filing_id=filing_id,
        district_code=district_code,
        items=items_of_filing(policy, payload),
        budget_fen=policy.subsidies.budget_fen or 0,
        now=now,
        actor=actor,
    )


def reserve(
    conn: Connection,
    *,
    filing_id: int,
    district_code: str,
    items: Sequence[Item],
    budget_fen: int,
    now: datetime,
    actor: str,
) -> Reservation | None:
    """Book `items` for the filing against the month's budget, all or none; None if there
    is nothing to book."""
    if not items:
        return None
    total = sum(item.amount_fen for item in items)
    period = period_of(now)
    # Most acceptances: the month's row is there, open and within budget. One statement
    # then books it (the update locks the row, and its condition reads the last committed
    # amount); only otherwise is the open month found and locked first, then asked again.
    granted = _book(conn, district_code, period, total, budget_fen, open_only=True)
    if not granted:
        period = _open_period(conn, district_code, period)
        granted = _book(conn, district_code, period, total, budget_fen)
    kind = EntryKind.RESERVED if granted else EntryKind.FALLBACK
    conn.execute(
        insert(_ENTRY),
        [
            {
                "filing_id": filing_id,
                "district_code": district_code,
                "period": period,
                "item": item.code,
                "vendor": item.vendor,
                "kind": kind,
                "closing": False,
                "amount_fen": item.amount_fen,
                "at": now,
                "actor": actor,
            }
            for item in items
        ],
    )
    return Reservation(period, granted, tuple(items))


def _book(
    conn: Connection,
    district_code: str,
    period: str,
    total: int,
    budget_fen: int,
    *,
    open_only: bool = False,
) -> bool:
    """Add `total` to the month's committed amount if the budget covers it (and, with
    `open_only`, if the month is there and not approved); whether it did."""
    conditions = [_key(district_code, period), _PERIOD.c.committed_fen + total <= budget_fen]
    if open_only:
        conditions.append(_PERIOD.c.approved_at.is_(None))
    booked = conn.execute(
        update(_PERIOD)
        .where(*conditions)
        .values(committed_fen=_PERIOD.c.committed_fen + total, budget_fen=budget_fen)
    )
    return booked.rowcount == 1


def settle(conn: Connection, filing_id: int, *, now: datetime, actor: str) -> int:
    """Book what the district owes the vendors for a completed filing; the fen booked."""
    _, closed = _close(conn, filing_id, EntryKind.SETTLED, now=now, actor=actor)
    return sum(closed.values())


def release(conn: Connection, filing_id: int, *, now: datetime, actor: str) -> int:
    """Give a cancelled or withdrawn filing's reservations back to their months' budgets;
    the fen released."""
    district_code, returned = _close(conn, filing_id, EntryKind.RELEASED, now=now, actor=actor)
    for period, amount in sorted(returned.items()):
        conn.execute(
            update(_PERIOD)
            .where(_key(district_code, period))
            .values(committed_fen=_PERIOD.c.committed_fen - amount)
        )
    return sum(returned.values())


_CLOSED = _ENTRY.alias("closed")
_OPEN_RESERVATION = and_(
    _ENTRY.c.kind == EntryKind.RESERVED,
    ~exists().where(
        _CLOSED.c.filing_id == _ENTRY.c.filing_id,
        _CLOSED.c.item == _ENTRY.c.item,
        _CLOSED.c.closing == true(),
    ),
)


def _close(
    conn: Connection, filing_id: int, kind: EntryKind, *, now: datetime, actor: str
) -> tuple[str, dict[str, int]]:
    """Close every open reservation of the filing by `kind`, booked in the first open month
    from `now`'s; its district, and the fen closed by the month each was reserved in."""
    reserved = conn.execute(
        select(_ENTRY.c.district_code, _ENTRY.c.item, _ENTRY.c.period).where(
            _ENTRY.c.filing_id == filing_id, _OPEN_RESERVATION
        )
    ).all()
    if not reserved:
        return "", {}  # most filings: one indexed look-up, nothing more
    district_code = reserved[0].district_code
    reserved_in = {row.item: row.period for row in reserved}
    # A release changes the months of the reservations too: lock them with the month it lands in.
    also = set(reserved_in.values()) if kind == EntryKind.RELEASED else set()
    # Never before the reservation, whatever the clock said (one at a month's end, say).
    natural = max(period_of(now), *reserved_in.values())
    period = _open_period(conn, district_code, natural, also=also)
    columns = [c for c in _ENTRY.c if c.name != "id"]
    values: dict[str, Any] = {
        "period": literal(period),
        "kind": literal(kind.value),
        "closing": true(),
        "at": literal(now, _ENTRY.c.at.type),
        "actor": literal(actor),
    }
    # Conditional: only a reservation no entry has closed yet (the unique key backs it up).
    closed = conn.execute(
        insert(_ENTRY)
        .from_select(
            [c.name for c in columns],
            select(*(values.get(c.name, c) for c in columns)).where(
                _ENTRY.c.filing_id == filing_id, _OPEN_RESERVATION
            ),
        )
        .returning(_ENTRY.c.item, _ENTRY.c.amount_fen)
    ).all()
    by_month: dict[str, int] = {}
    for item, amount in closed:
        by_month[reserved_in[item]] = by_month.get(reserved_in[item], 0) + amount
    if kind == EntryKind.SETTLED and closed:
        total = sum(amount for _, amount in closed)
        conn.execute(
            update(_PERIOD)
            .where(_key(district_code, period))
            .values(settled_fen=_PERIOD.c.settled_fen + total)
        )
    return district_code, by_month


def _key(district_code: str, period: str) -> Any:
    return and_(_PERIOD.c.district_code == district_code, _PERIOD.c.period == period)


def _open_period(
    conn: Connection, district_code: str, natural: str, *, also: Iterable[str] = ()
) -> str:
    """The first month from `natural` not approved, its row locked (with those of `also`,
    in ascending order); rows are made as needed. One statement once the month's row is
    there: the lock, which reads its approval too."""
    also = set(also)
    while True:
        wanted = sorted(also | {natural})
        lock = (
            select(_PERIOD.c.period, _PERIOD.c.approved_at)
            .where(_PERIOD.c.district_code == district_code, _PERIOD.c.period.in_(wanted))
            .order_by(_PERIOD.c.period)
            .with_for_update()
        )
        locked = dict(conn.execute(lock).all())
        if len(locked) < len(wanted):  # a month's first booking: make its row, then lock
            ensure_periods(conn, district_code, [p for p in wanted if p not in locked])
            locked = dict(conn.execute(lock).all())
        if locked[natural] is None:
            return natural
        # Approved (for good): the next month, then; a month already approved stays locked
        # till the commit, harmlessly, as nothing more is written to it.
        natural = next_period(natural)


def ensure_periods(conn: Connection, district_code: str, periods: Sequence[str]) -> None:
    """Make the month rows missing (two transactions may try at once: one does it)."""
    rows = [
        {
            "district_code": district_code,
            "period": period,
            "budget_fen": 0,
            "committed_fen": 0,
            "settled_fen": 0,
        }
        for period in periods
    ]
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(_PERIOD).on_conflict_do_nothing(), rows)


@dataclass(frozen=True)
class Offer:
    """What the intake page tells the clerk before submitting: the items free for this
    filing now, and whether the month's budget still covers them."""

    items: tuple[Item, ...]
    period: str
    budget_fen: int | None
    remaining_fen: int | None

    @property
    def total_fen(self) -> int:
        """The items' amount together."""
        return sum(item.amount_fen for item in self.items)

    @property
    def covered(self) -> bool:
        """Whether the filing would get its items free if accepted now (False: paid)."""
        return bool(self.items) and (self.remaining_fen or 0) >= self.total_fen


def offer(
    conn: Connection,
    *,
    district_code: str,
    industry_code: str,
    seals: Iterable[str],
    couriered: bool,
    now: datetime,
    policy: DistrictPolicy | None = None,
) -> Offer:
    """What acceptance would reserve for such a filing now (without locking anything: a
    filing accepted meanwhile may still take the last of the budget)."""
    if policy is None:
        policy = load_reference().districts[district_code].policy
    items = free_items(policy, industry_code=industry_code, seals=seals, couriered=couriered)
    budget = policy.subsidies.budget_fen
    period = period_of(now)
    rows = dict(
        conn.execute(
            select(_PERIOD.c.period, _PERIOD.c.approved_at).where(
                _PERIOD.c.district_code == district_code, _PERIOD.c.period >= period
            )
        ).all()
    )
    while rows.get(period) is not None:
        period = next_period(period)
    committed = conn.execute(
        select(_PERIOD.c.committed_fen).where(_key(district_code, period))
    ).scalar_one_or_none()
    remaining = None if budget is None else max(0, budget - (committed or 0))
    return Offer(items, period, budget, remaining)


@dataclass(frozen=True)
class FilingSubsidy:
    """A filing's subsidy as the ledger has it, for its receipt and the queue."""

    items: tuple[str, ...]  # item codes
    total_fen: int
    granted: bool  # False: the budget was spent, the firm pays (fell back at acceptance)
    closed_as: EntryKind | None  # settled or released, once the filing is over


def of_filings(conn: Connection, filing_ids: Iterable[int]) -> dict[int, FilingSubsidy]:
    """The subsidy of each filing that has one (filings with nothing free are left out)."""
    ids = list(filing_ids)
    if not ids:
        return {}
    rows = conn.execute(
        select(
            _ENTRY.c.filing_id, _ENTRY.c.item, _ENTRY.c.kind, _ENTRY.c.closing, _ENTRY.c.amount_fen
        )
        .where(_ENTRY.c.filing_id.in_(ids))
        .order_by(_ENTRY.c.id)
    ).all()
    opening: dict[int, list[Any]] = {}
    closing: dict[int, EntryKind] = {}
    for row in rows:
        if row.closing:
            closing[row.filing_id] = EntryKind(row.kind)
        else:
            opening.setdefault(row.filing_id, []).append(row)
    return {
        filing_id: FilingSubsidy(
            items=tuple(row.item for row in opened),
            total_fen=sum(row.amount_fen for row in opened),
            granted=opened[0].kind == EntryKind.RESERVED,
            closed_as=closing.get(filing_id),
        )
        for filing_id, opened in opening.items()
    }
