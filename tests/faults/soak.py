"""A production-shaped OneStop (separate api, beat, worker and simulator processes on real
PostgreSQL and RabbitMQ) to break on purpose, and the audit that says whether it held.

Every soak gets its own PostgreSQL database and its own RabbitMQ vhost, so it sees no
other test's rows or messages; a `TcpProxy` stands between the processes and the broker, or
the database, when a test wants to cut every connection to it at once.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, unquote, urlsplit

import amqp.exceptions
import httpx
import kombu
import pytest
import sqlalchemy as sa

from integrations.agencies import AGENCIES, GATEWAYS
from orchestrator.clock import CHINA
from orchestrator.db import Database
from orchestrator.filings.models import Event, Filing, FilingStatus, Step, StepStatus
from orchestrator.identity.service import issue_token
from orchestrator.notifications.models import OutboxMessage, OutboxStatus
from orchestrator.tools.deployment import Deployment
from orchestrator.tools.scenarios.names import trade_names
from orchestrator.workflow import by_name
from tests import services
from tests.factories import filing_input, graph_steps
from tests.people import shouguang_branch, staff_at

T = TypeVar("T")


def soak_size(default: int = 200) -> int:
    """Filings per soak: ONESTOP_SOAK_FILINGS if set (the long form), else `default`."""
    raw = os.environ.get("ONESTOP_SOAK_FILINGS")
    return int(raw) if raw else default


def soak_seed() -> int:
    """The seed of a soak's dice (which worker dies, when): ONESTOP_SOAK_SEED, else random."""
    raw = os.environ.get("ONESTOP_SOAK_SEED")
    return int(raw) if raw else random.randrange(2**32)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- the services, isolated per soak -----------------------------------------------------


