"""The database plumbing: on SQLite writers take the lock up front and readers never wait for
it; on PostgreSQL a pooled connection the server ended is replaced, not used, and every
session starts with the timeouts that keep a hung client or statement from holding locks."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from orchestrator.db import Database, make_engine
from orchestrator.settings import Settings


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'onestop.db'}")
    with db.connection() as conn:
        conn.execute(sa.text("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)"))
        conn.execute(sa.text("INSERT INTO note (body) VALUES ('first')"))
    yield db
    db.dispose()


def _write_in_thread(db: Database, body: str) -> threading.Thread:
    def write() -> None:
        with db.connection() as conn:
            conn.execute(sa.text("INSERT INTO note (body) VALUES (:body)"), {"body": body})

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


class TestReading:
    def test_a_reader_does_not_hold_up_a_writer(self, database: Database) -> None:
        with database.reading() as session:
            assert session.scalar(sa.text("SELECT count(*) FROM note")) == 1
            writer = _write_in_thread(database, "second")
            writer.join(timeout=5)
            assert not writer.is_alive(), "the writer waited for the reader's transaction"
            # The reader goes on seeing the snapshot it started from.
            assert session.scalar(sa.text("SELECT count(*) FROM note")) == 1
        with database.reading() as session:
            assert session.scalar(sa.text("SELECT count(*) FROM note")) == 2

    def test_a_writer_still_takes_the_lock_up_front(self, database: Database) -> None:
        # The contrast that makes the test above mean something: an ordinary transaction
        # holds the write lock from its start, so a second writer waits for it.
        with database.transaction() as session:
            session.execute(sa.text("SELECT count(*) FROM note"))
            writer = _write_in_thread(database, "second")
            writer.join(timeout=0.5)
            assert writer.is_alive()
        writer.join(timeout=5)
        assert not writer.is_alive()


class TestConnectionsTheServerEnded:
    def test_are_replaced_before_a_transaction_uses_them(self, postgres_url: str) -> None:
        # What a PostgreSQL restart or an administrator does to every pooled connection.
        db = Database(postgres_url)
        admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
        try:
            with db.connection() as conn:
                ended = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
            with admin.connect() as conn:
                conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": ended})
                _wait_until_gone(conn, ended)
            with db.connection() as conn:
                serving = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
            assert serving != ended
        finally:
            db.dispose()
            admin.dispose()


class TestSessionTimeouts:
    def test_every_session_starts_with_the_configured_timeouts(self, postgres_url: str) -> None:
        settings = Settings(
            db_statement_timeout_seconds=12, db_idle_in_transaction_timeout_seconds=34
        )
        db = Database(postgres_url, settings=settings)
        try:
            assert _shown(db.engine) == {
                "statement_timeout": "12s",
                "idle_in_transaction_session_timeout": "34s",
            }
        finally:
            db.dispose()

    def test_a_statement_that_runs_too_long_is_cancelled(self, postgres_url: str) -> None:
        db = Database(postgres_url, settings=Settings(db_statement_timeout_seconds=0.5))
        started = time.monotonic()
        try:
            with (
                pytest.raises(sa.exc.OperationalError, match="statement timeout"),
                db.connection() as conn,
            ):
                conn.execute(sa.text("SELECT pg_sleep(30)"))
        finally:
            db.dispose()
        assert time.monotonic() - started < 10

    def test_migrations_run_without_a_statement_timeout(self, postgres_url: str) -> None:
        settings = Settings(
            db_statement_timeout_seconds=12, db_idle_in_transaction_timeout_seconds=34
        )
        engine = make_engine(postgres_url, settings=settings, migrating=True)
        try:
            assert _shown(engine) == {
                "statement_timeout": "0",
                "idle_in_transaction_session_timeout": "34s",
            }
        finally:
            engine.dispose()

    def test_options_given_in_the_url_win(self, postgres_url: str) -> None:
        url = sa.engine.make_url(postgres_url).update_query_dict(
            {"options": "-c statement_timeout=1min"}
        )
        engine = make_engine(url.render_as_string(hide_password=False))
        try:
            assert _shown(engine)["statement_timeout"] == "1min"
        finally:
            engine.dispose()


def _shown(engine: sa.Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {
            name: conn.execute(sa.text(f"SHOW {name}")).scalar_one()
            for name in ("statement_timeout", "idle_in_transaction_session_timeout")
        }


def _wait_until_gone(conn: sa.Connection, pid: int) -> None:
    gone = sa.text("SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = :pid)")
    deadline = time.monotonic() + 10
    while not conn.execute(gone, {"pid": pid}).scalar_one():
        assert time.monotonic() < deadline, f"backend {pid} did not end"
        time.sleep(0.02)


class TestAReadOnPostgres:
    def test_sees_one_snapshot_however_many_statements_it_takes(self, postgres_url: str) -> None:
        """A page reads a filing, then its steps: a writer committing in between must not
        show it half of each."""
        db = Database(postgres_url)
        table = f"note_{time.monotonic_ns()}"
        try:
            with db.connection() as conn:
                conn.execute(sa.text(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, body TEXT)"))
                conn.execute(sa.text(f"INSERT INTO {table} VALUES (1, 'before')"))
            with db.reading() as session:
                first = session.execute(sa.text(f"SELECT body FROM {table}")).scalar_one()
                with db.connection() as conn:
                    conn.execute(sa.text(f"UPDATE {table} SET body = 'after'"))
                again = session.execute(sa.text(f"SELECT body FROM {table}")).scalar_one()
                with pytest.raises(sa.exc.InternalError):  # and it writes nothing
                    session.execute(sa.text(f"UPDATE {table} SET body = 'reader'"))
            assert first == again == "before"
        finally:
            with db.connection() as conn:
                conn.execute(sa.text(f"DROP TABLE {table}"))
            db.dispose()
