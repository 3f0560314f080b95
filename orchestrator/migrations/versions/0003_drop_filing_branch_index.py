"""drop ix_filing_branch_id: uq_filing_idempotency (branch_id, idempotency_key) serves it

With both, a plan made while the table was young (a prepared statement keeps it) looked an
Idempotency-Key up through ix_filing_branch_id and filtered every filing of the branch:
one filing's acceptance read all the branch's earlier ones.
"""

from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    with op.batch_alter_table("filing", schema=None) as batch_op:
        batch_op.drop_index("ix_filing_branch_id")


def downgrade() -> None:
    with op.batch_alter_table("filing", schema=None) as batch_op:
        batch_op.create_index("ix_filing_branch_id", ["branch_id"], unique=False)
