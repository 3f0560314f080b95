"""The real services the integration tests use: PostgreSQL, RabbitMQ and Redis.

`python -m tests.services ensure` starts whichever is down (as root, with the commands
the machines document) and waits for it. In CI (CI=true) a service that stays down is a
failure; elsewhere the integration tests are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_ADMIN_URL = os.environ.get(
    "ONESTOP_TEST_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
AMQP_URL = os.environ.get("ONESTOP_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672//")
REDIS_URL = os.environ.get("ONESTOP_TEST_REDIS", "redis://127.0.0.1:6379/0")


@dataclass(frozen=True)
class Service:
    name: str
    port: int
    start: tuple[str, ...]


def _pg_start() -> tuple[str, ...]:
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    if not versions:
        return ()
    return ("pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start")


SERVICES = (
    Service("PostgreSQL", 5432, _pg_start()),
    Service("RabbitMQ", 5672, ("rabbitmq-server", "-detached")),
    Service("Redis", 6379, ("redis-server", "--daemonize", "yes", "--bind", "127.0.0.1",
                            "--port", "6379", "--save", "", "--appendonly", "no")),
)  # fmt: skip


def reachable(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def ensure(service: Service, wait_seconds: float = 60) -> str | None:
    """Start `service` if it is down; None when up, else why not."""
    if reachable(service.port):
        return None
    if not service.start or shutil.which(service.start[0]) is None:
        return f"{service.name} is not running on port {service.port} and is not installed here"
    print(f"starting {service.name}: {' '.join(service.start)}", file=sys.stderr)
    subprocess.run(service.start, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if reachable(service.port):
            return None
        time.sleep(0.5)
    return f"{service.name} did not come up on port {service.port} within {wait_seconds:.0f} s"


def ensure_all() -> list[str]:
    """Start every service that is down; the reasons for those still down."""
    return [problem for s in SERVICES if (problem := ensure(s)) is not None]


def main(argv: list[str]) -> int:
    if argv[1:] != ["ensure"]:
        print("usage: python -m tests.services ensure", file=sys.stderr)
        return 2
    problems = ensure_all()
    for problem in problems:
        print(("ERROR: " if IN_CI else "warning: ") + problem, file=sys.stderr)
    if problems and not IN_CI:
        print("integration tests will be skipped (in CI they fail)", file=sys.stderr)
    return 1 if problems and IN_CI else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
