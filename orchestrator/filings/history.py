"""A filing's history: every transition appends its events, in the caller's transaction."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert
from sqlalchemy.orm import Session

from orchestrator.filings.models import EVENT_TABLE as _EVENT

WORKER = "worker"


def record(
    session: Session,
    filing_id: int,
    kind: str,
    *,
    at: datetime,
    actor: str = WORKER,
    step: str | None = None,
    **detail: Any,
) -> None:
    """Append an event to the filing's history (for callers working with ORM objects).

    Written at once on the session's connection, as the transitions write theirs: the
    filing row must already be flushed.
    """
    append(
        session.connection(), [event_row(filing_id, kind, at=at, step=step, actor=actor, **detail)]
    )


def event_row(
    filing_id: int,
    kind: str,
    *,
    at: datetime,
    step: str | None,
    actor: str = WORKER,
    **detail: Any,
) -> dict[str, Any]:
    """An event as the values of its row (a transition appends several in one statement)."""
    return {
        "filing_id": filing_id,
        "step": step,
        "at": at,
        "actor": actor,
        "kind": kind,
        "detail": detail,
    }


_INSERT_EVENT = insert(_EVENT)


def append(conn: Connection, events: list[dict[str, Any]]) -> None:
    """Append a transition's events in one statement."""
    if events:
        conn.execute(_INSERT_EVENT, events)


# Longer texts in a result (a seal's impression, as base64) go into the history as digests.
BRIEF_CHARS = 200


def in_brief(value: Any) -> Any:
    """`value` for the history: texts over `BRIEF_CHARS` by their SHA-256 and length only.

    The step row keeps the result whole; the history says what came, and the digest proves
    which. Copying a seal step's impressions into its event doubled what the step wrote.
    """
    if isinstance(value, str) and len(value) > BRIEF_CHARS:
        return {"sha256": hashlib.sha256(value.encode()).hexdigest(), "chars": len(value)}
    if isinstance(value, dict):
        return {key: in_brief(item) for key, item in value.items()}
    if isinstance(value, list):
        return [in_brief(item) for item in value]
    return value
