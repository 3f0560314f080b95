"""The tracker, the subsidies and supervision

The subsidy ledger, 容缺 reminders, staff notices, SLA states and predictions, and the
officers' daily summaries, and the staff's mobiles the escalations are texted to.

Written as five migrations while these parts were built, and squashed into one before any of
them shipped: each part below is a function that builds it and one that takes it away, in
the order they were written; the docstring of each says what it adds and why.
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"


def _day_table(
    name: str,
    *columns: sa.Column[Any],
    key: tuple[str, ...],
    index: tuple[str, ...] = ("district_code", "day"),
    index_name: str = "",
) -> None:
    op.create_table(
        name,
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("district_code", sa.String(length=6), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        *columns,
        sa.ForeignKeyConstraint(["district_code"], ["district.code"]),
        sa.ForeignKeyConstraint(["branch_id"], ["branch.id"]),
        sa.PrimaryKeyConstraint(*key),
    )
    # Covering on PostgreSQL: a figure reads the index alone (see supervision.models).
    included = [c.name for c in columns if c.name not in index] + ["branch_id"]
    op.create_index(
        index_name or f"ix_{name}_district_day",
        name,
        list(index),
        postgresql_include=included,
    )


def _subsidy_ledger() -> None:
    """subsidy_entry and subsidy_period: the subsidy ledger in fen and each district's month

    Entries are append-only, one opening and one closing entry at most per filing and item
    (unique key); a month row carries the budget use and the approval that closes it.
    """
    op.create_table(
        "subsidy_period",
        sa.Column("district_code", sa.String(length=6), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("budget_fen", sa.BigInteger(), nullable=False),
        sa.Column("committed_fen", sa.BigInteger(), nullable=False),
        sa.Column("settled_fen", sa.BigInteger(), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.String(length=60), nullable=True),
        sa.ForeignKeyConstraint(["district_code"], ["district.code"]),
        sa.PrimaryKeyConstraint("district_code", "period"),
    )
    op.create_table(
        "subsidy_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("filing_id", sa.Integer(), nullable=False),
        sa.Column("district_code", sa.String(length=6), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("item", sa.String(length=40), nullable=False),
        sa.Column("vendor", sa.String(length=30), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "reserved",
                "fallback",
                "settled",
                "released",
                name="entrykind",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("closing", sa.Boolean(), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=60), nullable=False),
        sa.ForeignKeyConstraint(["filing_id"], ["filing.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("filing_id", "item", "closing", name="uq_subsidy_entry_item_closing"),
    )
    with op.batch_alter_table("subsidy_entry", schema=None) as batch_op:
        batch_op.create_index(
            "ix_subsidy_entry_period", ["district_code", "period", "kind"], unique=False
        )


def _drop_subsidy_ledger() -> None:
    with op.batch_alter_table("subsidy_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_subsidy_entry_period")
    op.drop_table("subsidy_entry")
    op.drop_table("subsidy_period")


def _material_reminders() -> None:
    """material: when the applicant was reminded of a 容缺 material, and when it became overdue

    Each is set once, by the tracker's pass over missing materials, so that neither the
    reminder nor the branch's overdue flag is raised twice; the index finds the missing
    materials by due date without reading the supplied ones.
    """
    with op.batch_alter_table("material", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("overdue_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_material_status_due", ["status", "due_at"], unique=False)


def _drop_material_reminders() -> None:
    with op.batch_alter_table("material", schema=None) as batch_op:
        batch_op.drop_index("ix_material_status_due")
        batch_op.drop_column("overdue_at")
        batch_op.drop_column("reminded_at")


def _staff_notice() -> None:
    """staff_notice: the portal inbox of branch staff and officers

    A notice per member of staff, written in the transaction of its cause; `key` (the cause
    and the recipient) unique, so one cause never notifies anyone twice; found by recipient
    and whether it has been read.
    """
    op.create_table(
        "staff_notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("filing_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["filing_id"], ["filing.id"]),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("staff_notice", schema=None) as batch_op:
        batch_op.create_index("ix_staff_notice_staff_read", ["staff_id", "read_at"], unique=False)


def _drop_staff_notice() -> None:
    with op.batch_alter_table("staff_notice", schema=None) as batch_op:
        batch_op.drop_index("ix_staff_notice_staff_read")
    op.drop_table("staff_notice")


def _sla_and_predictions() -> None:
    """SLA state, predictions and blocked-time credit of filings; the tracker's tables

    A filing keeps its SLA state (indexed, for the beat job and dashboards), its predicted
    ready and complete times, and the working time it waited for the applicant's 容缺
    materials (credited to its deadline). `step_duration` holds recent step durations per
    district, `tracker_cursor` how far the tracker has read the events, `prediction` every
    prediction made, for its error to be reported. Filings already ready are settled as met or
    missed, cancelled ones have no state, so that the beat job starts from the open ones only.
    """
    with op.batch_alter_table("filing", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sla_state", sa.String(length=20), server_default="on_track", nullable=True)
        )
        batch_op.add_column(
            sa.Column("blocked_seconds", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("blocked_counted_until", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("predicted_ready_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("predicted_complete_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.execute(
        "UPDATE filing SET sla_state = CASE WHEN ready_at <= deadline_at THEN 'met'"
        " ELSE 'missed' END WHERE ready_at IS NOT NULL"
    )
    op.execute("UPDATE filing SET sla_state = NULL WHERE status = 'cancelled'")
    with op.batch_alter_table("filing", schema=None) as batch_op:
        batch_op.create_index("ix_filing_sla_state", ["sla_state", "district_code"], unique=False)
    op.create_table(
        "step_duration",
        sa.Column("district_code", sa.String(length=6), nullable=False),
        sa.Column("step", sa.String(length=30), nullable=False),
        sa.Column("agency", sa.String(length=30), nullable=False),
        sa.Column("samples", sa.JSON(), nullable=False),
        sa.Column("median_seconds", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("district_code", "step"),
    )
    op.create_table(
        "tracker_cursor",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "prediction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("filing_id", sa.Integer(), nullable=False),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ready_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("complete_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sla_state", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(["filing_id"], ["filing.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("prediction", schema=None) as batch_op:
        batch_op.create_index("ix_prediction_filing", ["filing_id", "made_at"], unique=False)


def _drop_sla_and_predictions() -> None:
    with op.batch_alter_table("prediction", schema=None) as batch_op:
        batch_op.drop_index("ix_prediction_filing")
    op.drop_table("prediction")
    op.drop_table("tracker_cursor")
    op.drop_table("step_duration")
    with op.batch_alter_table("filing", schema=None) as batch_op:
        batch_op.drop_index("ix_filing_sla_state")
        batch_op.drop_column("predicted_complete_at")
        batch_op.drop_column("predicted_ready_at")
        batch_op.drop_column("blocked_counted_until")
        batch_op.drop_column("blocked_seconds")
        batch_op.drop_column("sla_state")


def _supervision_summary() -> None:
    """supervision_day, supervision_hours, supervision_ratings: the officers' figures, by day

    Daily summary rows per branch that the supervision figures sum (folded from the filings by
    `supervision.fold`), and the indexes a fold reads one day by: filings by `ready_at`, done
    steps by `finished_at`, ratings by `created_at`; the open filings and the missing (容缺)
    materials, joined for the outstanding figure.
    """
    _day_table(
        "supervision_day",
        sa.Column("subject", sa.String(length=30), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("within_half_day", sa.Integer(), nullable=False),
        sa.Column("within_one_day", sa.Integer(), nullable=False),
        sa.Column("within_three_days", sa.Integer(), nullable=False),
        sa.Column("working_seconds", sa.BigInteger(), nullable=False),
        key=("day", "branch_id", "subject"),
        index=("district_code", "subject", "day"),
        index_name="ix_supervision_day_district_subject_day",
    )
    _day_table(
        "supervision_hours",
        sa.Column("hours", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        key=("day", "branch_id", "hours"),
    )
    _day_table(
        "supervision_ratings",
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("good", sa.Integer(), nullable=False),
        key=("day", "branch_id"),
    )
    done = sa.text("status = 'done'")
    open_ = sa.text("status IN ('accepted', 'action_required')")
    missing = sa.text("status = 'missing'")
    op.create_index("ix_filing_ready_at", "filing", ["ready_at"])
    op.create_index(
        "ix_step_done_finished_at",
        "step",
        ["finished_at"],
        postgresql_where=done,
        sqlite_where=done,
    )
    op.create_index("ix_rating_created_at", "rating", ["created_at"])
    op.create_index(
        "ix_filing_open",
        "filing",
        ["district_code", "branch_id"],
        postgresql_where=open_,
        sqlite_where=open_,
        postgresql_include=["id"],
    )
    op.create_index(
        "ix_material_missing",
        "material",
        ["filing_id"],
        postgresql_where=missing,
        sqlite_where=missing,
    )


def _drop_supervision_summary() -> None:
    op.drop_index("ix_material_missing", table_name="material")
    op.drop_index("ix_filing_open", table_name="filing")
    op.drop_index("ix_rating_created_at", table_name="rating")
    op.drop_index("ix_step_done_finished_at", table_name="step")
    op.drop_index("ix_filing_ready_at", table_name="filing")
    for name in ("supervision_ratings", "supervision_hours", "supervision_day"):
        op.drop_table(name)


def _staff_mobile() -> None:
    """staff.mobile: where a member of staff's escalations are texted, beside the inbox"""
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mobile", sa.String(length=20), nullable=True))


def _drop_staff_mobile() -> None:
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_column("mobile")


PARTS = (
    (_subsidy_ledger, _drop_subsidy_ledger),
    (_material_reminders, _drop_material_reminders),
    (_staff_notice, _drop_staff_notice),
    (_sla_and_predictions, _drop_sla_and_predictions),
    (_supervision_summary, _drop_supervision_summary),
    (_staff_mobile, _drop_staff_mobile),
)


def upgrade() -> None:
    for build, _ in PARTS:
        build()


def downgrade() -> None:
    for _, take_away in reversed(PARTS):
        take_away()
