"""holiday_schedule table and each filing's committed time (sla_working_days)

Holiday schedules published after a release are imported into the database, which all
processes share. A filing keeps the committed time it was accepted under, so its deadline
can be recomputed when the holiday schedule of a year it reaches into is published.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "holiday_schedule",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("schedule", sa.JSON(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_by", sa.String(length=60), nullable=False),
        sa.PrimaryKeyConstraint("year"),
    )
    with op.batch_alter_table("filing", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sla_working_days", sa.Double(), nullable=True))
    _backfill_sla()
    with op.batch_alter_table("filing", schema=None) as batch_op:
        batch_op.alter_column("sla_working_days", existing_type=sa.Double(), nullable=False)


def _backfill_sla() -> None:
    """Filings accepted before this revision get their district's committed time of today.

    The reference data is the only record of the policy they were accepted under.
    """
    from orchestrator.reference import load_reference

    filing = sa.table("filing", sa.column("district_code"), sa.column("sla_working_days"))
    for code, district in load_reference().districts.items():
        op.execute(
            filing.update()
            .where(filing.c.district_code == code, filing.c.sla_working_days.is_(None))
            .values(sla_working_days=district.policy.sla_working_days)
        )


def downgrade() -> None:
    with op.batch_alter_table("filing", schema=None) as batch_op:
        batch_op.drop_column("sla_working_days")
    op.drop_table("holiday_schedule")
