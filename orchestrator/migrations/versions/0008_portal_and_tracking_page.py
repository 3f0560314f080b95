"""The staff portal and the entrepreneur's tracking page

Staff sessions, drafts and uploads, the graph stamped on each filing, the SMS outbox,
tracking codes and 好差评, pending supplements.

Written as six migrations while these parts were built, and squashed into one before any of
them shipped: each part below is a function that builds it and one that takes it away, in
the order they were written; the docstring of each says what it adds and why.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


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


def _staff_sessions() -> None:
    """staff_session: the staff portal's server-side sessions (only a digest of each id)

    Idle and absolute timeouts are checked against `created_at` and `last_seen_at`; the index
    on `last_seen_at` lets sign-in sweep the sessions that ended.
    """
    op.create_table(
        "staff_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )
    with op.batch_alter_table("staff_session", schema=None) as batch_op:
        batch_op.create_index("ix_staff_session_staff_id", ["staff_id"], unique=False)
        batch_op.create_index("ix_staff_session_last_seen_at", ["last_seen_at"], unique=False)


def _drop_staff_sessions() -> None:
    with op.batch_alter_table("staff_session", schema=None) as batch_op:
        batch_op.drop_index("ix_staff_session_last_seen_at")
        batch_op.drop_index("ix_staff_session_staff_id")
    op.drop_table("staff_session")


def _drafts_and_uploads() -> None:
    """filing_draft and upload: the portal's one form kept as typed, and the materials
    uploaded with it (bytes in the row: the database store).
    """
    op.create_table(
        "filing_draft",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("form", sa.JSON(), nullable=False),
        sa.Column("tracking_code", sa.String(length=20), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["branch_id"], ["branch.id"]),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_filing_draft_branch_updated", "filing_draft", ["branch_id", "updated_at"])
    op.create_table(
        "upload",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("draft_id", sa.Integer(), nullable=False),
        sa.Column("material", sa.String(length=40), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage", sa.String(length=20), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("uploaded_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["draft_id"], ["filing_draft.id"]),
        sa.ForeignKeyConstraint(["uploaded_by"], ["staff.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_upload_draft_material", "upload", ["draft_id", "material"])


def _drop_drafts_and_uploads() -> None:
    op.drop_index("ix_upload_draft_material", "upload")
    op.drop_table("upload")
    op.drop_index("ix_filing_draft_branch_updated", "filing_draft")
    op.drop_table("filing_draft")


def _filing_graph() -> None:
    """filing.graph: the district's graph of steps in force when the filing was accepted

    Which steps run beside which is a district's policy and changes as reforms roll out; each
    filing keeps the graph it was accepted under. Filings accepted before ran the one graph
    there was, written here as it stood (the standard graph of the reference data).
    """
    with op.batch_alter_table("filing", schema=None) as batch_op:
        batch_op.add_column(sa.Column("graph", sa.JSON(), nullable=True))
    filing = sa.table("filing", sa.column("graph", sa.JSON()))
    op.execute(filing.update().values(graph=_GRAPH_UNTIL_NOW))
    with op.batch_alter_table("filing", schema=None) as batch_op:
        batch_op.alter_column("graph", existing_type=sa.JSON(), nullable=False)


def _drop_filing_graph() -> None:
    with op.batch_alter_table("filing", schema=None) as batch_op:
        batch_op.drop_column("graph")


def _sms_outbox() -> None:
    """outbox_message, one_time_code: texts to the applicant, and the tracking page's codes

    Each text is a row written in the transaction of what causes it and sent after the commit
    under its `key` (the SMS gateway's idempotency key); the sweeper finds rows left unsent by
    (`status`, `next_attempt_at`). A one-time code is kept only as a salted hash.
    """
    op.create_table(
        "outbox_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("filing_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("mobile", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "sent",
                "failed",
                "expired",
                name="outboxstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("gateway_ref", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["filing_id"], ["filing.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_message_due", ["status", "next_attempt_at"])
        batch_op.create_index("ix_outbox_message_filing_id", ["filing_id"])
    op.create_table(
        "one_time_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("filing_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("spent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["filing_id"], ["filing.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("one_time_code", schema=None) as batch_op:
        batch_op.create_index("ix_one_time_code_filing", ["filing_id", "created_at"])


def _drop_sms_outbox() -> None:
    with op.batch_alter_table("one_time_code", schema=None) as batch_op:
        batch_op.drop_index("ix_one_time_code_filing")
    op.drop_table("one_time_code")
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_message_filing_id")
        batch_op.drop_index("ix_outbox_message_due")
    op.drop_table("outbox_message")


def _tracking_and_feedback() -> None:
    """tracking_session, rating, follow_up: the entrepreneur's tracking page and 好差评

    A tracking session names the one filing its holder opened with the tracking code and phone
    digits (only a digest of its id is stored); `created_at` is indexed so that opening a filing
    can sweep the sessions that ended. A rating's `round` is unique per filing, so that two
    ratings sent at once cannot both count; a follow-up is listed by branch and state.
    """
    op.create_table(
        "tracking_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("filing_id", sa.Integer(), nullable=True),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["filing_id"], ["filing.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )
    with op.batch_alter_table("tracking_session", schema=None) as batch_op:
        batch_op.create_index("ix_tracking_session_filing_id", ["filing_id"], unique=False)
        batch_op.create_index("ix_tracking_session_created_at", ["created_at"], unique=False)
    op.create_table(
        "rating",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("filing_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["filing_id"], ["filing.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("filing_id", "round", name="uq_rating_filing_round"),
    )
    op.create_table(
        "follow_up",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("filing_id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("rating_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_by", sa.String(length=60), nullable=True),
        sa.Column("finding", sa.Text(), nullable=True),
        sa.Column("put_right_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("put_right_by", sa.String(length=60), nullable=True),
        sa.Column("remedy", sa.Text(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_by", sa.String(length=60), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("rerate_invited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rerating_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["branch_id"], ["branch.id"]),
        sa.ForeignKeyConstraint(["filing_id"], ["filing.id"]),
        sa.ForeignKeyConstraint(["rating_id"], ["rating.id"]),
        sa.ForeignKeyConstraint(["rerating_id"], ["rating.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rating_id"),
        sa.UniqueConstraint("rerating_id"),
    )
    with op.batch_alter_table("follow_up", schema=None) as batch_op:
        batch_op.create_index("ix_follow_up_branch_status", ["branch_id", "status"], unique=False)


def _drop_tracking_and_feedback() -> None:
    with op.batch_alter_table("follow_up", schema=None) as batch_op:
        batch_op.drop_index("ix_follow_up_branch_status")
    op.drop_table("follow_up")
    op.drop_table("rating")
    with op.batch_alter_table("tracking_session", schema=None) as batch_op:
        batch_op.drop_index("ix_tracking_session_created_at")
        batch_op.drop_index("ix_tracking_session_filing_id")
    op.drop_table("tracking_session")


def _pending_supplements() -> None:
    """pending_supplement: 容缺 materials sent from the tracking page, waiting for the branch

    A row keeps what the applicant sent (the upload's bytes in the database store, the fields
    the material carries) until the branch confirms or refuses it; listed by filing and state.
    """
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


def _drop_pending_supplements() -> None:
    with op.batch_alter_table("pending_supplement", schema=None) as batch_op:
        batch_op.drop_index("ix_pending_supplement_filing_status")
    op.drop_table("pending_supplement")


PARTS = (
    (_staff_sessions, _drop_staff_sessions),
    (_drafts_and_uploads, _drop_drafts_and_uploads),
    (_filing_graph, _drop_filing_graph),
    (_sms_outbox, _drop_sms_outbox),
    (_tracking_and_feedback, _drop_tracking_and_feedback),
    (_pending_supplements, _drop_pending_supplements),
)


def upgrade() -> None:
    for build, _ in PARTS:
        build()


def downgrade() -> None:
    for _, take_away in reversed(PARTS):
        take_away()
