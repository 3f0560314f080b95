"""Daily summary rows the supervision figures are read from, and the indexes that fold them.

Working time cannot be summed in SQL (it needs the working-day calendar), and at a million
filings a figure read from the filings and their ten million steps would take seconds. So
each China day's filings that became ready, steps that finished and ratings given are
folded into a few rows per branch (`supervision.fold`), and a figure sums at most
days × branches × subjects rows, whatever the history.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    ForeignKey,
    Index,
    PrimaryKeyConstraint,
    String,
    literal,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from orchestrator.db import Base
from orchestrator.feedback.models import Rating
from orchestrator.filings.models import FILING_TABLE, MATERIAL_TABLE, STEP_TABLE, FilingStatus

# The subject of a time row that is the whole filing (accepted → ready), not one step.
FILING_SUBJECT = "filing"


class _BranchDay:
    """One branch's row of one China day; a figure reads a district's rows over a period."""

    # First in each table, as the migration creates them (a mixin's columns come last).
    day: Mapped[date] = mapped_column(Date, sort_order=-3)
    district_code: Mapped[str] = mapped_column(ForeignKey("district.code"), sort_order=-2)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), sort_order=-1)


def _by_day(
    table: str, *key: str, index: tuple[str, ...] = ("district_code", "day"), include: list[str]
) -> tuple[PrimaryKeyConstraint, Index]:
    """A `_BranchDay` table's key, and the index a figure reads it by: on PostgreSQL from the
    index alone (the `include`d columns in it), without the table."""
    name = "_".join(["ix", table, *(c.removesuffix("_code") for c in index)])
    return PrimaryKeyConstraint(*key), Index(name, *index, postgresql_include=include)


class SupervisionDay(_BranchDay, Base):
    """One branch's filings ready (subject `filing`), or steps of one name finished, on one
    China day: how many, how many within 0.5, 1 and 3 working days, and their working time.
    """

    __tablename__ = "supervision_day"
    __table_args__ = _by_day(
        __tablename__,
        "day",
        "branch_id",
        "subject",
        index=("district_code", "subject", "day"),
        include=[
            "branch_id",
            "count",
            "within_half_day",
            "within_one_day",
            "within_three_days",
            "working_seconds",
        ],
    )

    subject: Mapped[str] = mapped_column(String(30))
    count: Mapped[int]
    within_half_day: Mapped[int]
    within_one_day: Mapped[int]
    within_three_days: Mapped[int]
    working_seconds: Mapped[int] = mapped_column(BigInteger)


class SupervisionHours(_BranchDay, Base):
    """One branch's filings ready on one China day, by whole working hours from acceptance
    to ready (`hours`; the last bucket holds everything longer): the histogram's rows."""

    __tablename__ = "supervision_hours"
    __table_args__ = _by_day(
        __tablename__, "day", "branch_id", "hours", include=["branch_id", "hours", "count"]
    )

    hours: Mapped[int]
    count: Mapped[int]


class SupervisionRatings(_BranchDay, Base):
    """One branch's ratings (好差评) given on one China day, and how many were good."""

    __tablename__ = "supervision_ratings"
    __table_args__ = _by_day(
        __tablename__, "day", "branch_id", include=["branch_id", "count", "good"]
    )

    count: Mapped[int]
    good: Mapped[int]


# What a fold reads a day by, declared here beside what it feeds: each costs one index
# entry when a filing becomes ready, a step finishes (only done steps are in it) or a
# rating is given, and lets a fold read one day without scanning the history.
_DONE = text("status = 'done'")
_MISSING = text("status = 'missing'")
READY_AT_INDEX = Index("ix_filing_ready_at", FILING_TABLE.c.ready_at)
FINISHED_INDEX = Index(
    "ix_step_done_finished_at",
    STEP_TABLE.c.finished_at,
    postgresql_where=_DONE,
    sqlite_where=_DONE,
)
RATED_AT_INDEX = Index("ix_rating_created_at", Rating.__table__.c.created_at)
# The 容缺 outstanding figure starts from a district's (or branch's) open filings, a few
# per branch and day whatever the history: one entry while a filing is open.
_OPEN = text("status IN ('accepted', 'action_required')")
OPEN_INDEX = Index(
    "ix_filing_open",
    FILING_TABLE.c.district_code,
    FILING_TABLE.c.branch_id,
    postgresql_where=_OPEN,
    sqlite_where=_OPEN,
    postgresql_include=["id"],
)


# And from the missing materials, a few per open filing, which it is joined with.
MISSING_INDEX = Index(
    "ix_material_missing",
    MATERIAL_TABLE.c.filing_id,
    postgresql_where=_MISSING,
    sqlite_where=_MISSING,
)


def open_filing() -> ColumnElement[bool]:
    """The condition of `OPEN_INDEX`, inline so that every plan may use the index."""
    statuses = (FilingStatus.ACCEPTED.value, FilingStatus.ACTION_REQUIRED.value)
    return FILING_TABLE.c.status.in_([literal(s, literal_execute=True) for s in statuses])