@contextmanager
def fresh_database(any_database_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on the server of `any_database_url`; dropped after."""
    server = sa.engine.make_url(any_database_url)
    name = f"onestop_soak_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _rabbitmqctl(*args: str) -> str:
    command = ["rabbitmqctl", "-q", *args]
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=60).stdout


@contextmanager
def rabbitmq_vhost(amqp_url: str) -> Iterator[str]:
    """A new vhost on the local RabbitMQ for the URL's user; yields the URL of it, deletes it."""
    if shutil.which("rabbitmqctl") is None:
        message = "rabbitmqctl is not installed here: cannot create a test vhost"
        if services.IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    parts = urlsplit(amqp_url)
    user = unquote(parts.username or "guest")
    vhost = f"onestop_test_{uuid.uuid4().hex[:8]}"
    _rabbitmqctl("add_vhost", vhost)
    try:
        _rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
        yield parts._replace(path="/" + quote(vhost, safe="")).geturl()
    finally:
        _rabbitmqctl("delete_vhost", vhost)


def queue_state(amqp_url: str, queue: str) -> tuple[int, int, int]:
    """(consumers, messages ready, messages unacknowledged) of `queue` in the URL's vhost."""
    vhost = unquote(urlsplit(amqp_url).path[1:]) or "/"
    columns = ("name", "consumers", "messages_ready", "messages_unacknowledged")
    listing = _rabbitmqctl("list_queues", "-p", vhost, "--no-table-headers", *columns)
    for line in listing.splitlines():
        name, *counts = line.split("\t")
        if name == queue:
            return int(counts[0]), int(counts[1]), int(counts[2])
    return 0, 0, 0


def consumers(amqp_url: str, queue: str) -> int:
    """How many consumers the broker counts on `queue` of the URL's vhost (0 if no such queue).

    Asked with a passive declaration of the queue: milliseconds, where rabbitmqctl takes
    seconds on a busy machine, too slow to time a worker's restart with.
    """
    with kombu.Connection(amqp_url, connect_timeout=10) as connection:
        try:
            declared = connection.default_channel.queue_declare(queue=queue, passive=True)
        except amqp.exceptions.NotFound:
            return 0
    return int(declared.consumer_count)


def wait_until_drained(amqp_url: str, queue: str, *, timeout: float) -> None:
    """Wait until every message of `queue` was taken and acknowledged.

    A worker hung with messages in hand keeps them unacknowledged for ever: this fails then.
    """
    deadline = time.monotonic() + timeout
    while (state := queue_state(amqp_url, queue))[1:] != (0, 0):
        if time.monotonic() > deadline:
            pytest.fail(f"{queue} still holds messages after {timeout:.0f} s: {state}")
        time.sleep(0.25)


def wait_for_consumers(amqp_url: str, queue: str, count: int, *, timeout: float) -> None:
    """Wait until `queue` has `count` consumers; fail if it takes longer than `timeout` s."""
    deadline = time.monotonic() + timeout
    while (now := consumers(amqp_url, queue)) != count:
        if time.monotonic() > deadline:
            pytest.fail(f"{queue} has {now} consumers after {timeout:.0f} s, not {count}")
        time.sleep(0.25)


def wait_until(check: Callable[[], T], *, timeout: float, what: str) -> T:
    """The first truthy result of `check`, polled; fails naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.1)
    return result


def with_port(url: str, port: int) -> str:
    """`url` pointing at 127.0.0.1:`port` instead (credentials and vhost kept)."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    return parts._replace(netloc=f"{credentials}@127.0.0.1:{port}").geturl()


# Where a service listens when its URL names no port.
_DEFAULT_PORTS = {"amqp": 5672, "pyamqp": 5672, "postgresql": 5432}


class TcpProxy:
    """A TCP proxy in front of a service (the broker, the database) that can make the service
    go away and come back.

    `cut()` drops every proxied connection and refuses new ones (the listening socket is
    closed, so a connect fails at once, as with a stopped server); `resume()` listens again
    on the same port.
    """

    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        scheme = parts.scheme.split("+")[0]  # postgresql+psycopg
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or _DEFAULT_PORTS[scheme])
        self.port = free_port()
        self._lock = threading.Lock()
        self._links: set[socket.socket] = set()  # both ends of every proxied connection
        self._listener: socket.socket | None = None

    def url(self, upstream_url: str) -> str:
        """`upstream_url` rerouted through the proxy."""
        return with_port(upstream_url, self.port)

    def start(self) -> TcpProxy:
        """Listen and proxy (again)."""
        listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        listener.settimeout(0.1)
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    resume = start

    def cut(self) -> int:
        """Drop every connection and refuse new ones; returns how many were dropped."""
        with self._lock:
            listener, self._listener = self._listener, None
            links, self._links = self._links, set()
        if listener is not None:
            listener.close()
        for sock in links:
            _shut(sock)
        return len(links) // 2

    close = cut

    @contextmanager
    def away(self) -> Iterator[int]:
        """The service away for the block (`cut`), back after it (`resume`): how many
        connections were dropped."""
        dropped = self.cut()
        try:
            yield dropped
        finally:
            self.resume()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            with self._lock:
                if self._listener is not listener:
                    return
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            server.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # cut meanwhile
                    _shut(client)
                    _shut(server)
                    return
                self._links |= {client, server}
            for src, dst in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._links -= {src, dst}
            _shut(src)
            _shut(dst)


def _shut(sock: socket.socket) -> None:
    # shutdown() wakes a thread blocked in recv() on the socket; close() alone would not.
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


# -- the deployment and its load -----------------------------------------------------------

# Short leases and sweeps: a step whose message was lost is found again within seconds.
FAST_RECOVERY = {
    "ONESTOP_STEP_LEASE_SECONDS": "5",
    "ONESTOP_SWEEP_INTERVAL_SECONDS": "1",
    "ONESTOP_RETRY_BASE_SECONDS": "0.2",
    "ONESTOP_RETRY_MAX_COUNTDOWN_SECONDS": "5",
    "ONESTOP_AGENCY_TIMEOUT_SECONDS": "5",
}
# 50–150 ms per agency call, answered within the call: steps are in flight when hit.
AGENCY_LATENCY = {"latency_ms": 50, "latency_jitter_ms": 100}

K = TypeVar("K", str, int)

SOAK_APPLICATION = "onestop-soak"  # the application_name of the soak's own sessions


