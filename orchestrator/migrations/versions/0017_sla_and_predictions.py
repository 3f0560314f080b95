"""SLA state, predictions and blocked-time credit of filings; the tracker's tables

A filing keeps its SLA state (indexed, for the beat job and dashboards), its predicted
ready and complete times, and the working time it waited for the applicant's 容缺
materials (credited to its deadline). `step_duration` holds recent step durations per
district, `tracker_cursor` how far the tracker has read the events, `prediction` every
prediction made, for its error to be reported. Filings already ready are settled as met or
missed, cancelled ones have no state, so that the beat job starts from the open ones only.
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"


def upgrade() -> None:
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


def downgrade() -> None:
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
