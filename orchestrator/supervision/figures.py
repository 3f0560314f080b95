"""The supervision figures: what the JSON API, its CSV export and the dashboard show.

Every figure takes `Filters` (a district, maybe a branch, a period of China days) that
`filters_for` builds from what the caller asked and may see, and returns a pydantic model
that is both the API's schema and the dashboard's data. Time figures sum the daily summary
(`supervision.models`), never the filings; 容缺 outstanding and open follow-ups are the
state now, read through small indexes. The figures of the promise under threat
(`at_risk`) and of the subsidies (`subsidy_spend`) build on these filters in modules of
their own; `overview` puts every figure together.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, func, literal, select
from sqlalchemy.orm import Session

from orchestrator.errors import Forbidden, Invalid
from orchestrator.feedback.models import FollowUp, FollowUpStatus
from orchestrator.filings.models import Filing, Material, MaterialStatus
from orchestrator.identity.models import Branch, District
from orchestrator.identity.service import Scope
from orchestrator.supervision.models import (
    FILING_SUBJECT,
    SupervisionDay,
    SupervisionHours,
    SupervisionRatings,
    open_filing,
)
from orchestrator.supervision.tally import LAST_HOUR, WITHIN_DAYS
from orchestrator.validation import FieldError
from orchestrator.workflow import by_name

# A period reaches back at most a year and a day (a leap year, inclusive): each figure
# sums days × branches rows, so its cost is bounded by this whatever the history.
MAX_PERIOD_DAYS = 366
DEFAULT_PERIOD_DAYS = 30
# Days a filter may name: OneStop has no filing before 2000, and none after 2100.
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)


@dataclass(frozen=True)
class Filters:
    """Which filings a figure counts: a district (None: every one, administrators only),
    maybe one branch, and the China days from `start` to `end` inclusive."""

    district_code: str | None
    branch_id: int | None
    start: date
    end: date


class Period(BaseModel):
    """The filters a figure was computed with, echoed in every answer."""

    district_code: str | None
    branch_id: int | None
    start: date = Field(description="First China day counted")
    end: date = Field(description="Last China day counted (inclusive)")

    @classmethod
    def of(cls, filters: Filters) -> Period:
        """The echo of `filters`."""
        return cls(
            district_code=filters.district_code,
            branch_id=filters.branch_id,
            start=filters.start,
            end=filters.end,
        )


def filters_for(
    session: Session,
    scope: Scope,
    *,
    district_code: str | None,
    branch_id: int | None,
    start: date | None,
    end: date | None,
    today: date,
) -> Filters:
    """The filters a caller in `scope` asked for, checked: officers see their district only
    (Forbidden otherwise, and for anyone but officers and administrators); an unknown
    district or a branch outside it, or a period backwards or longer than a year, is
    Invalid. The period defaults to the 30 days up to `today`."""
    if scope.everything:
        district = district_code
    elif scope.district_code is not None and scope.branch_id is None:
        if district_code not in (None, scope.district_code):
            raise Forbidden(
                f"只能查看本辖区（{scope.district_code}）的监管数据",
                f"you may see the supervision figures of your district"
                f" ({scope.district_code}) only",
                field="district_code",
            )
        district = scope.district_code
    else:
        raise Forbidden(
            "监管数据仅供市场监管人员查看", "the supervision figures are for supervision officers"
        )
    if district is not None and session.get(District, district) is None:
        raise _invalid(
            "district_code",
            "unknown_district",
            f"没有代码为 {district} 的辖区",
            f"no district {district}",
        )
    if branch_id is not None:
        branch = session.get(Branch, branch_id)
        if branch is None or (district is not None and branch.district_code != district):
            where_zh = f"辖区 {district} 内" if district else ""
            where_en = f" in district {district}" if district else ""
            raise _invalid(
                "branch_id",
                "unknown_branch",
                f"{where_zh}没有编号为 {branch_id} 的网点",
                f"no branch {branch_id}{where_en}",
            )
    for name, day in (("from", start), ("to", end)):
        if day is not None and not EARLIEST <= day <= LATEST:
            raise _invalid(
                name,
                "date_out_of_range",
                f"日期应在 {EARLIEST} 至 {LATEST} 之间",
                f"a date is between {EARLIEST} and {LATEST}",
            )
    end = end or today
    start = start or end - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    if start > end:
        raise _invalid(
            "from",
            "period_backwards",
            f"起始日期 {start} 晚于结束日期 {end}",
            f"the period starts ({start}) after it ends ({end})",
        )
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise _invalid(
            "from",
            "period_too_long",
            f"统计期间最长 {MAX_PERIOD_DAYS} 天（{start} 至 {end} 共 {(end - start).days + 1} 天）",
            f"a period is at most {MAX_PERIOD_DAYS} days long ({start} to {end} is"
            f" {(end - start).days + 1})",
        )
    return Filters(district, branch_id, start, end)


def _invalid(field: str, code: str, zh: str, en: str) -> Invalid:
    """A 422 naming the filter at fault, shaped as every 422 of the API."""
    error = FieldError(field=field, code=code, message_zh=zh, message_en=en)
    return Invalid(zh, en, errors=[error.model_dump()])


def _where(model: Any, filters: Filters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [model.day >= filters.start, model.day <= filters.end]
    if filters.district_code is not None:
        conditions.append(model.district_code == filters.district_code)
    if filters.branch_id is not None:
        conditions.append(model.branch_id == filters.branch_id)
    return conditions


def filings_where(filters: Filters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.district_code is not None:
        conditions.append(Filing.district_code == filters.district_code)
    if filters.branch_id is not None:
        conditions.append(Filing.branch_id == filters.branch_id)
    return conditions


CsvTable = tuple[list[str], list[list[Any]]]


class Table(BaseModel):
    """A figure that is also a table: its CSV export."""

    def csv(self) -> CsvTable:
        """A header and rows."""
        raise NotImplementedError


# --- completion time -----------------------------------------------------------------


class HistogramBucket(BaseModel):
    """Filings ready after `hours` to `hours + 1` working hours (or more, if open-ended)."""

    hours: int
    open_ended: bool = Field(description="The last bucket: this many working hours or more")
    count: int


class Histogram(Table):
    """Working hours from acceptance to ready of the filings ready in the period."""

    period: Period
    count: int
    buckets: list[HistogramBucket]

    def csv(self) -> CsvTable:
        """The buckets as a table."""
        rows: list[list[Any]] = [[b.hours, b.open_ended, b.count] for b in self.buckets]
        return ["working_hours", "open_ended", "filings"], rows


def completion_histogram(session: Session, filters: Filters) -> Histogram:
    """Every bucket from 0 to `LAST_HOUR` working hours, empty ones included."""
    query = (
        select(SupervisionHours.hours, func.sum(SupervisionHours.count))
        .where(*_where(SupervisionHours, filters))
        .group_by(SupervisionHours.hours)
    )
    counts = {hours: int(n) for hours, n in session.execute(query)}
    buckets = [
        HistogramBucket(hours=h, open_ended=h == LAST_HOUR, count=counts.get(h, 0))
        for h in range(LAST_HOUR + 1)
    ]
    return Histogram(period=Period.of(filters), count=sum(counts.values()), buckets=buckets)


class Grouping(enum.StrEnum):
    """What the shares within 0.5 / 1 / 3 working days are broken down by."""

    BRANCH = "branch"
    STEP = "step"
    AGENCY = "agency"
    WEEK = "week"


class ShareRow(BaseModel):
    """How many of one group's times were within 0.5, 1 and 3 working days."""

    key: str = Field(description="Branch id, step name, agency or ISO week (2026-W49)")
    label_zh: str
    label_en: str
    count: int
    within_half_day: int
    within_one_day: int
    within_three_days: int
    share_half_day: float | None = Field(description="Fraction (0–1); null when count is 0")
    share_one_day: float | None
    share_three_days: float | None
    mean_working_hours: float | None


