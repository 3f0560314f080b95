"""The sweeper: finds steps whose due time passed with no sign of a live task, and resends.

A message can be lost (a publish during a broker outage, a crash between commit and
send) and long agency waits are parked in the database on purpose; either way the step's
`next_check_at` says when somebody should have acted, and this is that somebody.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.filings.models import ACTIVE_STEP_STATUSES, Step, StepStatus
from orchestrator.filings.transitions import record

SWEEPER = "sweeper"


def sweep(session: Session, *, now: datetime, lease_until: datetime, limit: int = 500) -> list[int]:
    """Claim up to `limit` overdue active steps for dispatch; returns their ids."""
    overdue = session.scalars(
        select(Step)
        .where(Step.status.in_(ACTIVE_STEP_STATUSES), Step.next_check_at <= now)
        .order_by(Step.next_check_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for step in overdue:
        step.next_check_at = lease_until
        if step.status == StepStatus.RUNNING:
            # Its attempt outlived the lease: presumed lost, so the step may be taken again.
            # (Should that attempt finish after all, its outcome still lands: see `succeed`.)
            step.status = StepStatus.READY
        # A parked agency wait coming due is routine; anything else was a lost message.
        if step.status != StepStatus.SUBMITTED:
            record(session, step.filing_id, "redispatched", at=now, actor=SWEEPER, step=step.name)
    return [step.id for step in overdue]
