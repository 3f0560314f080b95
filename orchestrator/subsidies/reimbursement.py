"""The monthly reimbursement of a district's vendors: what the ledger says each is owed for a
month, as typed rows, CSV and PDF, and the officer's approval that closes the month.

A report lists the month's settlements (`settled` entries booked in it), so its total is
the ledger's to the fen and equals the month's `settled_fen`. An officer approves a month
once it has ended: the month row records who and when (the audited act) and nothing more is
booked in it; a settlement recorded later lands in the next open month (`ledger`).
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy import Connection, column, select, table, update

from orchestrator.clock import CHINA
from orchestrator.errors import Conflict, Forbidden
from orchestrator.identity.models import Role, Staff
from orchestrator.subsidies.ledger import ensure_periods, period_of
from orchestrator.subsidies.models import ENTRY_TABLE as _ENTRY
from orchestrator.subsidies.models import PERIOD_TABLE as _PERIOD
from orchestrator.subsidies.models import EntryKind
from orchestrator.subsidies.policy import ITEM_LABELS, VENDOR_LABELS

log = logging.getLogger(__name__)

# The filing's columns a report names (the ledger sits below the filings domain).
_FILING = table("filing", column("id"), column("tracking_code"), column("company_name"))


@dataclass(frozen=True)
class ReportLine:
    """One settled item: a filing's seal or parcel the district pays the vendor for."""

    vendor: str
    tracking_code: str
    company_name: str
    item: str
    amount_fen: int
    settled_at: datetime


@dataclass(frozen=True)
class VendorTotal:
    """What one vendor is owed for the month."""

    vendor: str
    items: int
    amount_fen: int


@dataclass(frozen=True)
class Report:
    """A district's month: its budget use and what it owes each vendor (one, if asked)."""

    district_code: str
    period: str
    budget_fen: int  # in force at the month's last reservation (0 before any)
    committed_fen: int  # what its reservations hold
    settled_fen: int  # owed to every vendor for the month
    approved_at: datetime | None
    approved_by: str | None
    vendors: tuple[VendorTotal, ...]
    lines: tuple[ReportLine, ...]

    @property
    def total_fen(self) -> int:
        """What the report's lines come to."""
        return sum(line.amount_fen for line in self.lines)


def report(
    conn: Connection, *, district_code: str, period: str, vendor: str | None = None
) -> Report:
    """The month's reimbursement report, of every vendor or only `vendor`."""
    month = conn.execute(
        select(
            _PERIOD.c.budget_fen,
            _PERIOD.c.committed_fen,
            _PERIOD.c.settled_fen,
            _PERIOD.c.approved_at,
            _PERIOD.c.approved_by,
        ).where(_PERIOD.c.district_code == district_code, _PERIOD.c.period == period)
    ).one_or_none()
    query = (
        select(
            _ENTRY.c.vendor,
            _FILING.c.tracking_code,
            _FILING.c.company_name,
            _ENTRY.c.item,
            _ENTRY.c.amount_fen,
            _ENTRY.c.at,
        )
        .join(_FILING, _FILING.c.id == _ENTRY.c.filing_id)
        .where(
            _ENTRY.c.district_code == district_code,
            _ENTRY.c.period == period,
            _ENTRY.c.kind == EntryKind.SETTLED,
        )
        .order_by(_ENTRY.c.vendor, _ENTRY.c.at, _ENTRY.c.id)
    )
    if vendor is not None:
        query = query.where(_ENTRY.c.vendor == vendor)
    lines = tuple(ReportLine(*row) for row in conn.execute(query))
    totals: dict[str, list[int]] = {}
    for line in lines:
        count_and_sum = totals.setdefault(line.vendor, [0, 0])
        count_and_sum[0] += 1
        count_and_sum[1] += line.amount_fen
    return Report(
        district_code=district_code,
        period=period,
        budget_fen=month.budget_fen if month else 0,
        committed_fen=month.committed_fen if month else 0,
        settled_fen=month.settled_fen if month else 0,
        approved_at=month.approved_at if month else None,
        approved_by=month.approved_by if month else None,
        vendors=tuple(VendorTotal(v, n, fen) for v, (n, fen) in totals.items()),
        lines=lines,
    )


@dataclass(frozen=True)
class MonthUse:
    """A district's month against its budget: what its reservations hold, what is owed."""

    period: str
    budget_fen: int
    committed_fen: int
    settled_fen: int
    approved_at: datetime | None


def budget_use(conn: Connection, *, district_code: str, first: str, last: str) -> list[MonthUse]:
    """The district's months from `first` to `last` ("2026-01".."2026-12") that have any
    booking, in order: spend against budget, one row each, no sums taken."""
    rows = conn.execute(
        select(
            _PERIOD.c.period,
            _PERIOD.c.budget_fen,
            _PERIOD.c.committed_fen,
            _PERIOD.c.settled_fen,
            _PERIOD.c.approved_at,
        )
        .where(
            _PERIOD.c.district_code == district_code,
            _PERIOD.c.period >= first,
            _PERIOD.c.period <= last,
        )
        .order_by(_PERIOD.c.period)
    )
    return [MonthUse(*row) for row in rows]