class Shares(Table):
    """Shares within 0.5 / 1 / 3 working days: of filings (acceptance to ready) by branch
    or week, of steps (start to finish) by step or agency."""

    period: Period
    by: Grouping
    within_days: list[float] = Field(description="The promises measured, in working days")
    rows: list[ShareRow]

    def csv(self) -> CsvTable:
        """The rows as a table."""
        header = [self.by.value, *[f for f in ShareRow.model_fields if f != "key"]]
        return header, [[getattr(r, f) for f in ShareRow.model_fields] for r in self.rows]


_Sums = list[int]  # count, within half, one, three, working seconds


def _share_row(key: str, label_zh: str, label_en: str, sums: Sequence[int]) -> ShareRow:
    count, half, one, three, seconds = sums

    def share(n: int) -> float | None:
        return round(n / count, 4) if count else None

    return ShareRow(
        key=key,
        label_zh=label_zh,
        label_en=label_en,
        count=count,
        within_half_day=half,
        within_one_day=one,
        within_three_days=three,
        share_half_day=share(half),
        share_one_day=share(one),
        share_three_days=share(three),
        mean_working_hours=round(seconds / count / 3600, 2) if count else None,
    )


def _summed(session: Session, filters: Filters, key: Any, *, steps: bool) -> dict[Any, _Sums]:
    day = SupervisionDay
    filing = literal(FILING_SUBJECT, literal_execute=True)  # inline: see supplements
    subject = day.subject != filing if steps else day.subject == filing
    columns = (day.count, day.within_half_day, day.within_one_day, day.within_three_days)
    query = (
        select(key, *(func.sum(c) for c in columns), func.sum(day.working_seconds))
        .where(*_where(day, filters), subject)
        .group_by(key)
    )
    return {row[0]: [int(v) for v in row[1:]] for row in session.execute(query)}


