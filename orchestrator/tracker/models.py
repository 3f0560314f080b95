"""The tracker's own tables: recent step durations, its cursors, and its predictions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from orchestrator.db import Base


class StepDuration(Base):
    """The recent working-time durations of one step in one district (its agency there).

    A rolling window of the last samples and their median, updated by the beat job from the
    steps done since its last run (`TrackerCursor`), never from a scan of the history.
    """

    __tablename__ = "step_duration"

    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    step: Mapped[str] = mapped_column(String(30), primary_key=True)
    agency: Mapped[str] = mapped_column(String(30))
    samples: Mapped[list[int]] = mapped_column(JSON)  # working seconds, oldest first
    median_seconds: Mapped[int]
    count: Mapped[int]  # every sample ever taken (the window keeps the last ones)
    updated_at: Mapped[datetime]


class TrackerCursor(Base):
    """How far a pass of the tracker has read an append-only table (the events' id)."""

    __tablename__ = "tracker_cursor"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    position: Mapped[int]


class Prediction(Base):
    """A prediction of a filing's ready and complete times, as it was made: its error is
    reported once the filing is ready (`tracker.predictions.error_report`)."""

    __tablename__ = "prediction"
    __table_args__ = (Index("ix_prediction_filing", "filing_id", "made_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    filing_id: Mapped[int] = mapped_column(ForeignKey("filing.id"))
    made_at: Mapped[datetime]
    ready_at: Mapped[datetime]
    complete_at: Mapped[datetime]
    deadline_at: Mapped[datetime]  # the deadline in force when it was made
    sla_state: Mapped[str] = mapped_column(String(20))
