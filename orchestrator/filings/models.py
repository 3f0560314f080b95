"""A filing (一件事申请), its steps (one agency's part each), its materials and its events.

The database is the system of record: Celery messages only carry step ids, and every
transition of a filing or a step is an append-only `Event`.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from orchestrator.db import Base, str_enum


class FilingStatus(enum.StrEnum):
    """Where a filing stands; `ready` stops the SLA clock, `complete` means handed over."""

    ACCEPTED = "accepted"  # validated, receipt issued, steps under way
    READY = "ready"  # every agency step done: the company can operate
    COMPLETE = "complete"  # ready, and licence and seals are in the client's hands
    ACTION_REQUIRED = "action_required"  # a step was rejected: branch staff must act
    CANCELLED = "cancelled"


class StepStatus(enum.StrEnum):
    """One step's state; `next_check_at` says when the sweeper acts if nothing else has."""

    WAITING = "waiting"  # predecessors not done
    READY = "ready"  # may run; a task is queued or will be dispatched
    RUNNING = "running"  # a task is talking to the agency
    SUBMITTED = "submitted"  # the agency has the request and will answer later
    BLOCKED = "blocked"  # waits for a 容缺 material to be supplemented
    AT_BRANCH = "at_branch"  # licence and seals wait at the branch for staff to hand over
    DONE = "done"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


ACTIVE_STEP_STATUSES = (StepStatus.READY, StepStatus.RUNNING, StepStatus.SUBMITTED)


class SlaState(enum.StrEnum):
    """Where a filing stands against its committed deadline (`tracker.sla` decides).

    The first three are open: the tracker's beat job looks at those filings again; met and
    missed are settled once the filing is ready. A cancelled filing has none.
    """

    ON_TRACK = "on_track"  # predicted ready by the deadline
    AT_RISK = "at_risk"  # the predicted ready time passes the deadline
    BREACHED = "breached"  # the deadline has passed and the filing is not ready
    MET = "met"  # ready by the deadline
    MISSED = "missed"  # ready after it


OPEN_SLA_STATES = (SlaState.ON_TRACK, SlaState.AT_RISK, SlaState.BREACHED)


class MaterialStatus(enum.StrEnum):
    """A checklist material: provided at intake, missing (容缺), supplemented later, or
    waived once the branch withdrew the steps that waited for it."""

    PROVIDED = "provided"
    MISSING = "missing"
    SUPPLEMENTED = "supplemented"
    WAIVED = "waived"  # past due, and every step it blocked was withdrawn: needed no more


