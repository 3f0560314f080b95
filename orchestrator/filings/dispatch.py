"""Sending steps to the workers: by task name, so the domain never imports the tasks.

Call these after the commit that claimed or readied the steps (`db.after_commit`): a worker
that took the message before the commit would find nothing to do.
"""

from __future__ import annotations

from dataclasses import asdict

from celery import group

from orchestrator.celery_app import app
from orchestrator.filings.transitions import StepWork

RUN_STEP = "filings.run_step"
RUN_CLAIMED = "filings.run_claimed"


def dispatch(step_ids: list[int]) -> None:
    """Send the steps to the workers to claim, as one canvas group."""
    if len(step_ids) == 1:
        app.send_task(RUN_STEP, (step_ids[0],))
    elif step_ids:
        group(
            app.signature(RUN_STEP, (step_id,), immutable=True) for step_id in step_ids
        ).apply_async()


def hand_out(works: list[StepWork]) -> None:
    """Send steps claimed already to the workers, in one message."""
    if works:
        app.send_task(
            RUN_CLAIMED,
            ([asdict(work) for work in works],),
            argsrepr=claimed_repr(works),
            kwargsrepr="{}",
        )


def claimed_repr(works: list[StepWork]) -> str:
    """What broker tools and logs show of a `run_claimed` message: its filing and steps."""
    steps = ", ".join(f"{work.name} (step {work.step_id})" for work in works)
    return f"(filing {works[0].tracking_code}: {steps})"
