"""Database plumbing: the declarative base, engines for SQLite and PostgreSQL, sessions,
and work to do once a transaction has committed (never inside it)."""

from __future__ import annotations

import enum
import logging
import select
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Connection,
    DateTime,
    Dialect,
    Engine,
    Enum,
    TypeDecorator,
    create_engine,
    event,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from orchestrator.clock import CHINA
from orchestrator.settings import Settings, get_settings

log = logging.getLogger(__name__)


class AwareDateTime(TypeDecorator[datetime]):
    """Timezone-aware instants on every dialect, read back in China time.

    SQLite has no time zones: values are stored as naive UTC so that SQL comparisons stay
    right, and re-attached on the way out. Naive input is refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: give instants a time zone")
        return value.astimezone(UTC).replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(CHINA)


class Base(DeclarativeBase):
    """Every table; instants are stored timezone-aware, dicts and lists as JSON."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: AwareDateTime(),
        dict[str, Any]: JSON,
        list[str]: JSON,
    }


def str_enum(cls: type[enum.StrEnum]) -> Enum:
    """A portable VARCHAR column storing a StrEnum by value (no native enum to migrate)."""
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


def make_engine(url: str, *, settings: Settings | None = None, migrating: bool = False) -> Engine:
    """An engine tuned for the URL's dialect (SQLite: WAL, busy timeout, one file per path;
    PostgreSQL: a pool, and the session timeouts of `_session_timeouts`).

    `settings`: where the pool and timeouts come from (default: the process's settings).
    `migrating`: no statement timeout, for a migration may rebuild a large index.

    Its errors and logs never show a statement's parameters: they are a filing's resident
    IDs and mobile numbers as often as not, and an error's text ends up in logs.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            hide_parameters=True,
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # Threads hold a connection only inside a transaction (milliseconds), never across an
    # agency call. The pool keeps as many as a worker's step threads and branch threads use
    # at once under load: a connection beyond it (overflow) is closed when returned, so a
    # pool smaller than that use forks a PostgreSQL backend per transaction, each starting
    # with cold caches and no prepared statements (docs/benchmarks.md).
    settings = settings or get_settings()
    psycopg = parsed.get_driver_name() == "psycopg"
    libpq = parsed.get_backend_name() == "postgresql" and psycopg
    engine = create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=not psycopg,  # another driver: a SELECT 1 per checkout, as is usual
        hide_parameters=True,
        connect_args=_libpq_arguments(parsed.query, settings, migrating) if libpq else {},
    )
    if psycopg:
        event.listen(engine, "checkout", _drop_if_closed_by_server)
    return engine


def _session_timeouts(settings: Settings, *, migrating: bool = False) -> dict[str, str]:
    """The PostgreSQL settings every OneStop session starts with ("0": no limit).

    A client that hangs or vanishes inside a transaction would otherwise keep its row locks
    for as long as its socket seems open (hours, when a host drops off the network): the
    server ends that session after the idle timeout, and the sweeper, which skips locked
    steps, finds them free again.
    """
    statement = 0.0 if migrating else settings.db_statement_timeout_seconds
    return {
        "statement_timeout": _milliseconds(statement),
        "idle_in_transaction_session_timeout": _milliseconds(
            settings.db_idle_in_transaction_timeout_seconds
        ),
    }


def _milliseconds(seconds: float) -> str:
    return str(round(seconds * 1000))


def _libpq_arguments(
    query: Mapping[str, str | tuple[str, ...]], settings: Settings, migrating: bool
) -> dict[str, Any]:
    """Connection arguments: our session timeouts, then any `options` the URL gives (the
    later setting wins, so a URL can override ours), and a connect timeout unless given."""
    timeouts = _session_timeouts(settings, migrating=migrating)
    ours = [f"-c {name}={value}" for name, value in timeouts.items()]
    given = query.get("options", ())
    arguments: dict[str, Any] = {
        "options": " ".join([*ours, *([given] if isinstance(given, str) else given)])
    }
    if "connect_timeout" not in query and settings.db_connect_timeout_seconds:
        arguments["connect_timeout"] = settings.db_connect_timeout_seconds
    return arguments


def _drop_if_closed_by_server(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Make the pool discard a pooled psycopg connection the server has closed, and take
    another.

    A server that goes away (restarted, or ending the session) says so on the socket; an
    idle PostgreSQL connection is otherwise sent nothing, so a readable socket means the
    connection is done for. Looking costs one poll, where SQLAlchemy's pre-ping (SELECT 1)
    costs a round trip to the server at the start of every transaction.
    """
    if dbapi_connection.closed or dbapi_connection.broken:
        raise DisconnectionError("the connection is closed")
    socket = select.poll()  # not select.select: it fails on descriptors past 1023
    socket.register(dbapi_connection.fileno(), select.POLLIN)
    if socket.poll(0):
        raise DisconnectionError("the server closed the connection")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let pysqlite not open transactions on its own, so that "begin" below decides.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


_READ_ONLY = "onestop_read_only"


def _sqlite_begin(connection: Any) -> None:
    # Take the write lock up front: a deferred transaction that reads and then writes can
    # fail with "database is locked" under concurrent workers instead of waiting. Readers
    # need no lock: in WAL mode a deferred transaction reads a snapshot beside the writer.
    if connection.get_execution_options().get(_READ_ONLY):
        connection.exec_driver_sql("BEGIN DEFERRED")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """An engine and its session factory; one per process and URL."""

    def __init__(self, url: str, *, settings: Settings | None = None) -> None:
        self.url = url
        self.engine = make_engine(url, settings=settings)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        reading: dict[str, Any] = {_READ_ONLY: True}
        if self.engine.dialect.name == "postgresql":
            # One snapshot for the whole read: a page reads a filing, then its steps, then its
            # history, and at READ COMMITTED (each statement its own snapshot) a worker
            # committing in between showed a step at the branch under a filing not ready.
            # A read-only transaction takes no lock a writer waits for.
            reading.update(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        self._reading_sessions = sessionmaker(
            self.engine.execution_options(**reading), expire_on_commit=False
        )

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on error."""
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reads only (pages, lists, token checks) that never waits for a writer
        nor holds one up: on SQLite it reads a snapshot instead of taking the write lock that
        every `transaction` takes up front."""
        with self._reading_sessions() as session, session.begin():
            yield session

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A Core connection in a transaction that commits on success, rolls back on error.

        For the hot paths that write with Core statements only: no session, no identity map.
        """
        with self.engine.begin() as conn:
            yield conn

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


@lru_cache(maxsize=4)
def get_database(url: str | None = None) -> Database:
    """The process's database for `url` (default: the settings' URL)."""
    return Database(url or get_settings().database_url)


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run `action` once `session`'s transaction has committed; drop it on rollback."""
    session.info.setdefault("after_commit", []).append(action)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    run_after_commit(session.info.pop("after_commit", []))


def run_after_commit(actions: list[Callable[[], None]]) -> None:
    """Run what a transaction queued for after its commit (call once it has committed)."""
    for action in actions:
        try:
            action()
        except Exception:
            # The commit stands; whatever was not sent is found again by the sweeper.
            log.exception("after-commit action failed")


@event.listens_for(Session, "after_rollback")
def _drop_after_commit(session: Session) -> None:
    session.info.pop("after_commit", None)
