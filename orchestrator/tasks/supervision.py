"""Celery task of the supervision figures, sent by beat: folding the recent days."""

from __future__ import annotations

from datetime import timedelta

from orchestrator.celery_app import app
from orchestrator.supervision.fold import fold_days
from orchestrator.tasks.base import OneStopTask


@app.task(name="supervision.fold", base=OneStopTask, ignore_result=True)
def fold_recent_days() -> int:
    """Fold yesterday and today afresh into the supervision summary; returns rows written.

    Yesterday too: a transaction that stamped a filing ready before midnight may commit
    after the fold that ran just past it.
    """
    rt = fold_recent_days.rt
    today = rt.clock.now().date()
    with fold_recent_days.session() as session:
        return fold_days(session, today - timedelta(days=1), today, calendar=rt.calendar)
