"""Celery tasks of the tracker, sent by beat: the sweep, the deadlines' re-evaluation, and the
SLA's."""

from __future__ import annotations

from orchestrator.celery_app import app
from orchestrator.db import after_commit
from orchestrator.filings.dispatch import dispatch
from orchestrator.notifications import outbox
from orchestrator.tasks.base import OneStopTask
from orchestrator.tracker.deadlines import revise_deadlines
from orchestrator.tracker.predictions import absorb_done_steps, expected_durations
from orchestrator.tracker.reminders import remind_and_flag
from orchestrator.tracker.sla import evaluate_batch
from orchestrator.tracker.sweeper import sweep, sweep_outbox


@app.task(name="tracker.sweep", base=OneStopTask, ignore_result=True)
def sweep_overdue_steps() -> int:
    """Dispatch every active step, and send every text, whose due time has passed; returns
    how many steps."""
    rt = sweep_overdue_steps.rt
    with sweep_overdue_steps.session() as session:
        now, lease_until = rt.clock.now(), rt.clock.after(rt.settings.step_lease_seconds)
        due = sweep(session, now=now, lease_until=lease_until)
        texts = sweep_outbox(session, now=now, lease_until=lease_until)
        after_commit(session, lambda: dispatch(due))
        after_commit(session, lambda: outbox.dispatch(texts))
    return len(due)


@app.task(name="tracker.revise_deadlines", base=OneStopTask, ignore_result=True)
def revise_open_deadlines() -> int:
    """Re-evaluate open filings' deadlines on the current calendar; returns how many moved.

    `onestop calendar import` does this at once; this pass catches the filings that a
    process still counting on the old calendar accepted meanwhile.
    """
    rt = revise_open_deadlines.rt
    calendar = rt.holidays.refresh()
    with revise_open_deadlines.session() as session:
        return len(revise_deadlines(session, calendar=calendar, now=rt.clock.now()))


@app.task(name="tracker.remind_materials", base=OneStopTask, ignore_result=True)
def remind_materials() -> int:
    """Remind applicants of 容缺 materials coming due, flag those past due; returns how
    many texts and flags."""
    rt = remind_materials.rt
    with remind_materials.session() as session:
        done = remind_and_flag(
            session,
            calendar=rt.holidays.refresh(),
            now=rt.clock.now(),
            send_by=rt.clock.after(rt.settings.step_lease_seconds),
        )
        outbox.send_after_commit(session)
    return len(done.reminded) + len(done.flagged)


@app.task(name="tracker.evaluate_sla", base=OneStopTask, ignore_result=True)
def evaluate_sla() -> int:
    """Judge every open filing's SLA state and predict its ready time; returns how many
    states changed (each recorded as an `sla_<state>` event)."""
    rt = evaluate_sla.rt
    calendar, now = rt.calendar, rt.clock.now()
    with evaluate_sla.session() as session:
        absorb_done_steps(session, calendar=calendar, now=now)
    with evaluate_sla.session() as session:
        durations = expected_durations(session, calendar)
    changed = 0
    after_id: int | None = 0
    while after_id is not None:
        # A transaction per batch: its rows stay locked until it commits.
        with evaluate_sla.session() as session:
            changes, after_id = evaluate_batch(
                session, after_id, calendar=calendar, now=now, durations=durations
            )
            outbox.send_after_commit(session)  # the escalations' texts
        changed += len(changes)
    return changed
