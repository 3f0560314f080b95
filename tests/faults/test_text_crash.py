"""A worker killed (SIGKILL) after the SMS gateway took a text and before OneStop recorded it
sent: the task comes back to another worker, which sends it again under the same key, and the
applicant gets every text once (the notifications of the tracker ride on the same outbox)."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from orchestrator.celery_app import STEPS_QUEUE
from tests.faults.dying_worker import MARKER
from tests.faults.soak import (
    NewSoak,
    Soak,
    assert_nothing_lost_or_duplicated,
    wait_until,
    wait_until_drained,
)
from tests.faults.test_crash_safety import running

pytestmark = [pytest.mark.integration]


@pytest.mark.timeout(240)
def test_a_worker_killed_between_sending_a_text_and_recording_it_texts_once(
    new_soak: NewSoak, broker_vhost: str, tmp_path: Path
) -> None:
    died = tmp_path / "died"
    soak = new_soak(workers=2, env={MARKER: str(died)})
    for name in soak.workers:
        soak.deployment.commands[name] = [sys.executable, "-m", "tests.faults.dying_worker"]
    with running(soak):
        soak.file(2, per_second=2)
        wait_until(died.exists, timeout=60, what="a worker killed after the gateway took a text")
        dead = _restarted(soak)
        soak.wait_until_complete(2, timeout=120)
        wait_until_drained(broker_vhost, STEPS_QUEUE, timeout=30)
        audit = soak.audit()
    # Three texts a filing (accepted, ready, the waybill), each once, though one was sent by
    # a worker that died before recording it.
    assert_nothing_lost_or_duplicated(soak, audit, 2)
    assert dead in soak.workers


def _restarted(soak: Soak) -> str:
    """The worker that killed itself, once it is gone, started again (as a supervisor
    would): its name."""
    processes = soak.deployment.processes
    name = wait_until(
        lambda: next((n for n in soak.workers if processes[n].poll() is not None), None),
        timeout=30,
        what="the worker that killed itself to be gone",
    )
    assert processes[name].returncode == -signal.SIGKILL
    soak.deployment.start(name)
    return name
