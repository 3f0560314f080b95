"""The Celery application: durable, acknowledged-late, confirmed delivery of step work.

Celery carries work, not truth: every message names a step id and may be lost or come
twice; the database decides what happens. Hence `acks_late` (a crash mid-step redelivers
the message), `task_reject_on_worker_lost`, persistent messages on durable queues,
publisher confirms, a prefetch of one, and no result backend (joins are in the database).
"""

from __future__ import annotations

import logging
from typing import Any

import kombu.pools
from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger
from kombu.entity import Exchange, Queue

from orchestrator.logs import mask_handlers
from orchestrator.settings import Settings, get_settings

TASK_MODULES = (
    "orchestrator.tasks.filings",
    "orchestrator.tasks.notifications",
    "orchestrator.tasks.tracker",
    "orchestrator.tasks.supervision",
)
STEPS_QUEUE = "onestop.steps"
# The tracker's own queue (beat's periodic tasks): behind a backlog of steps, a sweep
# queued with them would wait out the whole backlog (and expire unrun), just when a lost
# step most needs finding.
SWEEP_QUEUE = "onestop.sweep"


def _queue(name: str) -> Queue:
    # As Celery declares a queue it creates on demand: a durable direct exchange of its name.
    exchange = Exchange(name, durable=True)  # type: ignore[no-untyped-call]
    return Queue(name, exchange, routing_key=name, durable=True)  # type: ignore[no-untyped-call]


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery settings for the broker named in `settings`."""
    # What beat sends, every so many seconds (each expires when the next is due), on the
    # tracker's own queue.
    periodic = {
        "tracker.sweep": settings.sweep_interval_seconds,
        "tracker.revise_deadlines": settings.deadline_revision_seconds,
        "tracker.remind_materials": settings.material_reminder_seconds,
        "tracker.evaluate_sla": settings.sla_evaluation_seconds,
        "supervision.fold": settings.supervision_fold_seconds,
    }
    config: dict[str, Any] = {
        "broker_url": settings.broker_url,
        "result_backend": None,
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "task_default_queue": STEPS_QUEUE,
        # Every worker consumes both; the broker interleaves them as threads come free.
        "task_queues": (_queue(STEPS_QUEUE), _queue(SWEEP_QUEUE)),
        "task_routes": {task: {"queue": SWEEP_QUEUE} for task in periodic},
        "task_default_delivery_mode": "persistent",
        "task_create_missing_queues": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        "worker_prefetch_multiplier": 1,
        # After a reconnect Celery lowers the prefetch count, then raises it again from each
        # ack callback. With the threads pool those callbacks run on pool threads and send a
        # synchronous basic.qos on the consumer's connection while the event loop reads from
        # it too: after a broker outage workers hung for good (every thread blocked in
        # basic_qos, waiting for a qos-ok another thread had read). Over-fetching a little
        # after a reconnect is harmless: the messages wait, unacknowledged, for a thread.
        "worker_enable_prefetch_count_reduction": False,
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
            task: {"task": task, "schedule": every, "options": {"expires": every}}
            for task, every in periodic.items()
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


def _mask_logs(logger: logging.Logger, **_: object) -> None:
    """What the worker's and beat's loggers write is masked as the API's is."""
    mask_handlers(logger)


after_setup_logger.connect(_mask_logs, weak=False)
after_setup_task_logger.connect(_mask_logs, weak=False)


def configure_celery(settings: Settings) -> Celery:
    """Point the process's Celery app at the broker of `settings` (embedded mode, tests)."""
    app.conf.update(celery_config(settings))
    # Connections and producers pooled for an earlier broker (or closed by a stopped
    # worker) must not be reused: drop them, as Celery itself does after a fork.
    kombu.pools.reset()  # type: ignore[no-untyped-call]
    app._after_fork()
    return app
