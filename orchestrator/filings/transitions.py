"""Every transition of a step or a filing, each with its event, inside the caller's transaction.

Callers hold no transaction while they talk to an agency: they `claim` a step (one short
transaction), call the agency, then record the outcome (another). Every function here
locks the step row first and re-checks its status, so a duplicate message, a swept step
or a late reply changes nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from orchestrator.filings.models import (
    ACTIVE_STEP_STATUSES,
    Event,
    Filing,
    FilingStatus,
    Material,
    MaterialStatus,
    Step,
    StepStatus,
)
from orchestrator.workflow import FINAL_STEP, by_name, successors, upstream

WORKER = "worker"


@dataclass(frozen=True)
class StepWork:
    """What a task needs to carry one step to its agency, read in the claiming transaction."""

    step_id: int
    filing_id: int
    name: str
    agency: str
    attempt: int
    ask_first: bool  # the agency may already have it: ask for its status before submitting
    idempotency_key: str
    payload: dict[str, Any]
    results: dict[str, dict[str, Any]]  # results of the filing's finished steps, by step name


def record(
    session: Session,
    filing_id: int,
    kind: str,
    *,
    at: datetime,
    actor: str = WORKER,
    step: str | None = None,
    **detail: Any,
) -> None:
    """Append an event to the filing's history."""
    session.add(Event(filing_id=filing_id, step=step, at=at, actor=actor, kind=kind, detail=detail))


def idempotency_key(filing: Filing, step_name: str) -> str:
    """The agency-facing key of one step of one filing; stable across retries and crashes."""
    return f"{filing.tracking_code}-{step_name}"


def _locked_step(session: Session, step_id: int) -> Step | None:
    # The step row locked, its filing read in the same round trip (not locked: parallel
    # steps of one filing must not queue behind each other).
    return session.get(
        Step,
        step_id,
        with_for_update={"of": Step},
        populate_existing=True,
        options=[joinedload(Step.filing, innerjoin=True)],
    )


def claim(
    session: Session,
    step_id: int,
    *,
    now: datetime,
    lease_until: datetime,
    worker: str | None = None,
) -> StepWork | None:
    """Take an active step for one attempt; None if there is nothing to do (or it is blocked).

    `worker` names the worker node that takes it, recorded with the attempt: when a worker
    dies mid-step, the history shows whose attempt was lost and who resumed it.
    """
    step = _locked_step(session, step_id)
    if step is None or step.status not in ACTIVE_STEP_STATUSES:
        return None
    filing = step.filing
    # Only the missing materials and the results this step's request is built from: loading
    # every material and step of the filing as objects was a fifth of a worker's CPU.
    missing = [
        code
        for code, blocks in session.execute(
            select(Material.code, Material.blocks).where(
                Material.filing_id == filing.id, Material.status == MaterialStatus.MISSING
            )
        )
        if step.name in blocks
    ]
    if missing:
        _block(step, now=now, reason="material_missing", materials=missing)
        return None
    ask_first = step.status == StepStatus.SUBMITTED or step.attempts > 0
    step.attempts += 1
    step.next_check_at = lease_until
    if step.status != StepStatus.SUBMITTED:
        kind = "started" if step.status == StepStatus.READY else "resumed"
        step.status = StepStatus.RUNNING
        step.started_at = step.started_at or now
        by = {"worker": worker} if worker else {}
        record(session, filing.id, kind, at=now, step=step.name, attempt=step.attempts, **by)
    return StepWork(
        step_id=step.id,
        filing_id=filing.id,
        name=step.name,
        agency=by_name()[step.name].agency,
        attempt=step.attempts,
        ask_first=ask_first,
        idempotency_key=idempotency_key(filing, step.name),
        payload=filing.payload,
        results=_results(session, filing.id, upstream(step.name)),
    )


def _results(session: Session, filing_id: int, names: tuple[str, ...]) -> dict[str, Any]:
    if not names:
        return {}
    rows = session.execute(
        select(Step.name, Step.result).where(
            Step.filing_id == filing_id, Step.name.in_(names), Step.status == StepStatus.DONE
        )
    )
    return {name: result for name, result in rows if result}


def succeed(
    session: Session,
    step_id: int,
    result: dict[str, Any],
    *,
    now: datetime,
    lease_until: datetime,
    actor: str = WORKER,
) -> list[int]:
    """Mark the step done and join its successors; returns the ids of steps now ready."""
    step = _locked_step(session, step_id)
    if step is None or step.status not in (
        StepStatus.RUNNING,
        StepStatus.SUBMITTED,
        StepStatus.AT_BRANCH,
    ):
        return []  # a duplicate message or a late reply: the first outcome stands
    filing = step.filing
    step.status = StepStatus.DONE
    step.result = result
    step.finished_at = now
    step.next_check_at = None
    step.last_error = None
    record(session, filing.id, "done", at=now, actor=actor, step=step.name, result=result)
    if step.name == "registration" and isinstance(result.get("credit_code"), str):
        filing.credit_code = result["credit_code"]
    if step.name == FINAL_STEP:
        filing.status = FilingStatus.COMPLETE
        filing.completed_at = now
        record(session, filing.id, "complete", at=now)
    return _join_successors(session, step, now=now, lease_until=lease_until)