def _add(into: dict[str, _Sums], key: str, sums: Sequence[int]) -> None:
    row = into.setdefault(key, [0] * 5)
    for i, value in enumerate(sums):
        row[i] += value


def shares(session: Session, filters: Filters, by: Grouping) -> Shares:
    """The shares within 0.5 / 1 / 3 working days by `by`, in a stable order."""
    rows = {
        Grouping.BRANCH: _by_branch,
        Grouping.WEEK: _by_week,
        Grouping.STEP: _by_step,
        Grouping.AGENCY: _by_agency,
    }[by](session, filters)
    return Shares(period=Period.of(filters), by=by, within_days=list(WITHIN_DAYS), rows=rows)


def _by_branch(session: Session, filters: Filters) -> list[ShareRow]:
    summed = _summed(session, filters, SupervisionDay.branch_id, steps=False)
    named = select(Branch.id, Branch.name).where(Branch.id.in_(list(summed)))
    names = {branch_id: name for branch_id, name in session.execute(named)}
    return [
        _share_row(str(b), names.get(b, str(b)), names.get(b, str(b)), summed[b])
        for b in sorted(summed)
    ]


def _by_week(session: Session, filters: Filters) -> list[ShareRow]:
    weeks: dict[str, _Sums] = {}
    for day, sums in _summed(session, filters, SupervisionDay.day, steps=False).items():
        year, week, _ = day.isocalendar()
        _add(weeks, f"{year}-W{week:02d}", sums)
    return [_share_row(w, w, w, weeks[w]) for w in sorted(weeks)]


def _steps_summed(session: Session, filters: Filters) -> dict[str, _Sums]:
    """Sums by step name, in the order steps are declared (unknown names last)."""
    summed = _summed(session, filters, SupervisionDay.subject, steps=True)
    order = list(by_name())
    return {
        name: summed[name]
        for name in sorted(summed, key=lambda s: (order.index(s) if s in order else len(order), s))
    }


def _by_step(session: Session, filters: Filters) -> list[ShareRow]:
    return [
        _share_row(name, *step_labels(name), sums)
        for name, sums in _steps_summed(session, filters).items()
    ]


def _by_agency(session: Session, filters: Filters) -> list[ShareRow]:
    agencies: dict[str, _Sums] = {}
    labels: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for name, sums in _steps_summed(session, filters).items():
        agency = agency_of(name)
        _add(agencies, agency, sums)
        labels[agency].append(step_labels(name))
    return [
        _share_row(
            agency,
            "、".join(zh for zh, _ in labels[agency]),
            ", ".join(en for _, en in labels[agency]),
            sums,
        )
        for agency, sums in agencies.items()
    ]


def step_labels(name: str) -> tuple[str, str]:
    """A step's Chinese and English labels; its name for a step no longer declared."""
    spec = by_name().get(name)
    return (spec.label_zh, spec.label_en) if spec else (name, name)


def agency_of(name: str) -> str:
    """The agency that carries a step; its name for a step no longer declared."""
    spec = by_name().get(name)
    return spec.agency if spec else name


# --- 容缺 outstanding ------------------------------------------------------------------


class OutstandingRow(BaseModel):
    """Missing (容缺) materials of one material code or one branch."""

    key: str
    missing: int
    overdue: int = Field(description="Past their supplement due date")


