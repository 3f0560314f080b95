"""Working time a filing waits for the applicant's 容缺 materials, credited to its deadline.

A step blocked on a missing material waits for the applicant, not for the branch or an
agency: that working time does not count against the committed deadline. It is credited
when a step unblocks, in the supplement's transaction, exactly: the filing's deadline moves
by the working time (on the calendar) its steps were blocked, with a `deadline_extended`
event saying by how much. Crediting at the unblock rather than as it accrues keeps the
deadline a fact that changes once per supplement (and no beat job writes it); while a step
is still blocked the tracker adds the time accrued so far when it judges the SLA
(`accrued`), so a filing waiting for its applicant is never called breached for it.

Steps blocked at the same time count once: the filing's blocked time is the union of its
steps' blocked intervals. `blocked_counted_until` is how far that union has been credited;
every step still blocked at an unblock has been blocked up to now, so the union since the
earliest of them is one interval, of which only the part after that mark is new.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, select, update

from orchestrator.calendar import WorkingCalendar
from orchestrator.filings.history import append, event_row
from orchestrator.filings.models import EVENT_TABLE as _EVENT
from orchestrator.filings.models import FILING_TABLE as _FILING

EXTENDED = "deadline_extended"


def blocked_since(conn: Connection, filing_id: int, steps: Iterable[str]) -> dict[str, datetime]:
    """When each of `steps` (blocked now) was last blocked, from the filing's history."""
    names = list(steps)
    if not names:
        return {}
    rows = conn.execute(
        select(_EVENT.c.step, func.max(_EVENT.c.at))
        .where(
            _EVENT.c.filing_id == filing_id, _EVENT.c.kind == "blocked", _EVENT.c.step.in_(names)
        )
        .group_by(_EVENT.c.step)
    )
    return {step: at for step, at in rows}


def uncounted(
    calendar: WorkingCalendar,
    starts: Iterable[datetime],
    counted_until: datetime | None,
    now: datetime,
) -> tuple[datetime | None, timedelta]:
    """Where the blocked time not yet credited begins, and its working time up to `now`:
    from the earliest of `starts` (steps blocked now), or the mark if it is later."""
    earliest = min(starts, default=None)
    if earliest is None:
        return None, timedelta(0)
    if counted_until is not None and counted_until > earliest:
        earliest = counted_until
    return earliest, calendar.elapsed(earliest, now)


def credit(
    conn: Connection,
    filing_id: int,
    *,
    blocked: Iterable[str],
    unblocked: Iterable[str],
    now: datetime,
    calendar: WorkingCalendar,
    actor: str,
) -> timedelta:
    """`unblocked` leave the block (of the filing's `blocked` steps, which they are among):
    move the deadline by the working time not credited yet; returns it.

    The caller holds the filing's rows (steps, then the filing) under lock.
    """
    leaving = list(unblocked)
    if not leaving:
        return timedelta(0)
    starts = blocked_since(conn, filing_id, blocked)
    row = conn.execute(
        select(_FILING.c.deadline_at, _FILING.c.blocked_seconds, _FILING.c.blocked_counted_until)
        .where(_FILING.c.id == filing_id)
        .with_for_update(key_share=True)
    ).one()
    since, worked = uncounted(calendar, starts.values(), row.blocked_counted_until, now)
    seconds = int(worked.total_seconds())
    changes: dict[str, object] = {"blocked_counted_until": now}
    if seconds > 0:
        deadline = calendar.add(row.deadline_at, timedelta(seconds=seconds))
        changes.update(deadline_at=deadline, blocked_seconds=row.blocked_seconds + seconds)
        extended = event_row(
            filing_id,
            EXTENDED,
            at=now,
            step=None,
            actor=actor,
            working_seconds=seconds,
            working_hours=round(seconds / 3600, 2),
            blocked_from=since.isoformat() if since else None,
            steps=sorted(leaving),
            deadline_from=row.deadline_at.isoformat(),
            deadline_at=deadline.isoformat(),
        )
        append(conn, [extended])
    conn.execute(update(_FILING).where(_FILING.c.id == filing_id).values(**changes))
    return timedelta(seconds=seconds)
