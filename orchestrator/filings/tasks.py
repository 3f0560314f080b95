"""Celery tasks of the filings domain: carry a filing's steps to their agencies."""

from __future__ import annotations

import logging
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import datetime
from functools import cache
from typing import Any

from celery import group
from sqlalchemy import Connection

from integrations.base import (
    AgencyError,
    BlockedError,
    Done,
    Outcome,
    Pending,
    RejectedError,
    TransientError,
)
from orchestrator import runtime
from orchestrator.celery_app import app
from orchestrator.filings import transitions
from orchestrator.filings.agency_requests import build_request, delivers_at_branch
from orchestrator.filings.transitions import StepWork

log = logging.getLogger(__name__)


@app.task(
    name="filings.run_step",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def run_step(step_id: int) -> None:
    """Claim the step, ask (or tell) its agency, record what came of it, and carry on.

    When the step's success makes further steps ready, the transaction that records it
    claims them all: this task goes on with the first (on the critical path) itself and
    sends the others, claimed, to the workers in one message (`run_claimed`). The path
    through the workflow costs no message per step, parallel branches still run in
    parallel. Should a task die before sending them, or with the step it carried on
    with, those steps' leases run out and the sweeper sends them (well inside any promise
    to the client; minutes, not hours).
    """
    rt = runtime.current()
    hostname = run_step.request.hostname
    redelivered = _redelivered(run_step.request)
    with rt.database.connection() as conn:
        work = _unless_at_branch(conn, _claim(conn, step_id, hostname, redelivered))
    _carry_on(work, hostname)


@app.task(
    name="filings.run_claimed",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def run_claimed(claimed: list[dict[str, Any]]) -> None:
    """Carry steps of one filing that a success made ready and claimed, side by side.

    One message for the branches a success opens: one per branch cost a publish, a
    delivery and an acknowledgement each, and nothing of a branch needs another worker
    process to run in parallel with its siblings — they wait on agencies, on threads
    here. Should this worker die, the message comes back redelivered and each step is
    claimed again from the database, as a resumed attempt.

    The message carries the filing's application (resident IDs, mobile numbers): the
    repr of its arguments that Celery shows in the message's headers and in logs names
    the steps only (`hand_out`).
    """
    hostname = run_claimed.request.hostname
    works: list[StepWork | None]
    if _redelivered(run_claimed.request):
        rt = runtime.current()
        with rt.database.connection() as conn:
            works = [
                _unless_at_branch(conn, _claim(conn, item["step_id"], hostname, True))
                for item in claimed
            ]
    else:
        works = [StepWork(**item) for item in claimed]
    first, *others = works
    siblings = [_branches().submit(_carry_on, work, hostname) for work in others]
    _carry_on(first, hostname)
    for sibling in siblings:
        sibling.result()


def _redelivered(request: Any) -> bool:
    """Whether the broker handed this message out before (its worker died holding it)."""
    return bool((request.delivery_info or {}).get("redelivered"))


def _claim(
    conn: Connection, step_id: int, hostname: str | None, redelivered: bool
) -> StepWork | None:
    rt = runtime.current()
    return transitions.claim(
        conn,
        step_id,
        now=rt.clock.now(),
        lease_until=rt.clock.after(rt.settings.step_lease_seconds),
        worker=hostname,
        redelivered=redelivered,
    )


@cache
def _branches() -> ThreadPoolExecutor:
    """The threads sibling branches run on, as many as the worker's own."""
    return ThreadPoolExecutor(
        max_workers=runtime.current().settings.worker_concurrency, thread_name_prefix="branch"
    )


def _carry_on(work: StepWork | None, hostname: str | None) -> None:
    """Carry the step, and each step its success hands this thread, to the end of the line."""
    while work is not None:
        work = _carry(work, hostname)


def _unless_at_branch(conn: Connection, work: StepWork | None) -> StepWork | None:
    """The work, unless it is a delivery the client collects at the branch: that waits there."""
    if work is not None and delivers_at_branch(work):
        transitions.await_handover(conn, work.step_id, now=runtime.current().clock.now())
        return None
    return work


def _carry(work: StepWork, hostname: str | None) -> StepWork | None:
    """One attempt at the step's agency, recorded; the next step this task carries on with."""
    try:
        outcome = _ask_agency(work)
    except AgencyError as error:
        _record_error(work, error)
        return None
    except Exception as error:  # a bug or an unforeseen reply: retry, visibly, never lose it
        log.exception("step %s of filing %s crashed", work.name, work.filing_id)
        _record_error(work, TransientError(f"internal error: {error!r}", code="internal"))
        return None
    return _record_outcome(work, outcome, hostname)


def _ask_agency(work: StepWork) -> Outcome:
    adapter = runtime.current().adapters[work.agency]
    if work.ask_first:
        # The agency may have acted on an earlier attempt and lost the reply: ask, then act.
        try:
            known = adapter.status(work.idempotency_key)
        except (BlockedError, RejectedError):
            known = None  # it refused before and did nothing: send the (supplemented) request
        if known is not None:
            return known
    request = build_request(work)
    return adapter.submit(request, idempotency_key=work.idempotency_key)


# Messages go out only once the transaction that decided them has committed: a step is
# never sent before the database says it may run (and if sending fails, the sweeper finds it).


def _record_outcome(work: StepWork, outcome: Outcome, hostname: str | None) -> StepWork | None:
    rt = runtime.current()
    now = rt.clock.now()
    if not isinstance(outcome, Done):
        assert isinstance(outcome, Pending)
        _postpone(work, outcome.retry_after, now=now, submitted=True)
        return None
    with rt.database.connection() as conn:
        taken = transitions.succeed_and_take(
            conn,
            work,
            dict(outcome.result),
            now=now,
            lease_until=rt.clock.after(rt.settings.step_lease_seconds),
            worker=hostname,
        )
        taken = [w for w in taken if _unless_at_branch(conn, w) is not None]
    if not taken:
        return None
    following, *others = taken
    hand_out(others)
    return following


def _record_error(work: StepWork, error: AgencyError) -> None:
    rt = runtime.current()
    now = rt.clock.now()
    if not isinstance(error, RejectedError | BlockedError):  # transient, or unknown: retry
        error_text = f"{error.code or error.kind}: {error.message}"
        _postpone(work, backoff(work.attempt), now=now, submitted=False, error=error_text)
        return
    with rt.database.connection() as conn:
        if isinstance(error, RejectedError):
            transitions.reject(conn, work.step_id, now=now, code=error.code, message=error.message)
        else:
            transitions.block(
                conn, work.step_id, now=now, reason=error.message, materials=list(error.materials)
            )


def _postpone(
    work: StepWork, countdown: float, *, now: datetime, submitted: bool, error: str | None = None
) -> None:
    with runtime.current().database.connection() as conn:
        postponed = transitions.postpone(
            conn,
            work.step_id,
            now=now,
            next_check_at=_next_check(countdown),
            submitted=submitted,
            error=error,
        )
    if postponed:
        _schedule_if_soon(work.step_id, countdown)


def backoff(attempt: int) -> float:
    """Exponential backoff with jitter, capped (longer waits are parked for the sweeper)."""
    settings = runtime.current().settings
    ceiling = min(
        settings.retry_max_countdown_seconds,
        settings.retry_base_seconds * 2.0 ** min(attempt - 1, 30),
    )
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def _next_check(countdown: float) -> datetime:
    """When the sweeper should act if the scheduled message never arrives."""
    rt = runtime.current()
    if countdown > rt.settings.retry_max_countdown_seconds:
        return rt.clock.after(countdown)  # parked: the sweeper is the one who wakes it
    return rt.clock.after(countdown + rt.settings.step_lease_seconds)


def _schedule_if_soon(step_id: int, countdown: float) -> None:
    # Short waits ride on a delayed message; long ones stay in the database only, because a
    # broker kills consumers that sit on a message too long (RabbitMQ's consumer_timeout).
    if countdown <= runtime.current().settings.retry_max_countdown_seconds:
        run_step.apply_async((step_id,), countdown=countdown)


def dispatch(step_ids: list[int]) -> None:
    """Send the steps to the workers as one canvas group (call after the commit)."""
    if not step_ids:
        return
    if len(step_ids) == 1:
        run_step.delay(step_ids[0])
    else:
        group(run_step.si(step_id) for step_id in step_ids).apply_async()


def hand_out(works: list[StepWork]) -> None:
    """Send steps claimed already to the workers, in one message (call after the commit)."""
    if works:
        run_claimed.apply_async(
            ([asdict(work) for work in works],), argsrepr=claimed_repr(works), kwargsrepr="{}"
        )


def claimed_repr(works: list[StepWork]) -> str:
    """What broker tools and logs show of a `run_claimed` message: its filing and steps."""
    steps = ", ".join(f"{work.name} (step {work.step_id})" for work in works)
    return f"(filing {works[0].tracking_code}: {steps})"
