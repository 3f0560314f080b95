"""The sweeper: finds steps (and texts to the applicant) whose due time passed with no sign
of a live task, and resends them.

A message can be lost (a publish during a broker outage, a crash between commit and
send) and long agency waits are parked in the database on purpose; either way the step's
`next_check_at` says when somebody should have acted, and this is that somebody. What it
does to a step is a transition (`claims.redispatch_overdue`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from orchestrator.filings.claims import redispatch_overdue
from orchestrator.notifications import outbox


def sweep(session: Session, *, now: datetime, lease_until: datetime, limit: int = 500) -> list[int]:
    """Claim up to `limit` overdue active steps for dispatch; returns their ids."""
    return redispatch_overdue(session.connection(), now=now, lease_until=lease_until, limit=limit)


def sweep_outbox(
    session: Session, *, now: datetime, lease_until: datetime, limit: int = 500
) -> list[int]:
    """Lease up to `limit` texts left unsent past their time (the broker was down, the
    worker died) for sending again; returns their ids. The gateway's idempotency key makes
    a text that did go out before not go out twice."""
    return outbox.overdue(session.connection(), now=now, lease_until=lease_until, limit=limit)