class Filing(Base):
    """One company-opening application, filed once by a branch (or online)."""

    __tablename__ = "filing"
    __table_args__ = (
        # Also the index of a branch's filings (branch_id leads): a second index on
        # branch_id alone let the planner, on a young table, look a key up by scanning
        # every filing of the branch.
        UniqueConstraint("branch_id", "idempotency_key", name="uq_filing_idempotency"),
        Index("ix_filing_district_accepted", "district_code", "accepted_at"),
        # The tracker's beat job reads the open states, dashboards count each state.
        Index("ix_filing_sla_state", "sla_state", "district_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tracking_code: Mapped[str] = mapped_column(String(20), unique=True)
    district_code: Mapped[str] = mapped_column(ForeignKey("district.code"))
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    created_by: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    company_name: Mapped[str] = mapped_column(String(100))
    status: Mapped[FilingStatus] = mapped_column(str_enum(FilingStatus), index=True)
    payload: Mapped[dict[str, Any]]  # the AcceptedFiling (input and filing date) as JSON
    # The district's graph of steps in force at acceptance (`workflow.Graph.to_json`): a
    # later change of policy never rewires a filing under way.
    graph: Mapped[list[Any]] = mapped_column(JSON)
    credit_code: Mapped[str | None] = mapped_column(String(18))
    accepted_at: Mapped[datetime]
    # The district's committed time when the filing was accepted: later policy changes
    # never move a filing's deadline, a newly published holiday schedule may.
    sla_working_days: Mapped[float]
    deadline_at: Mapped[datetime]  # committed deadline: accepted + sla, in working time
    ready_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    # The SLA as the tracker last saw it (`tracker.sla`); a new filing is on track.
    sla_state: Mapped[SlaState | None] = mapped_column(
        str_enum(SlaState), server_default=SlaState.ON_TRACK.value, default=SlaState.ON_TRACK
    )
    # Working time the filing waited for the applicant's 容缺 materials, credited to its
    # deadline (already in `deadline_at`), and up to when blocked time has been counted:
    # steps blocked at once are counted once (`filings.blocked_time`).
    blocked_seconds: Mapped[int] = mapped_column(server_default=text("0"), default=0)
    blocked_counted_until: Mapped[datetime | None]
    predicted_ready_at: Mapped[datetime | None]
    predicted_complete_at: Mapped[datetime | None]

    steps: Mapped[list[Step]] = relationship(
        back_populates="filing", order_by="Step.position", cascade="all, delete-orphan"
    )
    materials: Mapped[list[Material]] = relationship(
        back_populates="filing", order_by="Material.id", cascade="all, delete-orphan"
    )


_HAS_NEXT_CHECK = text("next_check_at IS NOT NULL")


class Step(Base):
    """One agency's part of a filing; `pending_needs` counts predecessors not yet done."""

    __tablename__ = "step"
    __table_args__ = (
        UniqueConstraint("filing_id", "name", name="uq_step_filing_name"),
        # The sweeper's index: only active steps have a next check, so only they are in it.
        # Led by status, it tempted the planner into reading every entry of a status, dead
        # ones included, to start a filing's ready steps.
        Index(
            "ix_step_due",
            "next_check_at",
            postgresql_where=_HAS_NEXT_CHECK,
            sqlite_where=_HAS_NEXT_CHECK,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    filing_id: Mapped[int] = mapped_column(ForeignKey("filing.id"))
    name: Mapped[str] = mapped_column(String(30))
    position: Mapped[int]
    status: Mapped[StepStatus] = mapped_column(str_enum(StepStatus))
    pending_needs: Mapped[int]
    attempts: Mapped[int] = mapped_column(default=0)
    next_check_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    result: Mapped[dict[str, Any] | None]
    reason: Mapped[str | None] = mapped_column(Text)  # rejection or block, for branch staff
    last_error: Mapped[str | None] = mapped_column(Text)

    filing: Mapped[Filing] = relationship(back_populates="steps")


class Material(Base):
    """A document of the filing's checklist, provided or accepted as 容缺."""

    __tablename__ = "material"
    __table_args__ = (
        UniqueConstraint("filing_id", "code", name="uq_material_filing_code"),
        Index("ix_material_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    filing_id: Mapped[int] = mapped_column(ForeignKey("filing.id"))
    code: Mapped[str] = mapped_column(String(40))
    status: Mapped[MaterialStatus] = mapped_column(str_enum(MaterialStatus))
    blocks: Mapped[list[str]]  # step names that wait for it while it is missing
    due_at: Mapped[datetime | None]
    supplied_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]  # the applicant was texted: due within a working day
    overdue_at: Mapped[datetime | None]  # its due date passed: the branch was told

    filing: Mapped[Filing] = relationship(back_populates="materials")


class Event(Base):
    """Append-only history: who did what to which filing (and step), and when."""

    __tablename__ = "event"
    __table_args__ = (Index("ix_event_filing", "filing_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    filing_id: Mapped[int] = mapped_column(ForeignKey("filing.id"))
    step: Mapped[str | None] = mapped_column(String(30))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(60))  # "staff:12", "worker", "sweeper", "agency:tax"
    kind: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]]


class Document(Base):
    """A document an agency issued for a filing (the e-business licence), kept whole.

    Apart from the step's result, which stays small because every step claim reads it.
    """

    __tablename__ = "document"
    __table_args__ = (
        Index("ix_document_filing_kind", "filing_id", "kind"),
        Index("ix_document_kind_reference", "kind", "reference"),
        Index("ix_document_verification_token", "verification_token_sha256"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    filing_id: Mapped[int] = mapped_column(ForeignKey("filing.id"))
    step: Mapped[str] = mapped_column(String(30))
    kind: Mapped[str] = mapped_column(String(30))  # "licence"; seal specimens may join
    reference: Mapped[str] = mapped_column(String(60))  # the agency's number, e.g. licence no.
    media_type: Mapped[str] = mapped_column(String(100))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    # SHA-256 of the token the holder presents (`AgencyDocument.verification_token`), looked
    # up by digest so that how long a lookup takes says nothing about the tokens stored.
    verification_token_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]


# Their Core tables, for the transitions' statements: no ORM on the workers' hot path.
FILING_TABLE = cast(Table, Filing.__table__)
STEP_TABLE = cast(Table, Step.__table__)
MATERIAL_TABLE = cast(Table, Material.__table__)
EVENT_TABLE = cast(Table, Event.__table__)
