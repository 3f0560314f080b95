"""The embedded mode: everything in one process, nothing to install.

SQLite, a Celery worker thread on the in-memory broker (real canvas semantics, not eager
mode), an embedded beat for the sweeper, and the agency simulators served over HTTP on an
ephemeral local port. The same workflow code runs here as in production.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from celery.beat import EmbeddedService, Scheduler
from celery.contrib.testing.worker import start_worker

from integrations.simulators.app import SimulatorConfig
from integrations.simulators.engine import TimeModel, wall_clock
from integrations.simulators.server import serve_simulators_in_thread
from orchestrator import runtime
from orchestrator.celery_app import configure_celery
from orchestrator.migrations import migrate
from orchestrator.runtime import Runtime
from orchestrator.settings import Settings
from orchestrator.tools.seed import seed_reference


@contextmanager
def simulators_in_thread(
    config: SimulatorConfig | None = None, *, time_model: TimeModel = wall_clock
) -> Iterator[str]:
    """Serve every agency simulator on an ephemeral local port; yields the base URL.

    `time_model` says when the agencies' work is done (default: wall-clock latency).
    """
    server = serve_simulators_in_thread(config, time_model=time_model)
    try:
        yield server.base_url
    finally:
        server.stop()


@contextmanager
def run_embedded(
    settings: Settings,
    *,
    simulators: SimulatorConfig | None = None,
    time_model: TimeModel = wall_clock,
    beat: bool = True,
    **runtime_overrides: Any,
) -> Iterator[Runtime]:
    """Migrate, start simulators, a worker thread and beat; yield the installed runtime.

    Unless `settings` name the agencies, the simulators run here, and the runtime's
    settings trust their development key (`Settings.with_simulators`).
    """
    migrate(settings.database_url)
    with ExitStack() as stack:
        agencies_url = settings.agencies_url
        if not agencies_url:
            agencies_url = stack.enter_context(
                simulators_in_thread(simulators, time_model=time_model)
            )
            settings = settings.with_simulators()
        rt = runtime.install(
            runtime.from_settings(settings, agencies_url=agencies_url, **runtime_overrides)
        )
        with rt.database.transaction() as session:
            seed_reference(session)
        app = configure_celery(settings)
        stack.enter_context(
            start_worker(
                app,
                pool="threads",
                concurrency=settings.worker_concurrency,
                perform_ping_check=False,
                loglevel="WARNING",
                shutdown_timeout=30,
            )
        )
        if beat:
            service = EmbeddedService(app, thread=True, scheduler_cls=Scheduler)
            service.start()
            stack.callback(service.stop)
        yield rt
