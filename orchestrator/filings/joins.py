"""Joins in the database: a step that is over (done, or withdrawn) takes one need off each
of its successors, and those whose last need it was are made ready, in the same transaction.

One conditional update per join. The row lock it takes serialises the predecessors of a
join: each sees the count the previous one left (PostgreSQL re-reads a row that was updated
meanwhile; SQLite runs one writer at a time), so exactly one of them sees it reach zero.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Update, and_, bindparam, case, literal_column, update

from orchestrator.filings.history import event_row
from orchestrator.filings.lifecycle import STEP
from orchestrator.filings.models import STEP_TABLE as _STEP
from orchestrator.workflow import stamped

# A join takes a waiting step to ready once its last predecessor is done.
(_JOINING,) = STEP.sources("ready")
_JOINED = STEP.target("ready")


def join_next(
    conn: Connection,
    filing_id: int,
    name: str,
    graph: str,
    *,
    now: datetime,
    lease_until: datetime,
    events: list[dict[str, Any]],
) -> list[tuple[int, str]]:
    """Step `name` is over (done, or withdrawn): join its successors; those made ready."""
    successors = stamped(graph).successors(name)
    promoted = _join_successors(conn, filing_id, successors, lease_until=lease_until)
    events.extend(event_row(filing_id, "ready", at=now, step=ready) for _, ready in promoted)
    return promoted


def _join_successors(
    conn: Connection, filing_id: int, names: tuple[str, ...], *, lease_until: datetime
) -> list[tuple[int, str]]:
    if not names:
        return []
    # SET expressions read the row's values from before the update.
    rows = conn.execute(_join_of(names), {"of_filing": filing_id, "lease": lease_until})
    return sorted(
        (row.id, row.name) for row in rows if row.pending_needs == 0 and row.status == _JOINED
    )


@cache
def _join_of(names: tuple[str, ...]) -> Update:
    promote = and_(_STEP.c.pending_needs == 1, _STEP.c.status == _JOINING)
    return (
        update(_STEP)
        .where(
            _STEP.c.filing_id == bindparam("of_filing"),
            _STEP.c.name.in_([literal_column(f"'{name}'") for name in names]),
        )
        .values(
            pending_needs=_STEP.c.pending_needs - 1,
            status=case((promote, _JOINED), else_=_STEP.c.status),
            next_check_at=case((promote, bindparam("lease")), else_=_STEP.c.next_check_at),
        )
        .returning(_STEP.c.id, _STEP.c.name, _STEP.c.status, _STEP.c.pending_needs)
    )