class Answers:
    """What the API answered the soak's clerks, request by request (threads record at once)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_status: Counter[int | str] = Counter()  # HTTP status, or a transport error
        self.unavailable_without_retry_after = 0  # 503s that did not say when to come back

    def record(self, status: int | str, retry_after: str | None = None) -> None:
        """Count one answer (`status`: an HTTP status or the name of a transport error)."""
        with self._lock:
            self.by_status[status] += 1
            if status == 503 and not (retry_after or "").isdigit():
                self.unavailable_without_retry_after += 1

    def server_errors(self) -> Counter[int | str]:
        """The 5xx answers other than 503 (which tells a client to come back)."""
        return Counter(
            {
                s: n
                for s, n in self.by_status.items()
                if isinstance(s, int) and s >= 500 and s != 503
            }
        )


@dataclass(frozen=True)
class Audit:
    """What the database and the agencies say after a soak."""

    filings: int
    by_status: Counter[str]
    tracking_codes: frozenset[str]
    done_events: Counter[tuple[int, str]]  # (filing id, step) -> number of `done` events
    duplicates: int
    subject_duplicates: int
    effects: dict[str, int]  # agency -> keys acted on
    texts: int  # texts the SMS gateway sent (one per key: `duplicates` counts any second)
    resumed_steps: int  # claimed again while running: an attempt died, or a message came twice
    redispatched_steps: int  # sent again by the sweeper: a message was lost (or late)
    claims: dict[tuple[int, str], list[tuple[datetime, str]]]  # (filing, step) -> (at, worker)


@dataclass(frozen=True)
class Kill:
    """A worker SIGKILLed, and the steps it was in the middle of a moment before."""

    node: str  # the worker's Celery node name, up to the "@"
    at: datetime
    in_flight: frozenset[tuple[int, str]]  # (filing id, step name)

    def cut_off(self, audit: Audit) -> set[tuple[int, str]]:
        """The steps it was in the middle of that another worker took up after it died."""
        return {
            key
            for key in self.in_flight
            if any(at > self.at and not by.startswith(self.node) for at, by in audit.claims[key])
        }


class Soak:
    """One OneStop deployment (simulators, api, beat, workers) and a clerk to file through it."""

    def __init__(
        self,
        *,
        database_url: str,
        broker_url: str,
        workers: int,
        log_dir: Path,
        env: dict[str, str],
    ) -> None:
        # The soak's own look at the database, named so that it can tell its sessions from
        # the deployment's; it goes straight to the server, never through a proxy in `env`.
        self.database = Database(
            sa.engine.make_url(database_url)
            .update_query_dict({"application_name": SOAK_APPLICATION})
            .render_as_string(hide_password=False)
        )
        self.deployment = Deployment(
            workers=workers,
            api_port=free_port(),
            simulators_port=free_port(),
            log_dir=log_dir,
            env={
                # Nothing of the developer's own OneStop settings: only the soak's.
                **{k: v for k, v in os.environ.items() if not k.startswith("ONESTOP_")},
                "ONESTOP_DATABASE_URL": database_url,
                "ONESTOP_BROKER_URL": broker_url,
                **env,
            },
        )
        self.log_dir = log_dir
        self.token = ""
        self.filed: list[str] = []
        self.answers = Answers()
        self._names = trade_names()
        self._names_lock = threading.Lock()

    @property
    def workers(self) -> list[str]:
        """Names of the worker processes (running or not)."""
        return [name for name in self.deployment.commands if name.startswith("worker-")]

    def start(self) -> None:
        """Migrate, create a clerk with a token, start every process."""
        self.prepare()
        self.deployment.start()

    def prepare(self) -> None:
        """Migrate and create a clerk with a token (the processes are left to the caller)."""
        self.deployment.migrate()
        with self.database.transaction() as session:
            branch = shouguang_branch(session, "SG-ABC-01", "农业银行寿光支行", "ABC")
            clerk = staff_at(session, branch, "wangfang", "王芳")
            self.token = issue_token(session, clerk, now=datetime.now(CHINA), label="soak")

    def stop(self) -> None:
        """Stop every process and close the database."""
        self.deployment.stop()
        self.database.dispose()

    def agencies(self, **behaviour: Any) -> None:
        """Give every simulated agency the same behaviour (latency_ms=..., ...)."""
        with httpx.Client(base_url=self.deployment.agencies_url, timeout=10) as sim:
            for agency in AGENCIES:
                sim.put(f"/_sim/{agency}/behaviour", json=behaviour).raise_for_status()

    def file(
        self, count: int, *, per_second: float, first: int = 0, concurrency: int = 4
    ) -> list[str]:
        """File `count` filings over the API at about `per_second`; their tracking codes.

        Each POST carries an Idempotency-Key (`soak-<n>`, n counted from `first`), so one cut
        off mid-request, or answered 503, is simply sent again and never yields a second
        filing. Every answer is counted in `answers`.
        """
        started = time.monotonic()
        assert self.deployment.api_url

        def one(index: int) -> str:
            delay = started + index / per_second - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            with self._names_lock:
                name = next(self._names)
            payload = filing_input(company_name__trade_name=name)
            return self._post(client, payload, key=f"soak-{first + index}")

        with (
            httpx.Client(
                base_url=self.deployment.api_url,
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=30,
            ) as client,
            ThreadPoolExecutor(concurrency) as pool,
        ):
            codes = list(pool.map(one, range(count)))
        self.filed.extend(codes)
        return codes

    def _post(
        self, client: httpx.Client, payload: dict[str, Any], *, key: str, patience: float = 120
    ) -> str:
        """POST one filing until the API accepts it, as a careful client would: again after a
        transport error or a 5xx, after the Retry-After the API asks for if any."""
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            try:
                reply = client.post(
                    "/api/v1/filings", json=payload, headers={"Idempotency-Key": key}
                )
            except httpx.TransportError as error:
                self.answers.record(type(error).__name__)
                time.sleep(0.5)
                continue
            self.answers.record(reply.status_code, reply.headers.get("Retry-After"))
            if reply.status_code >= 500:
                time.sleep(float(reply.headers.get("Retry-After", 0.5)))
                continue
            assert reply.status_code in (200, 201), reply.text
            return str(reply.json()["tracking_code"])
        raise AssertionError(f"the API did not accept filing {key} within {patience:.0f} s")

    def database_sessions(self) -> Counter[str]:
        """The deployment's PostgreSQL sessions on the soak's database, by state."""
        query = sa.text(
            "SELECT coalesce(state, '') FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name <> :soak"
        )
        with self.database.connection() as conn:
            return Counter(conn.execute(query, {"soak": SOAK_APPLICATION}).scalars())

    def in_flight(self) -> dict[str, set[tuple[int, str]]]:
        """Running steps by the worker node whose claim they are under: (filing id, step name)."""
        with self.database.transaction() as session:
            rows = session.execute(
                sa.text(
                    "SELECT s.filing_id, s.name, c.detail ->> 'worker' FROM step s "
                    "CROSS JOIN LATERAL (SELECT detail FROM event e WHERE e.filing_id = s.filing_id"
                    " AND e.step = s.name AND e.kind IN ('started', 'resumed')"
                    " ORDER BY e.id DESC LIMIT 1) c WHERE s.status = 'running'"
                )
            ).all()
        running: dict[str, set[tuple[int, str]]] = {}
        for filing_id, step, worker in rows:
            running.setdefault(worker or "", set()).add((filing_id, step))
        return running

    def worker_node(self, name: str) -> str:
        """The Celery node name of a running worker process up to the "@" (named by its pid)."""
        return f"onestop-{self.deployment.processes[name].pid}@"

    def kill_mid_step(self, rng: random.Random) -> Kill | None:
        """SIGKILL a worker that is in the middle of steps and start another in its place.

        None if no worker is running a step right now.
        """
        busy = self.busy({name: self.worker_node(name) for name in self.workers})
        if not busy:
            return None
        victim = rng.choice(sorted(busy))
        kill = Kill(self.worker_node(victim), datetime.now(CHINA), busy[victim])
        self.deployment.kill(victim)  # SIGKILL: no goodbye; its unacknowledged messages return
        self.deployment.start(victim)
        return kill

    def busy(self, nodes: Mapping[K, str]) -> dict[K, frozenset[tuple[int, str]]]:
        """Of the workers whose node names begin as in `nodes`, those in the middle of steps,
        with those steps."""
        running = self.in_flight()
        busy: dict[K, frozenset[tuple[int, str]]] = {}
        for key, node in nodes.items():
            steps = frozenset().union(*(s for by, s in running.items() if by.startswith(node)))
            if steps:
                busy[key] = steps
        return busy

    def complete(self) -> int:
        """How many filings are complete."""
        with self.database.transaction() as session:
            return (
                session.scalar(
                    sa.select(sa.func.count())
                    .select_from(Filing)
                    .where(Filing.status == FilingStatus.COMPLETE)
                )
                or 0
            )

    def wait_until_complete(self, count: int, *, timeout: float) -> float:
        """Wait until `count` filings are complete; seconds waited. Fails with the stuck steps."""
        started = time.monotonic()
        while (done := self.complete()) < count:
            self.deployment.check_alive()
            if time.monotonic() - started > timeout:
                pytest.fail(
                    f"{done} of {count} filings complete after {timeout:.0f} s; "
                    f"stuck steps: {self.stuck_steps()}; logs in {self.log_dir}"
                )
            time.sleep(0.25)
        return time.monotonic() - started

    def stuck_steps(self, limit: int = 10) -> list[tuple[str, str, str, int, str | None]]:
        """Up to `limit` unfinished steps: (tracking code, step, status, attempts, last error)."""
        query = (
            sa.select(Filing.tracking_code, Step.name, Step.status, Step.attempts, Step.last_error)
            .join(Step.filing)
            .where(Step.status != StepStatus.DONE)
            .order_by(Step.id)
            .limit(limit)
        )
        with self.database.transaction() as session:
            return [(c, n, str(s), a, e) for c, n, s, a, e in session.execute(query)]

    def _wait_for_texts(self, timeout: float = 30) -> None:
        """Until no text is left to send: the last filing's last text follows its commit."""
        deadline = time.monotonic() + timeout
        pending = sa.select(sa.func.count()).where(OutboxMessage.status == OutboxStatus.PENDING)
        while True:
            with self.database.transaction() as session:
                if not session.scalar(pending) or time.monotonic() > deadline:
                    return
            time.sleep(0.1)

    def audit(self) -> Audit:
        """Count filings, steps, events and agency effects."""
        with self.database.transaction() as session:
            filings = session.execute(sa.select(Filing.tracking_code, Filing.status)).all()
            events = session.execute(
                sa.select(Event.filing_id, Event.step, Event.kind, Event.at, Event.detail)
                .where(Event.step.is_not(None))
                .order_by(Event.id)
            ).all()
        steps_with: dict[str, set[tuple[int, str]]] = {}
        claims: dict[tuple[int, str], list[tuple[datetime, str]]] = {}
        done: Counter[tuple[int, str]] = Counter()
        for filing_id, step, kind, at, detail in events:
            key = (filing_id, str(step))
            steps_with.setdefault(kind, set()).add(key)
            if kind in ("started", "resumed"):
                claims.setdefault(key, []).append((at, detail.get("worker", "")))
            elif kind == "done":
                done[key] += 1
        self._wait_for_texts()
        with httpx.Client(base_url=self.deployment.agencies_url, timeout=10) as sim:
            report = sim.get("/_sim/effects").json()
        effects = {agency: len(keys) for agency, keys in report["effects"].items()}
        return Audit(
            filings=len(filings),
            by_status=Counter(str(status) for _, status in filings),
            tracking_codes=frozenset(code for code, _ in filings),
            done_events=done,
            duplicates=int(report["duplicates"]),
            subject_duplicates=int(report["subject_duplicates"]),
            effects={a: n for a, n in effects.items() if a not in GATEWAYS},
            texts=sum(n for a, n in effects.items() if a in GATEWAYS),
            resumed_steps=len(steps_with.get("resumed", ())),
            redispatched_steps=len(steps_with.get("redispatched", ())),
            claims=claims,
        )


