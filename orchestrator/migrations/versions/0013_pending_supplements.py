"""pending_supplement: 容缺 materials sent from the tracking page, waiting for the branch

A row keeps what the applicant sent (the upload's bytes in the database store, the fields
the material carries) until the branch confirms or refuses it; listed by filing and state.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"


def upgrade() -> None:
    op.create_table(
        "pending_supplement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("filing_id", sa.Integer(), nullable=False),
        sa.Column("material", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage", sa.String(length=20), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=60), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["filing_id"], ["filing.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("pending_supplement", schema=None) as batch_op:
        batch_op.create_index(
            "ix_pending_supplement_filing_status", ["filing_id", "status"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("pending_supplement", schema=None) as batch_op:
        batch_op.drop_index("ix_pending_supplement_filing_status")
    op.drop_table("pending_supplement")
