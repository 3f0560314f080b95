"""Ratings (好差评) and the follow-ups a bad rating opens on the branch manager's queue."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orchestrator.db import Base, str_enum


class Rating(Base):
    """One rating of a completed filing by its applicant: 1 (bad) to 5 (good).

    `round` counts a filing's ratings (1 the first, 2 the re-rating a follow-up invited...):
    unique per filing, so that two ratings sent at once cannot both be the first.
    """

    __tablename__ = "rating"
    __table_args__ = (UniqueConstraint("filing_id", "round", name="uq_rating_filing_round"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    filing_id: Mapped[int] = mapped_column(ForeignKey("filing.id"))
    round: Mapped[int]
    score: Mapped[int]
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class FollowUpStatus(enum.StrEnum):
    """Where a follow-up of a bad rating stands: each state is a branch manager's act."""

    OPEN = "open"  # a rating of 1 or 2 came in
    VERIFIED = "verified"  # the manager checked what happened (核实)
    PUT_RIGHT = "put_right"  # and put it right (整改)
    ANSWERED = "answered"  # and answered the applicant (回复), who is invited to rate again


class FollowUp(Base):
    """The follow-up of a bad rating, on the manager's queue of the filing's branch."""

    __tablename__ = "follow_up"
    __table_args__ = (Index("ix_follow_up_branch_status", "branch_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    filing_id: Mapped[int] = mapped_column(ForeignKey("filing.id"))
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    rating_id: Mapped[int] = mapped_column(ForeignKey("rating.id"), unique=True)
    status: Mapped[FollowUpStatus] = mapped_column(str_enum(FollowUpStatus))
    opened_at: Mapped[datetime]
    # Each act: when, by whom ("staff:<username>"), and what the manager wrote.
    verified_at: Mapped[datetime | None]
    verified_by: Mapped[str | None] = mapped_column(String(60))
    finding: Mapped[str | None] = mapped_column(Text)
    put_right_at: Mapped[datetime | None]
    put_right_by: Mapped[str | None] = mapped_column(String(60))
    remedy: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[str | None] = mapped_column(String(60))
    answer: Mapped[str | None] = mapped_column(Text)
    # When the applicant was invited to rate again (at the answer), and the rating they gave.
    rerate_invited_at: Mapped[datetime | None]
    rerating_id: Mapped[int | None] = mapped_column(ForeignKey("rating.id"), unique=True)
