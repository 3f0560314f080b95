"""filing.graph: the district's graph of steps in force when the filing was accepted

Which steps run beside which is a district's policy and changes as reforms roll out; each
filing keeps the graph it was accepted under. Filings accepted before ran the one graph
there was, written here as it stood (the standard graph of the reference data).
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"

# As `orchestrator.workflow.Graph.to_json` writes it; a snapshot, never the live data.
_GRAPH_UNTIL_NOW = [
    ["registration", []],
    ["seal", ["registration"]],
    ["bank_account", ["seal"]],
    ["tax", ["registration"]],
    ["social_insurance", ["registration"]],
    ["medical_insurance", ["registration"]],
    ["housing_fund", ["registration"]],
    ["delivery", ["bank_account", "tax", "social_insurance", "medical_insurance", "housing_fund"]],
]


def upgrade() -> None:
    with op.batch_alter_table("filing", schema=None) as batch_op:
        batch_op.add_column(sa.Column("graph", sa.JSON(), nullable=True))
    filing = sa.table("filing", sa.column("graph", sa.JSON()))
    op.execute(filing.update().values(graph=_GRAPH_UNTIL_NOW))
    with op.batch_alter_table("filing", schema=None) as batch_op:
        batch_op.alter_column("graph", existing_type=sa.JSON(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("filing", schema=None) as batch_op:
        batch_op.drop_column("graph")
