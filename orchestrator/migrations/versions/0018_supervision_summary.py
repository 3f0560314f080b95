"""supervision_day, supervision_hours, supervision_ratings: the officers' figures, by day

Daily summary rows per branch that the supervision figures sum (folded from the filings by
`supervision.fold`), and the indexes a fold reads one day by: filings by `ready_at`, done
steps by `finished_at`, ratings by `created_at`; the open filings and the missing (容缺)
materials, joined for the outstanding figure.
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"


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


def upgrade() -> None:
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


def downgrade() -> None:
    op.drop_index("ix_material_missing", table_name="material")
    op.drop_index("ix_filing_open", table_name="filing")
    op.drop_index("ix_rating_created_at", table_name="rating")
    op.drop_index("ix_step_done_finished_at", table_name="step")
    op.drop_index("ix_filing_ready_at", table_name="filing")
    for name in ("supervision_ratings", "supervision_hours", "supervision_day"):
        op.drop_table(name)
