"""Run the simulators (or any ASGI app) with uvicorn: in a background thread, or as a process.

`serve_in_thread` is what the embedded mode ("simulators in process") and the tests use: it
binds 127.0.0.1 on an ephemeral port, waits until the server accepts connections, and
returns the base URL with a `stop` function. `main` runs the simulators as their own process.
"""

from __future__ import annotations

import argparse
import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import uvicorn

from integrations.simulators.app import SimulatorConfig, create_app
from integrations.simulators.engine import TimeModel, wall_clock
from integrations.simulators.exchange import DroppedConnection

DEFAULT_PORT = 8900
# Longer than the adapters' clients keep an idle connection (httpx's keep-alive expiry), so
# that a client never reuses a connection the server is just closing.
KEEP_ALIVE_SECONDS = 30


class BackgroundServer(NamedTuple):
    """A server running in a thread: where to reach it and how to stop it (idempotent)."""

    base_url: str
    stop: Callable[[], None]


class _QuietDroppedConnections(logging.Filter):
    """Drops uvicorn's error log for connections the simulators drop on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], DroppedConnection))


def _quiet_dropped_connections() -> None:
    errors = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietDroppedConnections) for f in errors.filters):
        errors.addFilter(_QuietDroppedConnections())


def _config(app: Any, **options: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        http="httptools",  # parsed in C: h11's pure-Python parsing is CPU on every request
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        backlog=2048,
        access_log=False,
        **options,
    )


def serve_in_thread(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    log_level: str | None = None,
    startup_timeout: float = 10.0,
) -> BackgroundServer:
    """Serve the ASGI `app` from a daemon thread; port 0 picks a free port.

    Leaves the process's logging configuration alone (uvicorn's own is not applied).
    Raises RuntimeError if the server does not start within `startup_timeout` seconds.
    """
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and without
    # it every reply waits for the client's delayed ACK (Nagle's algorithm).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_host, bound_port = sock.getsockname()[:2]
    server = uvicorn.Server(_config(app, log_config=None, log_level=log_level))
    _quiet_dropped_connections()
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"asgi:{bound_port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError(f"the ASGI server on {bound_host}:{bound_port} did not start")
        time.sleep(0.01)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()

    return BackgroundServer(base_url=f"http://{bound_host}:{bound_port}", stop=stop)


def serve_simulators_in_thread(
    config: SimulatorConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    time_model: TimeModel = wall_clock,
) -> BackgroundServer:
    """The simulated agencies of `config`, served from a background thread."""
    return serve_in_thread(create_app(config, time_model=time_model), host=host, port=port)


def main(
    host: str = "127.0.0.1", port: int = DEFAULT_PORT, *, config: SimulatorConfig | None = None
) -> None:
    """Run the simulators in this process until interrupted (the `simulators` process)."""
    server = uvicorn.Server(_config(create_app(config), host=host, port=port))
    _quiet_dropped_connections()
    server.run()


def cli(argv: Sequence[str] | None = None) -> None:
    """`python -m integrations.simulators.server [--host H] [--port P] [--seed N]`."""
    parser = argparse.ArgumentParser(description="Serve the simulated agencies.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    main(args.host, args.port, config=SimulatorConfig(seed=args.seed))


if __name__ == "__main__":
    cli()
