"""`onestop health …`: whether a process on this machine is alive (exit 0) or not (exit 1,
saying why), for compose's healthchecks or any supervisor's."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestrator.cli.options import Host, Port
from orchestrator.settings import get_settings

app = typer.Typer(
    help="Whether a process on this machine is alive (exit 0) or not (exit 1, saying why): "
    "compose's healthchecks, or any supervisor's.",
    no_args_is_help=True,
)

HealthTimeout = Annotated[
    float, typer.Option("--timeout", help="Seconds to wait for an answer.", min=0.1)
]


def _healthy(problem: str | None) -> None:
    """Exit 0 if there is no problem, else print it and exit 1."""
    if problem is not None:
        typer.echo(problem, err=True)
        raise typer.Exit(1)
    typer.echo("alive")


@app.command("api")
def health_api(port: Port = 8000, host: Host = "127.0.0.1", timeout: HealthTimeout = 5) -> None:
    """Whether the API answers on its /healthz."""
    from orchestrator.tools.health import http_problem

    _healthy(http_problem(f"http://{host}:{port}/healthz", timeout=timeout))


@app.command("simulators")
def health_simulators(
    port: Port = 8100, host: Host = "127.0.0.1", timeout: HealthTimeout = 5
) -> None:
    """Whether the agency simulators answer on their /healthz."""
    from orchestrator.tools.health import http_problem

    _healthy(http_problem(f"http://{host}:{port}/healthz", timeout=timeout))


@app.command("worker")
def health_worker(timeout: HealthTimeout = 3) -> None:
    """Whether a worker on this machine answers a ping over the broker (ONESTOP_BROKER_URL).

    The ping is answered by the loop that takes the work from the broker: a worker that hangs
    there, or has lost the broker, does not answer.
    """
    from orchestrator.celery_app import app as celery
    from orchestrator.tools.health import worker_problem

    _healthy(worker_problem(celery, timeout=timeout))


@app.command("beat")
def health_beat(
    max_age: Annotated[
        float | None,
        typer.Option(
            help="Seconds since beat's last tick beyond which it is hung "
            "(default: three sweep intervals).",
            min=0.1,
        ),
    ] = None,
) -> None:
    """Whether beat ticked lately: it touches ONESTOP_BEAT_HEARTBEAT_FILE on every tick."""
    from orchestrator.tools.health import beat_max_age, beat_problem

    heartbeat = get_settings().beat_heartbeat_file
    _healthy(beat_problem(heartbeat, max_age=max_age or beat_max_age()))
