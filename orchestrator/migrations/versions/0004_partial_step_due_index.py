"""ix_step_due: next_check_at of active steps only, no longer led by status

Led by status, the index let the planner start a filing's ready steps (`status = 'ready'
AND id IN (...)`) by reading every entry with status 'ready', the dead ones that earlier
transitions left included: ~8,000 entries per statement after 2,000 filings. Only active
steps have a next check, so the sweeper's range scan over it reads what it needs.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"

_ACTIVE = sa.text("next_check_at IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("step", schema=None) as batch_op:
        batch_op.drop_index("ix_step_due")
        batch_op.create_index(
            "ix_step_due",
            ["next_check_at"],
            unique=False,
            postgresql_where=_ACTIVE,
            sqlite_where=_ACTIVE,
        )


def downgrade() -> None:
    with op.batch_alter_table("step", schema=None) as batch_op:
        batch_op.drop_index("ix_step_due")
        batch_op.create_index("ix_step_due", ["status", "next_check_at"], unique=False)