# The `new_soak` fixture (conftest.py): `new_soak(workers=…, broker_url=…, env=…)`.
NewSoak = Callable[..., Soak]


def assert_nothing_lost_or_duplicated(soak: Soak, audit: Audit, filed: int) -> None:
    """Every filing filed exists once and is complete; every step done once; one effect each."""
    assert len(soak.filed) == filed
    assert len(set(soak.filed)) == filed, "the API gave one tracking code twice"
    assert audit.filings == filed, f"{audit.filings} filings in the database, {filed} filed"
    assert audit.tracking_codes == set(soak.filed)
    assert audit.by_status == Counter({str(FilingStatus.COMPLETE): filed}), audit.by_status
    assert len(audit.done_events) == filed * len(graph_steps())
    twice = {key: n for key, n in audit.done_events.items() if n != 1}
    assert not twice, f"steps done more than once: {twice}"
    assert audit.duplicates == 0
    assert audit.subject_duplicates == 0
    assert audit.effects == {by_name()[name].agency: filed for name in graph_steps()}, audit.effects
    # Accepted, ready and the waybill: every soak filing is couriered, with all its materials.
    assert audit.texts == 3 * filed, audit.texts


def assert_no_server_error(soak: Soak) -> None:
    """The API never answered a server error: a 503 (come back later) said when to come back."""
    assert not soak.answers.server_errors(), soak.answers.by_status
    assert soak.answers.unavailable_without_retry_after == 0, soak.answers.by_status
