"""The base class of OneStop's Celery tasks: the runtime, the transaction, the sends after it.

A task decides in a transaction and tells others (sends messages) only once that
transaction has committed: a message never names a step the database does not say may
run, and a send that fails is found again by the sweeper.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from celery import Task
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from orchestrator import runtime
from orchestrator.db import run_after_commit
from orchestrator.notifications import outbox
from orchestrator.runtime import Runtime


@dataclass
class Transaction:
    """A task's transaction: Core statements on `conn`, and what to send once it commits."""

    conn: Connection
    sends: list[Callable[[], None]] = field(default_factory=list)

    def after_commit(self, send: Callable[[], None]) -> None:
        """Run `send` once this transaction has committed; never if it rolls back."""
        self.sends.append(send)


class OneStopTask(Task):  # type: ignore[misc]  # Celery ships no type hints
    """Owns what a task works with: the process's runtime and its transactions."""

    @property
    def rt(self) -> Runtime:
        """The process's runtime (settings, database, clock, agencies)."""
        return runtime.current()

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A transaction of Core statements, for the workers' hot path; it commits on success
        and then sends what was queued with `after_commit`, and the texts its transitions
        wrote to the outbox."""
        with self.rt.database.connection() as conn:
            outbox.take_queued(conn)  # left by a transaction that failed on this connection
            transaction = Transaction(conn)
            try:
                yield transaction
            finally:
                texts = outbox.take_queued(conn)  # texts its transitions wrote
        if texts:
            transaction.after_commit(lambda: outbox.dispatch(texts))
        run_after_commit(transaction.sends)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """An ORM session in a transaction; what `db.after_commit` queued on it is sent once
        it has committed."""
        with self.rt.database.transaction() as session:
            yield session
