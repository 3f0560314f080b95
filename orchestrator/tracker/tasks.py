"""Celery tasks of the tracker: the periodic sweep that beat sends."""

from __future__ import annotations

from orchestrator import runtime
from orchestrator.celery_app import app
from orchestrator.db import after_commit
from orchestrator.filings.tasks import dispatch
from orchestrator.tracker.sweeper import sweep


@app.task(name="tracker.sweep", ignore_result=True)
def sweep_overdue_steps() -> int:
    """Dispatch every active step whose due time has passed; returns how many."""
    rt = runtime.current()
    with rt.database.transaction() as session:
        due = sweep(
            session,
            now=rt.clock.now(),
            lease_until=rt.clock.after(rt.settings.step_lease_seconds),
        )
        after_commit(session, lambda: dispatch(due))
    return len(due)