def approve(
    conn: Connection, *, district_code: str, period: str, officer: Staff, now: datetime
) -> Report:
    """The officer approves the month's report: the month is closed for good.

    Only an officer of the district (or an administrator) approves, only a month that has
    ended, and only once (Conflict otherwise). The report returned is the one approved:
    taken under the month's lock, nothing can be booked in it meanwhile.
    """
    if not (
        officer.role == Role.ADMIN
        or (officer.role == Role.OFFICER and officer.district_code == district_code)
    ):
        raise Forbidden(
            "只有本区县的监管人员可以审核补贴结算",
            "only a market-supervision officer of the district approves its subsidy report",
        )
    if period >= period_of(now):
        raise Conflict("当月尚未结束，不能审核", "the month has not ended yet", period=period)
    ensure_periods(conn, district_code, [period])
    # The same lock every booking in the month takes: bookings wait, then find it closed.
    approved_at = conn.execute(
        select(_PERIOD.c.approved_at)
        .where(_PERIOD.c.district_code == district_code, _PERIOD.c.period == period)
        .with_for_update()
    ).scalar_one()
    if approved_at is not None:
        raise Conflict("该月已审核", "this month has already been approved", period=period)
    who = f"staff:{officer.username}"
    conn.execute(
        update(_PERIOD)
        .where(_PERIOD.c.district_code == district_code, _PERIOD.c.period == period)
        .values(approved_at=now, approved_by=who)
    )
    approved = report(conn, district_code=district_code, period=period)
    log.info(
        "subsidy month approved",
        extra={
            "district": district_code,
            "period": period,
            "by": who,
            "settled_fen": approved.settled_fen,
        },
    )
    return approved


def yuan(fen: int) -> str:
    """An amount in fen as yuan: "74.00"."""
    return f"{fen // 100}.{fen % 100:02d}"


CSV_HEADER = (
    "vendor",
    "tracking_code",
    "company_name",
    "item",
    "amount_fen",
    "amount_yuan",
    "settled_at",
)


def to_csv(report: Report) -> str:
    """The report's lines, then one total line per vendor (`tracking_code` "TOTAL")."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for line in report.lines:
        writer.writerow(
            (
                line.vendor,
                line.tracking_code,
                line.company_name,
                line.item,
                line.amount_fen,
                yuan(line.amount_fen),
                line.settled_at.astimezone(CHINA).isoformat(timespec="seconds"),
            )
        )
    for total in report.vendors:
        writer.writerow(
            (total.vendor, "TOTAL", "", total.items, total.amount_fen, yuan(total.amount_fen), "")
        )
    return out.getvalue()


FONT = "STSong-Light"  # a standard Adobe CID font: viewers supply it, nothing to embed


@cache
def _font() -> str:
    pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def to_pdf(report: Report, *, district_name: str = "") -> bytes:
    """The report as an A4 PDF, bilingual, the same bytes for the same report."""
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, invariant=True)
    canvas.setTitle(f"subsidy reimbursement {report.district_code} {report.period}")
    font = _font()
    height = A4[1]
    y = height - 60

    def line(text: str, *, size: int = 10, x: float = 50, step: float = 15) -> None:
        nonlocal y
        if y < 60:
            canvas.showPage()
            y = height - 60
        canvas.setFont(font, size)
        canvas.drawString(x, y, text)
        y -= step

    line(f"企业开办补贴结算单 Subsidy reimbursement  {report.period}", size=15, step=24)
    line(f"区县 District: {district_name} {report.district_code}".rstrip())
    line(
        f"月度预算 Budget ¥{yuan(report.budget_fen)}  已预留 Committed "
        f"¥{yuan(report.committed_fen)}  应结算 Settled ¥{yuan(report.settled_fen)}"
    )
    if report.approved_at is not None:
        when = report.approved_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
        line(f"已审核 Approved: {when} {report.approved_by}")
    else:
        line("未审核 Not approved")
    y -= 8
    for total in report.vendors:
        zh, en = VENDOR_LABELS.get(total.vendor, (total.vendor, total.vendor))
        line(f"{zh} {en}: {total.items} 项 items, ¥{yuan(total.amount_fen)}", size=12, step=20)
        for item in _lines_of(report.lines, total.vendor):
            label_zh, _ = ITEM_LABELS.get(item.item, (item.item, item.item))
            when = item.settled_at.astimezone(CHINA).strftime("%m-%d")
            line(
                f"{when}  {item.tracking_code}  {item.company_name}  {label_zh}  "
                f"¥{yuan(item.amount_fen)}",
                size=9,
                x=62,
                step=13,
            )
        y -= 6
    line(f"合计 Total: ¥{yuan(report.total_fen)}", size=12)
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def _lines_of(lines: Sequence[ReportLine], vendor: str) -> list[ReportLine]:
    return [line for line in lines if line.vendor == vendor]