def _join_successors(
    session: Session, step: Step, *, now: datetime, lease_until: datetime
) -> list[int]:
    names = successors(step.name)
    if not names:
        return []
    # Locking the successor rows serialises concurrent predecessors of one join: each sees
    # the count the previous one left, and exactly one of them sees it reach zero. (No
    # autoflush: this step's own changes go out with the successors' in one flush.)
    with session.no_autoflush:
        waiting = session.scalars(
            select(Step)
            .where(Step.filing_id == step.filing_id, Step.name.in_(names))
            .order_by(Step.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).all()
    promoted = []
    for succ in waiting:
        succ.pending_needs -= 1
        if succ.pending_needs == 0 and succ.status == StepStatus.WAITING:
            succ.status = StepStatus.READY
            succ.next_check_at = lease_until
            record(session, step.filing_id, "ready", at=now, step=succ.name)
            promoted.append(succ.id)
            if succ.name == FINAL_STEP:
                _filing_ready(session, step.filing, now=now)
    return promoted


def _filing_ready(session: Session, filing: Filing, *, now: datetime) -> None:
    filing.status = FilingStatus.READY
    filing.ready_at = now
    record(session, filing.id, "filing_ready", at=now)


def postpone(
    session: Session,
    step_id: int,
    *,
    now: datetime,
    next_check_at: datetime | None,
    submitted: bool,
    error: str | None = None,
) -> bool:
    """The agency has the request (`submitted`) or failed transiently: look again later."""
    step = _locked_step(session, step_id)
    if step is None or step.status not in (StepStatus.RUNNING, StepStatus.SUBMITTED):
        return False
    if submitted and step.status != StepStatus.SUBMITTED:
        step.status = StepStatus.SUBMITTED
        record(session, step.filing_id, "submitted", at=now, step=step.name)
    if error is not None:
        step.last_error = error
        if step.status == StepStatus.RUNNING:
            step.status = StepStatus.READY
        record(
            session,
            step.filing_id,
            "retry_scheduled",
            at=now,
            step=step.name,
            attempt=step.attempts,
            error=error,
            next_check_at=next_check_at.isoformat() if next_check_at else None,
        )
    step.next_check_at = next_check_at
    return True


def reject(session: Session, step_id: int, *, now: datetime, code: str, message: str) -> bool:
    """The agency refused on the merits: the step stops and branch staff must act."""
    step = _locked_step(session, step_id)
    if step is None or step.status not in (StepStatus.RUNNING, StepStatus.SUBMITTED):
        return False
    step.status = StepStatus.REJECTED
    step.reason = message
    step.finished_at = now
    step.next_check_at = None
    step.filing.status = FilingStatus.ACTION_REQUIRED
    record(session, step.filing_id, "rejected", at=now, step=step.name, code=code, message=message)
    return True


def block(
    session: Session, step_id: int, *, now: datetime, reason: str, materials: list[str]
) -> bool:
    """The agency needs materials: they become 容缺 items of the filing, blocking this step."""
    step = _locked_step(session, step_id)
    if step is None or step.status not in (StepStatus.RUNNING, StepStatus.SUBMITTED):
        return False
    held = {m.code: m for m in step.filing.materials}
    for code in materials:
        material = held.get(code)
        if material is None:
            material = Material(code=code, blocks=[])
            step.filing.materials.append(material)
        material.status = MaterialStatus.MISSING
        material.blocks = sorted({*material.blocks, step.name})
    _block(step, now=now, reason=reason, materials=materials)
    return True


def _block(step: Step, *, now: datetime, reason: str, materials: list[str]) -> None:
    step.status = StepStatus.BLOCKED
    step.reason = reason
    step.next_check_at = None
    session = Session.object_session(step)
    assert session is not None
    record(session, step.filing_id, "blocked", at=now, step=step.name, materials=materials)


def await_handover(session: Session, step_id: int, *, now: datetime) -> bool:
    """Branch pickup: the step waits at the counter for staff to hand licence and seals over."""
    step = _locked_step(session, step_id)
    if step is None or step.status != StepStatus.RUNNING:
        return False
    step.status = StepStatus.AT_BRANCH
    step.next_check_at = None  # nothing for the sweeper to do: a person acts next
    record(session, step.filing_id, "at_branch", at=now, step=step.name)
    return True
