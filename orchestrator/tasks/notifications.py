"""The task that sends a text of the outbox to the SMS gateway, and marks it sent.

Exactly once at the gateway: the text goes under its row's key, so a second run (a
redelivered message, the sweeper's resend, a crash after the gateway answered and before
the mark) finds the gateway's first answer instead of sending again. No transaction is
held while the gateway is asked.
"""

from __future__ import annotations

import logging

from pydantic import ValidationError

from integrations.base import AgencyError, RejectedError, TransientError
from integrations.sms import TextMessage
from orchestrator.celery_app import app
from orchestrator.notifications import outbox
from orchestrator.notifications.models import OutboxStatus
from orchestrator.privacy import mask_mobile, mask_text
from orchestrator.tasks.base import OneStopTask
from orchestrator.tasks.filings import backoff

log = logging.getLogger(__name__)


@app.task(
    name=outbox.SEND_TEXTS,
    base=OneStopTask,
    acks_late=True,  # given back if the worker dies: the key makes a second send harmless
    reject_on_worker_lost=True,
    ignore_result=True,
)
def send_texts(message_ids: list[int]) -> None:
    """Send each of the outbox's texts `message_ids` that has not gone yet, in turn."""
    for message_id in message_ids:
        send_text(message_id)


def send_text(message_id: int) -> None:
    """Send the outbox's text `message_id` unless it went already, and record the outcome."""
    task = send_texts
    rt = task.rt
    with task.transaction() as tx:
        row = outbox.pending(tx.conn, message_id)
    if row is None:
        return  # sent already, given up, or never committed
    now = rt.clock.now()
    if row.expires_at is not None and row.expires_at <= now:
        with task.transaction() as tx:
            outbox.give_up(tx.conn, message_id, status=OutboxStatus.EXPIRED, error="expired unsent")
        return
    try:
        message = TextMessage(to=row.mobile, text=row.body)
        sent = rt.sms.send(message, idempotency_key=row.key)
    except (ValidationError, RejectedError) as error:
        reason = _problems(error) if isinstance(error, ValidationError) else error.message
        log.warning("text %s to %s refused: %s", row.id, mask_mobile(row.mobile), mask_text(reason))
        with task.transaction() as tx:
            outbox.give_up(tx.conn, message_id, status=OutboxStatus.FAILED, error=mask_text(reason))
        return
    except Exception as error:  # transient, or unforeseen: try again, visibly, never lose it
        if not isinstance(error, AgencyError):
            log.exception("text %s to %s crashed", row.id, mask_mobile(row.mobile))
            error = TransientError(f"internal error: {error!r}", code="internal")
        _retry_later(message_id, row.attempts + 1, mask_text(f"{error.code}: {error.message}"))
        return
    with task.transaction() as tx:
        outbox.mark_sent(tx.conn, message_id, now=rt.clock.now(), gateway_ref=sent.message_id)


def _problems(error: ValidationError) -> str:
    # Without the values: pydantic's own text quotes them, and this one is a mobile number.
    return "not sendable: " + "; ".join(
        f"{'.'.join(map(str, problem['loc']))}: {problem['msg']}" for problem in error.errors()
    )


def _retry_later(message_id: int, attempt: int, error: str) -> None:
    """Count the attempt; a short wait rides on a delayed message, the sweeper backs it."""
    rt = send_texts.rt
    countdown = backoff(attempt)
    lease = countdown + rt.settings.step_lease_seconds
    with send_texts.transaction() as tx:
        outbox.postpone(tx.conn, message_id, next_attempt_at=rt.clock.after(lease), error=error)
        if countdown <= rt.settings.retry_max_countdown_seconds:
            tx.after_commit(lambda: send_texts.apply_async(([message_id],), countdown=countdown))
