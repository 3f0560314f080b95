"""The transactional outbox: a text is a row written in the transaction of what causes it,
sent by a task once that transaction has committed, and marked sent after.

The row's `key` is the gateway's idempotency key, so the text goes out once however often
it is sent: a redelivered task, the sweeper resending a row whose task never came (the
broker was down, the worker was killed), or a crash between the gateway's answer and the
mark. Rows are written with Core statements on the caller's connection, as the workers'
transitions are; the ids written are queued on that connection for whoever owns the
transaction to send after its commit (`take_queued`, `send_after_commit`).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, case, insert, select, update
from sqlalchemy.orm import Session

from orchestrator.celery_app import app
from orchestrator.db import after_commit
from orchestrator.notifications.models import OUTBOX_TABLE as _OUTBOX
from orchestrator.notifications.models import OutboxStatus
from orchestrator.notifications.texts import ONE_TIME_CODE, Text

SEND_TEXTS = "notifications.send_texts"
# Texts per message to the workers: the texts of one cause go together (one publish), a
# sweeper's backlog in batches that workers share.
BATCH = 20
_QUEUED = "onestop.outbox.queued"  # on `Connection.info`: ids written, not yet sent
# What stays of a one-time code's text once the gateway has it: the code is not kept.
REDACTED = "（验证码已发送，不留存 / one-time code sent, not kept）"


def record(
    conn: Connection,
    *,
    text: Text,
    mobile: str,
    filing_id: int | None,
    now: datetime,
    send_by: datetime,
    expires_at: datetime | None = None,
) -> int:
    """Write a text to send; returns its id, queued on `conn` for the send after commit.

    `send_by` is when the sweeper sends it if no task has by then; a text not sent by
    `expires_at` is not sent at all.
    """
    message_id: int = conn.execute(
        insert(_OUTBOX)
        .values(
            key=f"sms-{secrets.token_hex(16)}",
            filing_id=filing_id,
            kind=text.kind,
            mobile=mobile,
            body=text.zh,
            status=OutboxStatus.PENDING,
            created_at=now,
            next_attempt_at=send_by,
            expires_at=expires_at,
            attempts=0,
        )
        .returning(_OUTBOX.c.id)
    ).scalar_one()
    conn.info.setdefault(_QUEUED, []).append(message_id)
    return message_id


def take_queued(conn: Connection) -> list[int]:
    """The ids `record` queued on `conn`, forgotten there: send them once it has committed."""
    queued: list[int] = conn.info.pop(_QUEUED, [])
    return queued


def send_after_commit(session: Session) -> None:
    """Send the texts recorded on `session`'s connection once its transaction commits."""
    queued = take_queued(session.connection())
    if queued:
        after_commit(session, lambda: dispatch(queued))


def dispatch(message_ids: list[int]) -> None:
    """Send the texts to the workers by task name (the domain never imports the tasks)."""
    for start in range(0, len(message_ids), BATCH):
        app.send_task(SEND_TEXTS, (message_ids[start : start + BATCH],))


def pending(conn: Connection, message_id: int) -> Row[Any] | None:
    """The text, if it is still to be sent."""
    return conn.execute(
        select(_OUTBOX).where(_OUTBOX.c.id == message_id, _OUTBOX.c.status == OutboxStatus.PENDING)
    ).one_or_none()


def mark_sent(conn: Connection, message_id: int, *, now: datetime, gateway_ref: str) -> bool:
    """The gateway has the text; a one-time code's body is blanked. False if marked already."""
    changed = conn.execute(
        update(_OUTBOX)
        .where(_OUTBOX.c.id == message_id, _OUTBOX.c.status == OutboxStatus.PENDING)
        .values(
            status=OutboxStatus.SENT,
            sent_at=now,
            gateway_ref=gateway_ref or None,
            next_attempt_at=None,
            last_error=None,
            body=case((_OUTBOX.c.kind == ONE_TIME_CODE, REDACTED), else_=_OUTBOX.c.body),
        )
    )
    return changed.rowcount == 1


def give_up(conn: Connection, message_id: int, *, status: OutboxStatus, error: str) -> bool:
    """The text will never go (`failed` or `expired`), and why."""
    changed = conn.execute(
        update(_OUTBOX)
        .where(_OUTBOX.c.id == message_id, _OUTBOX.c.status == OutboxStatus.PENDING)
        .values(status=status, next_attempt_at=None, last_error=error[:500])
    )
    return changed.rowcount == 1


def postpone(conn: Connection, message_id: int, *, next_attempt_at: datetime, error: str) -> None:
    """The gateway could not take it now: count the attempt, try again at `next_attempt_at`."""
    conn.execute(
        update(_OUTBOX)
        .where(_OUTBOX.c.id == message_id, _OUTBOX.c.status == OutboxStatus.PENDING)
        .values(
            attempts=_OUTBOX.c.attempts + 1,
            next_attempt_at=next_attempt_at,
            last_error=error[:500],
        )
    )


def overdue(conn: Connection, *, now: datetime, lease_until: datetime, limit: int) -> list[int]:
    """The sweeper's: up to `limit` texts still unsent past their time, leased until
    `lease_until`; their ids, to send again. Rows another transaction holds are skipped."""
    ids = list(
        conn.scalars(
            select(_OUTBOX.c.id)
            .where(_OUTBOX.c.status == OutboxStatus.PENDING, _OUTBOX.c.next_attempt_at <= now)
            .order_by(_OUTBOX.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if ids:
        conn.execute(
            update(_OUTBOX).where(_OUTBOX.c.id.in_(ids)).values(next_attempt_at=lease_until)
        )
    return ids
