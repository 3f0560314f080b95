"""subsidy_entry and subsidy_period: the subsidy ledger in fen and each district's month

Entries are append-only, one opening and one closing entry at most per filing and item
(unique key); a month row carries the budget use and the approval that closes it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"


def upgrade() -> None:
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


def downgrade() -> None:
    with op.batch_alter_table("subsidy_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_subsidy_entry_period")
    op.drop_table("subsidy_entry")
    op.drop_table("subsidy_period")
