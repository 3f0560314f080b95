"""The `onestop` command: run the service (embedded or as separate processes), the demo,
scenario replays, the benchmark, the working-day calendar, licences and API tokens."""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from orchestrator.cli.calendar import app as calendar_app
from orchestrator.cli.health import app as health_app
from orchestrator.cli.licences import app as licence_app
from orchestrator.cli.options import Host, Port
from orchestrator.cli.predictions import app as predictions_app
from orchestrator.cli.staff import app as staff_app
from orchestrator.cli.subsidies import app as subsidies_app
from orchestrator.cli.supervision import HISTORY_EPILOG, history
from orchestrator.cli.supervision import app as supervision_app
from orchestrator.cli.tokens import app as token_app
from orchestrator.logs import LogLevel
from orchestrator.settings import get_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from integrations.simulators.app import SimulatorConfig

app = typer.Typer(
    name="onestop",
    help=(
        "OneStop 一件事开办企业: one filing carried to every agency.\n\n"
        "Embedded by default (SQLite, in-process worker and simulators); set "
        "ONESTOP_DATABASE_URL and ONESTOP_BROKER_URL for PostgreSQL and RabbitMQ."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
app.add_typer(calendar_app, name="calendar", help="Working-day calendar: deadlines and workdays.")
app.add_typer(licence_app, name="licence", help="E-business licences: verify a licence PDF.")
app.add_typer(predictions_app, name="predictions", help="Completion estimates: their error.")
app.add_typer(token_app, name="token")
app.add_typer(staff_app, name="staff")
app.add_typer(subsidies_app, name="subsidies")
app.add_typer(health_app, name="health")
app.add_typer(supervision_app, name="supervision")
app.command(epilog=HISTORY_EPILOG)(history)

EXIT_REFUSED = 2  # a standalone process refuses settings that are unsafe in production

LogLevelOption = Annotated[
    LogLevel | None,
    typer.Option(
        "--log-level",
        "--loglevel",
        help="How much to log (default: ONESTOP_LOG_LEVEL, else warning); personal numbers "
        "are masked at every level.",
        show_default=False,
    ),
]


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema and load the reference data."""
    from orchestrator.migrations import migrate as run_migrations
    from orchestrator.runtime import current
    from orchestrator.tools.seed import seed_reference

    settings = get_settings()
    run_migrations(settings.database_url)
    with current().database.transaction() as session:
        seed_reference(session)
    typer.echo(f"database ready: {_safe_url(settings.database_url)}")


@app.command()
def seed(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML naming branches and staff.")],
) -> None:
    """Create the branches, staff and officers of a scenario (then issue them tokens)."""
    from orchestrator.runtime import current
    from orchestrator.tools.scenarios import ScenarioError, load_scenario
    from orchestrator.tools.seed import seed_people

    try:
        loaded = load_scenario(scenario)
    except ScenarioError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from error
    with current().database.transaction() as session:
        people = seed_people(session, loaded)
    typer.echo(f"{len(loaded.branches)} branches, {len(people)} staff: {', '.join(people)}")


@app.command()
def serve(port: Port = 8000, host: Host = "127.0.0.1", log_level: LogLevelOption = None) -> None:
    """Run everything in one process (embedded default): API and portal, worker, beat,
    simulators."""
    from orchestrator.api.app import web_app
    from orchestrator.tools.embedded import run_embedded

    settings = get_settings()
    simulated = _simulated(settings.public_url or f"http://{host}:{port}")
    with run_embedded(settings, simulators=simulated) as rt:
        typer.echo(
            f"OneStop at http://{host}:{port}  (staff portal: http://{host}:{port}/portal/;"
            f" agencies: {rt.agencies_url})"
        )
        _warn_if_schedule_missing()
        _serve_api(web_app(rt.settings), host=host, port=port, log_level=log_level)


@app.command()
def demo(
    scenario: Annotated[
        Path | None,
        typer.Argument(help="Scenario YAML (default: scenarios/demo.yaml).", show_default=False),
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="Give up after this many real seconds (exit 1).", min=1)
    ] = 120.0,
    json_output: Annotated[
        bool, typer.Option("--json", help="End with one JSON line: the per-filing summary.")
    ] = False,
    serve: Annotated[
        bool | None,
        typer.Option(
            "--serve/--no-serve",
            help="After the replay, keep serving the portal and the tracking page (with a "
            "staff sign-in made for you) until Ctrl-C. Default: when run in a terminal.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Replay a scenario embedded: clerks file over HTTP, agencies simulated, live progress.

    Exit 0 if every filing completed, 1 if not (each with its reason), 2 for a bad scenario.
    """
    from orchestrator.tools.demo import run_demo

    raise typer.Exit(run_demo(scenario, timeout=timeout, as_json=json_output, serve=serve))


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML (scenarios/*.yaml).")],
    json_output: Annotated[
        bool,
        typer.Option("--json", help="Print nothing but the figures: one JSON object, last line."),
    ] = False,
    short: Annotated[
        bool,
        typer.Option(
            "--short",
            help="The scenario's short form, as CI runs it: the filings and clock scale of its "
            "`short:` section (fewer filings, spread over the arrivals; a faster clock).",
        ),
    ] = False,
    filings: Annotated[
        int | None,
        typer.Option(
            "--filings", "-n", help="Replay at most N filings, spread over the arrivals.", min=1
        ),
    ] = None,
    scale: Annotated[
        float | None,
        typer.Option(help="Scenario seconds per real second (default: the scenario's).", min=1),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            help="Seed of the simulators' latencies, numbering and fault dice (default: the "
            "scenario's): replay again with other draws."
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            help="Give up after this many real seconds (default: well past every target).", min=1
        ),
    ] = None,
) -> None:
    """Replay a scenario embedded and report its outcome in figures.

    Working hours from acceptance to ready and to complete (distribution), the share within
    the district's target, retries, rejections, lost filings and duplicate agency effects.
    Back offices work in office hours on the scenario's scaled clock. Exit 0 if every filing
    was filed and none was lost or acted on twice, 1 if not, 2 for a bad scenario.
    """
    from orchestrator.tools.scenarios.run import run_scenario

    raise typer.Exit(
        run_scenario(
            scenario,
            as_json=json_output,
            short=short,
            max_filings=filings,
            scale=scale,
            seed=seed,
            timeout=timeout,
        )
    )


@app.command()
def api(port: Port = 8000, host: Host = "127.0.0.1", log_level: LogLevelOption = None) -> None:
    """Run the web process alone: the JSON API and the staff portal (production: PostgreSQL
    + RabbitMQ).

    Refuses to start while the simulators' development key is trusted, unless
    ONESTOP_DEVELOPMENT=true says this is a development deployment.
    """
    _refuse_unsafe_trust()
    from orchestrator.api.app import web_app
    from orchestrator.reference import load_reference
    from orchestrator.runtime import current

    # Read reference data and calendar now: left to the first requests, every request
    # thread would miss the cache at once and parse the same YAML in parallel.
    load_reference()
    current()
    _warn_if_schedule_missing()
    served = web_app()
    _pace_garbage_collection()
    _serve_api(served, host=host, port=port, log_level=log_level)


def _serve_api(served: FastAPI, *, host: str, port: int, log_level: LogLevel | None) -> None:
    """Serve the API with uvicorn, logging through `orchestrator.logs` at `log_level`."""
    import uvicorn

    from orchestrator.logs import configure_logging

    level = log_level or get_settings().log_level
    configure_logging(level)
    # No log_config: uvicorn's loggers propagate to the handler just configured.
    uvicorn.run(served, host=host, port=port, log_level=level, log_config=None)


@app.command()
def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(help="Worker threads (default: ONESTOP_WORKER_CONCURRENCY).", min=1),
    ] = None,
    log_level: LogLevelOption = None,
) -> None:
    """Run a Celery worker (threads pool) for step work.

    Refuses to start while the simulators' development key is trusted, unless
    ONESTOP_DEVELOPMENT=true says this is a development deployment.
    """
    _refuse_unsafe_trust()
    from orchestrator.celery_app import app as celery

    settings = get_settings()
    threads = concurrency or settings.worker_concurrency
    level = log_level or settings.log_level
    _warn_if_schedule_missing()
    _pace_garbage_collection()
    celery.worker_main(
        ["worker", "--pool=threads", f"--concurrency={threads}", f"--loglevel={level}",
         "--without-gossip", "--without-mingle", f"--hostname=onestop-{os.getpid()}@%h"]
    )  # fmt: skip


@app.command()
def beat(log_level: LogLevelOption = None) -> None:
    """Run Celery beat: the sweep that re-dispatches overdue steps, and deadline revision.

    Refuses to start while the simulators' development key is trusted, unless
    ONESTOP_DEVELOPMENT=true says this is a development deployment.
    """
    _refuse_unsafe_trust()
    from orchestrator.celery_app import app as celery

    _warn_if_schedule_missing()
    # Two short-interval entries (the sweep, the deadlines): nothing worth a schedule file,
    # which every beat started from one directory would share (and a crashed one leave).
    # The in-memory scheduler touches a heartbeat file as it ticks (`onestop health beat`).
    scheduler = "orchestrator.tools.health:HeartbeatScheduler"
    level = log_level or get_settings().log_level
    celery.start(["beat", f"--loglevel={level}", f"--scheduler={scheduler}"])


@app.command()
def simulators(port: Port = 8100, host: Host = "127.0.0.1") -> None:
    """Serve the agency simulators (every agency, one process).

    A simulated licence's QR code leads to ONESTOP_PUBLIC_URL (default: the local API).
    """
    from integrations.simulators.server import main as serve_simulators

    public_url = get_settings().public_url
    _pace_garbage_collection()
    serve_simulators(host=host, port=port, config=_simulated(public_url) if public_url else None)


def _warn_if_schedule_missing() -> None:
    """From 1 November, tell whoever starts a process that next year's schedule is missing."""
    from orchestrator.cli.calendar import warn_if_schedule_missing
    from orchestrator.runtime import current

    rt = current()
    warn_if_schedule_missing(rt.calendar, rt.clock.now())


def _refuse_unsafe_trust() -> None:
    """Exit before starting a standalone process with settings unsafe in production."""
    from orchestrator.licences.verification import unsafe_trust

    if reason := unsafe_trust(get_settings()):
        typer.echo("\n".join(reason), err=True)
        raise typer.Exit(EXIT_REFUSED)


def _pace_garbage_collection() -> None:
    """Pace the cyclic garbage collector for a long-running service, its code loaded.

    Nearly everything a request or a step makes dies by reference count, yet at Python's
    default pace the collector runs every few hundred net allocations, and its full
    collections walk every loaded module and schema too: a share of the API's and the
    workers' CPU spent finding next to nothing (docs/benchmarks.md). Frozen, what is loaded
    stays out of the walks; a larger first generation makes collections rare.
    """
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def _simulated(public_url: str) -> SimulatorConfig:
    """Simulators whose licences' QR codes lead to OneStop at `public_url`."""
    from integrations.simulators.app import SimulatorConfig
    from orchestrator.settings import licence_verify_url

    return SimulatorConfig(licence_verify_url=licence_verify_url(public_url))


@app.command()
def up(
    workers: Annotated[int, typer.Option("--workers", "-w", help="Worker processes.", min=1)] = 2,
    port: Port = 8000,
    simulators_port: Annotated[int, typer.Option(help="Port of the simulators.")] = 8100,
    logs: Annotated[Path | None, typer.Option(help="Write each process's log here.")] = None,
) -> None:
    """Start api, N workers, beat and simulators as separate processes and keep them running.

    What compose does, without Docker: the database is migrated first; a process that exits
    is started again after a delay that doubles with each exit in a row, up to a cap, and
    each exit and restart is logged. Ctrl-C or SIGTERM stops every process (exit 0), and so
    does a process in a crash loop at start (exit 1, saying which and why).
    """
    import signal
    import subprocess

    from orchestrator.tools.deployment import Deployment, DeploymentError, RestartPolicy

    _log_to_terminal("orchestrator.tools.deployment", prefix="onestop up")
    deployment = Deployment(
        workers=workers,
        api_port=port,
        simulators_port=simulators_port,
        log_dir=logs,
        restart=RestartPolicy(),
    )
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: deployment.request_stop())
    try:
        with deployment:
            if not deployment.stop_requested:
                typer.echo(
                    f"started {', '.join(deployment.commands)}; API on {deployment.api_url} "
                    "— Ctrl-C stops all",
                    err=True,
                )
                deployment.supervise()
    except DeploymentError as error:  # the others are stopped by now
        typer.echo(f"{error}\nevery process was stopped", err=True)
        raise typer.Exit(1) from error
    except subprocess.CalledProcessError as error:
        typer.echo(
            f"onestop migrate failed (exit {error.returncode}), so nothing was started: "
            "is ONESTOP_DATABASE_URL right and the database up?",
            err=True,
        )
        raise typer.Exit(1) from error
    typer.echo("every process was stopped", err=True)


def _log_to_terminal(logger: str, *, prefix: str) -> None:
    """Show what `logger` says at INFO and above on stderr, with the time and `prefix`."""
    import logging
    import sys

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"%(asctime)s {prefix}: %(message)s", "%H:%M:%S"))
    target = logging.getLogger(logger)
    target.addHandler(handler)
    target.setLevel(logging.INFO)


@app.command()
def bench(
    filings: Annotated[int, typer.Option("--filings", "-n", help="Filings to file.", min=1)],
    agency_latency_ms: Annotated[
        float, typer.Option(help="Every agency's latency (ms); answers stay synchronous.", min=0)
    ],
    rate: Annotated[
        float | None,
        typer.Option(help="Arrivals per second (default: as fast as the API accepts).", min=0.01),
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes to start.", min=1)] = 2,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the figures as one JSON object, no progress.")
    ] = False,
    use_running: Annotated[
        bool,
        typer.Option(
            "--use-running",
            help="Use the API at --api-url and the agencies at ONESTOP_AGENCIES_URL, started "
            "already, instead of starting simulators, API, beat and workers here.",
        ),
    ] = False,
    api_url: Annotated[
        str, typer.Option(help="The running API (with --use-running).")
    ] = "http://127.0.0.1:8000",
    submitters: Annotated[int, typer.Option(help="Concurrent submitter threads.", min=1)] = 8,
    timeout: Annotated[
        float | None, typer.Option(help="Seconds to wait for completion (default: scaled to N).")
    ] = None,
    logs: Annotated[Path | None, typer.Option(help="Keep the processes' logs here.")] = None,
) -> None:
    """File N filings against agencies of latency L; report throughput and our overhead.

    Needs PostgreSQL and RabbitMQ (ONESTOP_DATABASE_URL, ONESTOP_BROKER_URL). Exits 1 if a
    filing was lost or an agency acted twice, 2 if it cannot start.
    """
    import json

    from rich.console import Console

    from orchestrator.tools.bench.load import BenchOptions
    from orchestrator.tools.bench.report import table
    from orchestrator.tools.bench.run import BenchSetupError, run
    from orchestrator.tools.deployment import DeploymentError

    options = BenchOptions(
        filings=filings,
        agency_latency_ms=agency_latency_ms,
        rate=rate,
        workers=workers,
        use_running=use_running,
        api_url=api_url,
        submitters=submitters,
        timeout_seconds=timeout,
        show_progress=not json_output,
        logs=logs,
    )
    try:
        report = run(options, get_settings())
    except BenchSetupError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from error
    except DeploymentError as error:
        typer.echo(f"benchmark aborted: {error}", err=True)
        raise typer.Exit(1) from error
    for note in report.notes:
        typer.echo(note, err=True)
    if json_output:
        typer.echo(json.dumps(report.as_json(), ensure_ascii=False))
    else:
        Console().print(table(report))
    if not report.ok:
        raise typer.Exit(1)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def main() -> None:
    """Entry point of the `onestop` console script."""
    app()
