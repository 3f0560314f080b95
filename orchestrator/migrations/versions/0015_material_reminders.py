"""material: when the applicant was reminded of a 容缺 material, and when it became overdue

Each is set once, by the tracker's pass over missing materials, so that neither the
reminder nor the branch's overdue flag is raised twice; the index finds the missing
materials by due date without reading the supplied ones.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"


def upgrade() -> None:
    with op.batch_alter_table("material", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("overdue_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_material_status_due", ["status", "due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("material", schema=None) as batch_op:
        batch_op.drop_index("ix_material_status_due")
        batch_op.drop_column("overdue_at")
        batch_op.drop_column("reminded_at")
