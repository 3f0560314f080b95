"""tracking_session, rating, follow_up: the entrepreneur's tracking page and 好差评

A tracking session names the one filing its holder opened with the tracking code and phone
digits (only a digest of its id is stored); `created_at` is indexed so that opening a filing
can sweep the sessions that ended. A rating's `round` is unique per filing, so that two
ratings sent at once cannot both count; a follow-up is listed by branch and state.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"


def upgrade() -> None:
    op.create_table(
        "tracking_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("filing_id", sa.Integer(), nullable=True),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["filing_id"], ["filing.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )
    with op.batch_alter_table("tracking_session", schema=None) as batch_op:
        batch_op.create_index("ix_tracking_session_filing_id", ["filing_id"], unique=False)
        batch_op.create_index("ix_tracking_session_created_at", ["created_at"], unique=False)
    op.create_table(
        "rating",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("filing_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["filing_id"], ["filing.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("filing_id", "round", name="uq_rating_filing_round"),
    )
    op.create_table(
        "follow_up",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("filing_id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("rating_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_by", sa.String(length=60), nullable=True),
        sa.Column("finding", sa.Text(), nullable=True),
        sa.Column("put_right_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("put_right_by", sa.String(length=60), nullable=True),
        sa.Column("remedy", sa.Text(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_by", sa.String(length=60), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("rerate_invited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rerating_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["branch_id"], ["branch.id"]),
        sa.ForeignKeyConstraint(["filing_id"], ["filing.id"]),
        sa.ForeignKeyConstraint(["rating_id"], ["rating.id"]),
        sa.ForeignKeyConstraint(["rerating_id"], ["rating.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rating_id"),
        sa.UniqueConstraint("rerating_id"),
    )
    with op.batch_alter_table("follow_up", schema=None) as batch_op:
        batch_op.create_index("ix_follow_up_branch_status", ["branch_id", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("follow_up", schema=None) as batch_op:
        batch_op.drop_index("ix_follow_up_branch_status")
    op.drop_table("follow_up")
    op.drop_table("rating")
    with op.batch_alter_table("tracking_session", schema=None) as batch_op:
        batch_op.drop_index("ix_tracking_session_created_at")
        batch_op.drop_index("ix_tracking_session_filing_id")
    op.drop_table("tracking_session")
