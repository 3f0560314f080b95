"""Every status change a step or a filing may make, as one table, and the check against it.

Each row is an event of the filing's history and the change it makes: from which statuses,
to which status. A step's events name the step, a filing's name none. An event takes each
source status to one status only, so a filing's history replays to its statuses.

`transitions.py` makes every change, and every change passes `Lifecycle.move`: the
statements a worker runs for every step are built once with their conditions (the statuses
a row must be in) taken from here and checked here at import; a change decided from a
status read in Python is checked when it is made. Nothing else writes a status but the
filing's acceptance, which creates it accepted, with its steps waiting (or ready, if they
wait for none).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from orchestrator.filings.models import FilingStatus, StepStatus

Status = TypeVar("Status", bound=enum.StrEnum)


class IllegalTransition(RuntimeError):
    """A status change outside the table: a bug in OneStop, never a client's mistake."""


@dataclass(frozen=True)
class Row(Generic[Status]):
    """One line of the table: the event, the statuses it applies to, and the status after."""

    event: str
    sources: tuple[Status, ...]
    target: Status


class Lifecycle(Generic[Status]):
    """The allowed changes of one kind of record (steps, or filings), by event."""

    def __init__(self, kind: str, rows: Iterable[Row[Status]]) -> None:
        self.kind = kind
        self.rows = tuple(rows)
        moves: dict[tuple[str, Status], Status] = {}
        for row in self.rows:
            for source in row.sources:
                if (row.event, source) in moves:
                    raise ValueError(f"{kind}: {row.event} from {source} is declared twice")
                moves[row.event, source] = row.target
        self._moves: Mapping[tuple[str, Status], Status] = moves

    @property
    def events(self) -> frozenset[str]:
        """Every event that changes (or may change) a status of this kind."""
        return frozenset(row.event for row in self.rows)

    def move(self, event: str, source: Status) -> Status:
        """The status `event` takes a record in `source` to; IllegalTransition if none."""
        target = self._moves.get((event, source))
        if target is None:
            raise IllegalTransition(f"{self.kind} {event}: not allowed from {source.value}")
        return target

    def sources(self, event: str, *, only: Iterable[Status] | None = None) -> tuple[Status, ...]:
        """The statuses `event` applies to (`only` those, each checked): a statement's condition.

        Called when the statement is built, so a statement whose condition lets a status
        through that the table does not fails at import, not in a worker.
        """
        allowed = tuple(source for (name, source) in self._moves if name == event)
        if not allowed:
            raise IllegalTransition(f"{self.kind}: no event {event!r} in the table")
        if only is None:
            return allowed
        chosen = tuple(only)
        for source in chosen:
            self.move(event, source)
        return chosen

    def target(self, event: str) -> Status:
        """The one status `event` leads to (IllegalTransition if it leads to several)."""
        targets = {row.target for row in self.rows if row.event == event}
        if len(targets) != 1:
            raise IllegalTransition(f"{self.kind} {event}: leads to {sorted(targets)}, not one")
        return targets.pop()


S, F = StepStatus, FilingStatus  # short names, for the table only

# fmt: off
STEP: Lifecycle[StepStatus] = Lifecycle("step", [
    #   event              from                                   to
    Row("ready",           (S.WAITING,),                          S.READY),      # last need done
    Row("started",         (S.READY,),                            S.RUNNING),    # a worker took it
    Row("resumed",         (S.RUNNING,),                          S.RUNNING),    # redelivered, or
                                                                                 # its lease ran out
    Row("submitted",       (S.RUNNING,),                          S.SUBMITTED),  # answer later
    Row("retry_scheduled", (S.RUNNING,),                          S.READY),      # transient error
    Row("retry_scheduled", (S.SUBMITTED,),                        S.SUBMITTED),  # asking failed
    Row("redispatched",    (S.READY, S.RUNNING),                  S.READY),      # the sweeper
    Row("blocked",         (S.READY, S.RUNNING, S.SUBMITTED),     S.BLOCKED),    # 容缺 material
    Row("unblocked",       (S.BLOCKED,),                          S.READY),      # supplemented
    Row("at_branch",       (S.RUNNING,),                          S.AT_BRANCH),  # branch pickup
    # From ready too: a late outcome of an attempt the sweeper gave up on still lands.
    Row("done",            (S.RUNNING, S.SUBMITTED, S.AT_BRANCH, S.READY), S.DONE),
    Row("rejected",        (S.RUNNING, S.SUBMITTED),              S.REJECTED),   # on the merits
    Row("resubmitted",     (S.REJECTED,),                         S.READY),      # corrected
    # A 容缺 material past due: the branch lets the filing go on without the step it blocks.
    Row("step_withdrawn",  (S.BLOCKED,),                          S.CANCELLED),
    # Cancelled or withdrawn before the filing is ready (so never at the branch).
    Row("cancelled",       (S.WAITING, S.READY, S.RUNNING, S.SUBMITTED, S.BLOCKED, S.REJECTED),
                                                                  S.CANCELLED),
])

FILING: Lifecycle[FilingStatus] = Lifecycle("filing", [
    #   event              from                                   to
    Row("filing_ready",    (F.ACCEPTED,),                         F.READY),      # steps all done
    Row("complete",        (F.READY,),                            F.COMPLETE),   # handed over
    Row("action_required", (F.ACCEPTED, F.READY, F.ACTION_REQUIRED), F.ACTION_REQUIRED),  # rejected
    Row("resubmitted",     (F.ACTION_REQUIRED,),                  F.ACCEPTED),   # runs again
    Row("cancelled",       (F.ACCEPTED, F.ACTION_REQUIRED),       F.CANCELLED),  # by the branch
    Row("withdrawn",       (F.ACCEPTED, F.ACTION_REQUIRED),       F.CANCELLED),  # by the applicant
])
# fmt: on
del S, F
