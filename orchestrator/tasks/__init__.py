"""The workers' entry points: the Celery tasks, which call the domain's services.

Like the API, this layer sits above the domain: the domain sends tasks by name
(`orchestrator.filings.dispatch`) and never imports them. The worker imports this package
(`celery_app.TASK_MODULES`) before it starts its pool.
"""

from __future__ import annotations

import contextlib
import sys

from celery.signals import worker_init

from orchestrator import runtime
from orchestrator.reference import load_reference


def _warm_up(**_: object) -> None:
    """Build the runtime, read the reference data and set the GIL switch interval, once,
    before the pool starts.

    Left to the first tasks, every pool thread would miss the same caches at once and read
    the reference YAML, the holiday calendar and the agencies' TLS setup in parallel: the
    same work done once per thread instead of once per process, right as work arrives.
    """
    load_reference()
    rt = runtime.current()
    # A step waits on the database many times, and at Python's default switch interval a
    # thread back from each wait can queue that whole interval behind a busy one.
    sys.setswitchinterval(rt.settings.worker_switch_interval_ms / 1000)
    with contextlib.suppress(runtime.ConfigurationError):  # no agencies: a sweeper-only worker
        rt.adapters  # noqa: B018 - the cached property builds the HTTP clients


worker_init.connect(_warm_up, weak=False)
