"""document.verification_token_sha256: a licence's QR code looks it up by an unguessable token

The public check by licence number could be walked through by counting numbers; the QR
code now carries a token the registration authority draws at random, stored as a digest.
Documents issued before have none and stay reachable by number.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("verification_token_sha256", sa.String(length=64), nullable=True)
        )
        batch_op.create_index(
            "ix_document_verification_token", ["verification_token_sha256"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.drop_index("ix_document_verification_token")
        batch_op.drop_column("verification_token_sha256")
