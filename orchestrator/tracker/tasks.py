"""Celery tasks of the tracker, sent by beat: the sweep, and the deadlines' re-evaluation."""

from __future__ import annotations

from orchestrator import runtime
from orchestrator.celery_app import app
from orchestrator.db import after_commit
from orchestrator.filings.tasks import dispatch
from orchestrator.tracker.deadlines import revise_deadlines
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


@app.task(name="tracker.revise_deadlines", ignore_result=True)
def revise_open_deadlines() -> int:
    """Re-evaluate open filings' deadlines on the current calendar; returns how many moved.

    `onestop calendar import` does this at once; this pass catches the filings that a
    process still counting on the old calendar accepted meanwhile.
    """
    rt = runtime.current()
    calendar = rt.holidays.refresh()
    with rt.database.transaction() as session:
        return len(revise_deadlines(session, calendar=calendar, now=rt.clock.now()))
