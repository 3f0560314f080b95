"""Celery tasks that carry a filing's steps to their agencies: the workers' entry points.

The domain sends them by name (`orchestrator.filings.dispatch`), so nothing below this
package imports it."""

from __future__ import annotations

import logging
import random
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import cache
from typing import Any

from pydantic import BaseModel
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
from orchestrator.filings.agency_requests import BUILDERS, stored_filing
from orchestrator.filings.dispatch import RUN_CLAIMED, RUN_STEP, hand_out
from orchestrator.filings.field_use import filing_fields
from orchestrator.filings.transitions import StepWork
from orchestrator.tasks.base import OneStopTask
from orchestrator.workflow import HANDOVER_STEP, by_name

log = logging.getLogger(__name__)


class StepTask(OneStopTask):
    """A task that carries steps: claim, ask the agency, record the outcome, carry on.

    Each transaction it opens decides what to send next; the sends go once it commits.
    A step's message is acknowledged only once the task is done, and given back if the
    worker dies under it: the claim in the database makes a second run safe.
    """

    acks_late = True
    reject_on_worker_lost = True
    ignore_result = True

    def claim(self, step_id: int, hostname: str | None, redelivered: bool) -> StepWork | None:
        """Claim the step for an attempt (unless it is a delivery that waits at the branch)."""
        clock = self.rt.clock
        with self.transaction() as tx:
            work = transitions.claim(
                tx.conn,
                step_id,
                now=clock.now(),
                lease_until=clock.after(self.rt.settings.step_lease_seconds),
                worker=hostname,
                redelivered=redelivered,
            )
            return self._unless_at_branch(tx.conn, work)

    def carry_on(self, work: StepWork | None, hostname: str | None) -> None:
        """Carry the step, and each step its success hands this thread, to the end of the line."""
        while work is not None:
            work = self._carry(work, hostname)

    def _unless_at_branch(self, conn: Connection, work: StepWork | None) -> StepWork | None:
        """The work, unless it is a delivery the client collects at the branch: that waits there."""
        if work is not None and delivers_at_branch(work):
            transitions.await_handover(conn, work.step_id, now=self.rt.clock.now())
            return None
        return work

    def _carry(self, work: StepWork, hostname: str | None) -> StepWork | None:
        """One attempt at the step's agency, recorded; the next step this task carries on with."""
        try:
            outcome = _ask_agency(work)
        except AgencyError as error:
            self._record_error(work, error)
            return None
        except Exception as error:  # a bug or an unforeseen reply: retry, visibly, never lose it
            log.exception("step %s of filing %s crashed", work.name, work.filing_id)
            self._record_error(work, TransientError(f"internal error: {error!r}", code="internal"))
            return None
        return self._record_outcome(work, outcome, hostname)

    def _record_outcome(
        self, work: StepWork, outcome: Outcome, hostname: str | None
    ) -> StepWork | None:
        now = self.rt.clock.now()
        if not isinstance(outcome, Done):
            assert isinstance(outcome, Pending)
            self._postpone(
                work, outcome.retry_after, now=now, submitted=True, ticket=outcome.ticket
            )
            return None
        with self.transaction() as tx:
            taken = transitions.succeed_and_take(
                tx.conn,
                work,
                dict(outcome.result),
                now=now,
                lease_until=self.rt.clock.after(self.rt.settings.step_lease_seconds),
                worker=hostname,
            )
            taken = [w for w in taken if self._unless_at_branch(tx.conn, w) is not None]
            # This thread carries the first on; the others go to the workers once committed.
            tx.after_commit(lambda: hand_out(taken[1:]))
        return taken[0] if taken else None

    def _record_error(self, work: StepWork, error: AgencyError) -> None:
        now = self.rt.clock.now()
        if not isinstance(error, RejectedError | BlockedError):  # transient, or unknown: retry
            error_text = f"{error.code or error.kind}: {error.message}"
            self._postpone(work, backoff(work.attempt), now=now, submitted=False, error=error_text)
            return
        with self.transaction() as tx:
            if isinstance(error, RejectedError):
                transitions.reject(
                    tx.conn,
                    work.step_id,
                    now=now,
                    code=error.code,
                    message=error.message,
                    fields=_refused_fields(work, error),
                )
            else:
                transitions.block(
                    tx.conn,
                    work.step_id,
                    now=now,
                    reason=error.message,
                    materials=list(error.materials),
                )

    def _postpone(
        self,
        work: StepWork,
        countdown: float,
        *,
        now: datetime,
        submitted: bool,
        error: str | None = None,
        ticket: str = "",
    ) -> None:
        with self.transaction() as tx:
            postponed = transitions.postpone(
                tx.conn,
                work.step_id,
                now=now,
                next_check_at=_next_check(countdown),
                submitted=submitted,
                error=error,
                ticket=ticket,
            )
            if postponed:
                tx.after_commit(lambda: _schedule_if_soon(work.step_id, countdown))


@app.task(name=RUN_STEP, base=StepTask)
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
    hostname = run_step.request.hostname
    run_step.carry_on(run_step.claim(step_id, hostname, _redelivered(run_step.request)), hostname)


@app.task(name=RUN_CLAIMED, base=StepTask)
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
        works = [run_claimed.claim(item["step_id"], hostname, True) for item in claimed]
    else:
        works = [StepWork(**item) for item in claimed]
    first, *others = works
    siblings = [_branches().submit(run_claimed.carry_on, work, hostname) for work in others]
    run_claimed.carry_on(first, hostname)
    for sibling in siblings:
        sibling.result()


def _redelivered(request: Any) -> bool:
    """Whether the broker handed this message out before (its worker died holding it)."""
    return bool((request.delivery_info or {}).get("redelivered"))


@cache
def _branches() -> ThreadPoolExecutor:
    """The threads sibling branches run on, as many as the worker's own."""
    return ThreadPoolExecutor(
        max_workers=runtime.current().settings.worker_concurrency, thread_name_prefix="branch"
    )


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


def build_request(work: StepWork) -> BaseModel:
    """The request of the step to carry out, for its filing as stored, from the facts its
    earlier steps gave (each result under the facts its step's declaration says it gives)."""
    specs = by_name()
    facts = {fact: result for step, result in work.results.items() for fact in specs[step].gives}
    return BUILDERS[work.name](stored_filing(work.payload), facts)


def _refused_fields(work: StepWork, error: RejectedError) -> list[str]:
    """The fields of the filing a refusal concerns, from the paths into the request it names."""
    if not error.fields:
        return []
    return filing_fields(work.name, stored_filing(work.payload), list(error.fields))


def delivers_at_branch(work: StepWork) -> bool:
    """Whether this is the delivery step of a filing whose client collects at the branch."""
    return (
        work.name == HANDOVER_STEP
        and stored_filing(work.payload).delivery.method == "branch_pickup"
    )


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
