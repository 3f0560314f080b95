"""The Celery application: durable, acknowledged-late, confirmed delivery of step work.

Celery carries work, not truth: every message names a step id and may be lost or come
twice; the database decides what happens. Hence `acks_late` (a crash mid-step redelivers
the message), `task_reject_on_worker_lost`, persistent messages on durable queues,
publisher confirms, a prefetch of one, and no result backend (joins are in the database).
"""

from __future__ import annotations

from typing import Any

import kombu.pools
from celery import Celery

from orchestrator.settings import Settings, get_settings

TASK_MODULES = ("orchestrator.filings.tasks", "orchestrator.tracker.tasks")


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery settings for the broker named in `settings`."""
    config: dict[str, Any] = {
        "broker_url": settings.broker_url,
        "result_backend": None,
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "task_default_queue": "onestop.steps",
        "task_default_delivery_mode": "persistent",
        "task_create_missing_queues": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        "worker_prefetch_multiplier": 1,
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,
        "broker_connection_retry_on_startup": True,
        # A publish that cannot reach the broker gives up quickly: the step is already in
        # the database with a due time, and the sweeper will dispatch it again.
        "task_publish_retry_policy": {
            "max_retries": 2,
            "interval_start": 0.1,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
        "beat_schedule": {
            "tracker.sweep": {
                "task": "tracker.sweep",
                "schedule": settings.sweep_interval_seconds,
                "options": {"expires": settings.sweep_interval_seconds},
            }
        },
        "timezone": "Asia/Shanghai",
    }
    if settings.broker_url.startswith(("amqp", "pyamqp")):
        config["broker_transport_options"] = {"confirm_publish": True}
    elif settings.broker_url.startswith("memory"):
        config["broker_transport_options"] = {"polling_interval": 0.01}
    return config


app = Celery("onestop", include=list(TASK_MODULES))
app.conf.update(celery_config(get_settings()))


def configure_celery(settings: Settings) -> Celery:
    """Point the process's Celery app at the broker of `settings` (embedded mode, tests)."""
    app.conf.update(celery_config(settings))
    # Connections and producers pooled for an earlier broker (or closed by a stopped
    # worker) must not be reused: drop them, as Celery itself does after a fork.
    kombu.pools.reset()  # type: ignore[no-untyped-call]
    app._after_fork()
    return app
