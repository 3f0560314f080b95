"""Whether OneStop's processes are alive, as a supervisor asks it (compose's healthchecks call
`onestop health ...`): each check looks at the part of the process that does its work, not
merely at whether the process exists.

- api, simulators: their `/healthz` answers over HTTP.
- worker: it answers a ping over the broker. Remote control is served by the same loop that
  takes messages from the queues (not by the pool's threads, which may all be waiting on
  agencies), so a worker whose consumer hangs, or that lost the broker, does not answer.
- beat: its scheduling loop touched the heartbeat file lately. The sweep is one of its
  entries, so the loop wakes at least once per sweep interval: a file older than a few
  intervals means a beat that no longer sends sweeps.

Each check returns None when alive, else why not, in one line.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
from celery import Celery
from celery.beat import Scheduler
from celery.utils.nodenames import gethostname

from orchestrator.settings import get_settings

# How many sweep intervals beat may go without ticking before it is deemed hung.
BEAT_MISSED_TICKS = 3


def http_problem(url: str, *, timeout: float) -> str | None:
    """None if `url` answers 200 within `timeout` seconds, else why not."""
    try:
        reply = httpx.get(url, timeout=timeout)
    except httpx.HTTPError as error:
        return f"{url}: {type(error).__name__}: {error}"
    return None if reply.status_code == 200 else f"{url}: HTTP {reply.status_code}"


def worker_problem(app: Celery, *, host: str | None = None, timeout: float) -> str | None:
    """None if a worker on `host` (default: this machine) answers a ping within `timeout`.

    Workers are named `<name>@<host>` (`onestop worker` uses its pid as the name), so the
    pong of one on this host tells that this host's worker consumes.
    """
    host = host or gethostname()
    try:
        replies: list[dict[str, Any]] = app.control.ping(timeout=timeout) or []
    except Exception as error:  # the broker cannot be reached: nothing is consumed either
        return f"cannot ping the workers: {type(error).__name__}: {error}"
    answered = sorted(node for reply in replies for node in reply if node.endswith(f"@{host}"))
    if answered:
        return None
    others = sorted(node for reply in replies for node in reply)
    return (
        f"no worker on {host} answered a ping within {timeout:g} s (answered: {others or 'none'})"
    )


def beat_problem(heartbeat: Path, *, max_age: float, now: float | None = None) -> str | None:
    """None if beat touched `heartbeat` less than `max_age` seconds ago, else why not."""
    try:
        age = (time.time() if now is None else now) - heartbeat.stat().st_mtime
    except FileNotFoundError:
        return f"{heartbeat} does not exist: beat has not ticked yet"
    if age > max_age:
        return f"beat last ticked {age:.0f} s ago ({heartbeat}); more than {max_age:g} s"
    return None


def beat_max_age() -> float:
    """How old the heartbeat may be for beat to count as alive, from the sweep interval."""
    return BEAT_MISSED_TICKS * get_settings().sweep_interval_seconds


class HeartbeatScheduler(Scheduler):  # type: ignore[misc]  # Celery ships no type hints
    """Celery beat's in-memory scheduler, touching the heartbeat file on every tick."""

    def setup_schedule(self) -> None:
        super().setup_schedule()
        self._heartbeat = get_settings().beat_heartbeat_file
        self._heartbeat.parent.mkdir(parents=True, exist_ok=True)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """Send what is due, then say so in the heartbeat file."""
        interval: float = super().tick(*args, **kwargs)
        self._heartbeat.touch()
        return interval