class Supplements(Table):
    """容缺 materials still missing now, on open filings (the period is not used: this is
    the state at `as_of`)."""

    period: Period
    as_of: datetime
    missing: int
    overdue: int
    filings: int = Field(description="Filings with at least one material missing")
    by_material: list[OutstandingRow]
    by_branch: list[OutstandingRow]

    def csv(self) -> CsvTable:
        """Both breakdowns as one table."""
        rows: list[list[Any]] = [
            ["material", r.key, r.missing, r.overdue] for r in self.by_material
        ] + [["branch", r.key, r.missing, r.overdue] for r in self.by_branch]
        return ["by", "key", "missing", "overdue"], rows


def supplements_outstanding(session: Session, filters: Filters, *, now: datetime) -> Supplements:
    """The 容缺 materials missing now on the open filings of the filters' district or branch.

    Read from the open filings (`OPEN_INDEX`, a few per branch and day) to their materials:
    the other way round, every missing material of every district was joined to its filing.
    """
    missing_now = (
        select(Material.code, Filing.branch_id, Material.filing_id, Material.due_at)
        .join(Material, Material.filing_id == Filing.id)
        .where(
            open_filing(),
            Material.status == literal(MaterialStatus.MISSING.value, literal_execute=True),
            *filings_where(filters),
        )
    )
    by_material: dict[str, list[int]] = {}
    by_branch: dict[str, list[int]] = {}
    filings: set[int] = set()
    for code, branch, filing_id, due_at in session.execute(missing_now):
        late = due_at is not None and due_at < now
        filings.add(filing_id)
        for into, key in ((by_material, code), (by_branch, str(branch))):
            row = into.setdefault(key, [0, 0])
            row[0] += 1
            row[1] += late
    return Supplements(
        period=Period.of(filters),
        as_of=now,
        missing=sum(r[0] for r in by_material.values()),
        overdue=sum(r[1] for r in by_material.values()),
        filings=len(filings),
        by_material=[
            OutstandingRow(key=k, missing=m, overdue=o) for k, (m, o) in sorted(by_material.items())
        ],
        by_branch=[
            OutstandingRow(key=k, missing=m, overdue=o)
            for k, (m, o) in sorted(by_branch.items(), key=lambda kv: int(kv[0]))
        ],
    )


# --- 好差评 -----------------------------------------------------------------------------


class Feedback(Table):
    """Ratings (好差评) given in the period and the follow-ups of bad ones still open now."""

    period: Period
    ratings: int
    good: int
    good_rate: float | None = Field(description="Fraction (0–1); null without ratings")
    open_follow_ups: int = Field(description="Follow-ups not yet answered, whenever opened")
    follow_ups_by_status: dict[str, int]

    def csv(self) -> CsvTable:
        """The figures as one-line table."""
        statuses = [s.value for s in FollowUpStatus if s != FollowUpStatus.ANSWERED]
        header = ["ratings", "good", "good_rate", "open_follow_ups", *statuses]
        row = [self.ratings, self.good, self.good_rate, self.open_follow_ups]
        return header, [row + [self.follow_ups_by_status.get(s, 0) for s in statuses]]


def feedback(session: Session, filters: Filters) -> Feedback:
    """The good rate of the period's ratings and the open follow-ups now."""
    rated = session.execute(
        select(func.sum(SupervisionRatings.count), func.sum(SupervisionRatings.good)).where(
            *_where(SupervisionRatings, filters)
        )
    ).one()
    ratings, good = int(rated[0] or 0), int(rated[1] or 0)
    open_statuses = [s for s in FollowUpStatus if s != FollowUpStatus.ANSWERED]
    query = select(FollowUp.status, func.count()).where(FollowUp.status.in_(open_statuses))
    if filters.branch_id is not None:
        query = query.where(FollowUp.branch_id == filters.branch_id)
    elif filters.district_code is not None:
        branches = select(Branch.id).where(Branch.district_code == filters.district_code)
        query = query.where(FollowUp.branch_id.in_(branches))
    by_status = {str(s.value): 0 for s in open_statuses}
    for status, n in session.execute(query.group_by(FollowUp.status)):
        by_status[FollowUpStatus(status).value] = int(n)
    return Feedback(
        period=Period.of(filters),
        ratings=ratings,
        good=good,
        good_rate=round(good / ratings, 4) if ratings else None,
        open_follow_ups=sum(by_status.values()),
        follow_ups_by_status=by_status,
    )
