"""staff_notice: the portal inbox of branch staff and officers

A notice per member of staff, written in the transaction of its cause; `key` (the cause
and the recipient) unique, so one cause never notifies anyone twice; found by recipient
and whether it has been read.
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"


def upgrade() -> None:
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


def downgrade() -> None:
    with op.batch_alter_table("staff_notice", schema=None) as batch_op:
        batch_op.drop_index("ix_staff_notice_staff_read")
    op.drop_table("staff_notice")
