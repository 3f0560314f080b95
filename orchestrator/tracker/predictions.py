"""Honest completion estimates: when a filing will be ready and complete, and how wrong past
estimates were.

A filing's steps each take, in working time, about what that step has recently taken in
its district (a rolling median of the last `WINDOW` done; the district's budget for the
step until `MIN_SAMPLES` have been seen). Walking the filing's graph from its live step
states gives when each open step should end, hence when the last agency step is done
(ready) and delivery with it (complete). The durations are absorbed incrementally: the beat
job reads the `done` events after its cursor, never the history again. Every prediction the
beat job makes is kept (`Prediction`), and `error_report` says by how much they missed.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.calendar import WorkingCalendar, parse_duration
from orchestrator.filings.models import EVENT_TABLE as _EVENT
from orchestrator.filings.models import FILING_TABLE as _FILING
from orchestrator.filings.models import STEP_TABLE as _STEP
from orchestrator.filings.models import StepStatus
from orchestrator.reference import load_reference
from orchestrator.tracker.models import Prediction, StepDuration, TrackerCursor
from orchestrator.workflow import HANDOVER_STEP, by_name

WINDOW = 51  # the recent durations a median is taken over
MIN_SAMPLES = 5  # fewer than this, and the district's budget is the better guess
# A step past its expected duration is taken to need this share of it again: late steps
# are late for a reason (a slow tail), "any minute now" would be a promise nobody made.
OVERRUN_SHARE = 0.25
DURATIONS_CURSOR = "step_durations"

Expected = Callable[[str], timedelta]  # a step's expected working time
MIN_LATER = 3  # recent durations longer than a step has run so far, to judge what it needs


@dataclass(frozen=True)
class Durations:
    """What the steps of one district's filings take: the expected working time of each,
    and the recent durations (working seconds) it was taken from, if any."""

    expected: Expected
    samples: Mapping[str, Sequence[int]] = field(default_factory=dict)

    def remaining(self, step: str, spent: timedelta) -> timedelta:
        """What a step that has run `spent` still needs: the median of the recent durations
        longer than that, less `spent` (a step late for a slow tail's reasons takes as long
        as the slow tail); without enough of them, what is left of the expected time, and
        at least `OVERRUN_SHARE` of it."""
        seconds = spent.total_seconds()
        later = [sample for sample in self.samples.get(step, ()) if sample > seconds]
        if len(later) >= MIN_LATER:
            return timedelta(seconds=statistics.median(later)) - spent
        expected = self.expected(step)
        return max(expected - spent, expected * OVERRUN_SHARE)


@dataclass(frozen=True)
class StepState:
    """What the prediction reads of a step."""

    name: str
    status: StepStatus
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class Forecast:
    """Predicted ready (every agency step done) and complete (handed over) instants."""

    ready_at: datetime
    complete_at: datetime


# Statuses of a step that has begun and is still under way (its start says how far along).
_UNDER_WAY = (StepStatus.RUNNING, StepStatus.SUBMITTED, StepStatus.AT_BRANCH)


def _step_end(
    name: str,
    step: StepState | None,
    begin: datetime,
    durations: Durations,
    *,
    now: datetime,
    calendar: WorkingCalendar,
) -> datetime:
    """When `step` should end, if it may begin at `begin` (its needs' end, or now)."""
    if step is None or step.status in (StepStatus.DONE, StepStatus.CANCELLED):
        return step.finished_at if step and step.finished_at else now
    if step.status in _UNDER_WAY and step.started_at is not None:
        spent = calendar.elapsed(step.started_at, now)
        return calendar.add(now, durations.remaining(name, spent))
    # Waiting, ready, blocked (as if its material came now) or rejected (as if corrected now).
    return calendar.add(max(begin, now), durations.expected(name))


def forecast(
    graph: Sequence[Sequence[Any]],
    steps: Mapping[str, StepState],
    durations: Durations | Expected,
    *,
    now: datetime,
    calendar: WorkingCalendar,
    ready_at: datetime | None = None,
) -> Forecast:
    """Predicted ready and complete instants of a filing with `graph` (`[[step, [needs]]]`,
    in topological order) whose steps are in `steps`; `ready_at` if it is ready already."""
    if not isinstance(durations, Durations):
        durations = Durations(durations)
    ends: dict[str, datetime] = {}
    handover_needs: Sequence[str] = ()
    for name, needs in graph:
        begin = max((ends[need] for need in needs), default=now)
        if name == HANDOVER_STEP:
            handover_needs = needs
        step = steps.get(name)
        ends[name] = _step_end(name, step, begin, durations, now=now, calendar=calendar)
    ready = ready_at or max((ends[need] for need in handover_needs), default=now)
    complete = ends.get(HANDOVER_STEP, ready)
    return Forecast(ready_at=ready, complete_at=max(complete, ready))


# Expected durations ---------------------------------------------------------------------


def expected_durations(session: Session, calendar: WorkingCalendar) -> Callable[[str], Durations]:
    """`for_district(code)`: the durations of the steps in a district, expected from the
    recent ones (read once here) or else from the district's budget for each."""
    medians: dict[tuple[str, str], timedelta] = {}
    samples: dict[str, dict[str, Sequence[int]]] = defaultdict(dict)
    for row in session.scalars(select(StepDuration)):
        if len(row.samples) >= MIN_SAMPLES:
            medians[row.district_code, row.step] = timedelta(seconds=row.median_seconds)
            samples[row.district_code][row.step] = tuple(row.samples)
    reference = load_reference()
    budgets: dict[tuple[str, str], timedelta] = {}

    def for_district(district_code: str) -> Durations:
        def expected(step: str) -> timedelta:
            key = (district_code, step)
            if key in medians:
                return medians[key]
            if key not in budgets:
                budget = parse_duration(reference.step_budget(district_code, step))
                budgets[key] = calendar.to_timedelta(budget)
            return budgets[key]

        return Durations(expected, samples.get(district_code, {}))

    return for_district


def absorb_done_steps(
    session: Session, *, calendar: WorkingCalendar, now: datetime, batch: int = 2000
) -> int:
    """Add the working time of every step done since the last call to its district's rolling
    window; returns how many. Reads the `done` events after the cursor (the events' primary
    key), so its cost grows with the steps done since, not with the history.

    The cursor row is locked for the pass: two beat runs at once do not count a step twice.
    """
    cursor = session.get(TrackerCursor, DURATIONS_CURSOR, with_for_update=True)
    if cursor is None:
        cursor = TrackerCursor(name=DURATIONS_CURSOR, position=0)
        session.add(cursor)
        session.flush()
    rows = session.execute(
        select(
            _EVENT.c.id,
            _FILING.c.district_code,
            _STEP.c.name,
            _STEP.c.started_at,
            _STEP.c.finished_at,
        )
        .join(_FILING, _FILING.c.id == _EVENT.c.filing_id)
        .join(_STEP, (_STEP.c.filing_id == _EVENT.c.filing_id) & (_STEP.c.name == _EVENT.c.step))
        .where(_EVENT.c.id > cursor.position, _EVENT.c.kind == "done")
        .order_by(_EVENT.c.id)
        .limit(batch)
    ).all()
    if not rows:
        return 0
    samples: dict[tuple[str, str], list[int]] = defaultdict(list)
    for row in rows:
        if row.started_at is not None and row.finished_at is not None:
            worked = calendar.elapsed(row.started_at, row.finished_at)
            samples[row.district_code, row.name].append(int(worked.total_seconds()))
    for (district_code, step), seconds in samples.items():
        _add_samples(session, district_code, step, seconds, now=now)
    cursor.position = rows[-1].id
    session.flush()
    return len(rows)


def _add_samples(
    session: Session, district_code: str, step: str, seconds: list[int], *, now: datetime
) -> None:
    row = session.get(StepDuration, (district_code, step))
    if row is None:
        agency = by_name()[step].agency if step in by_name() else step
        row = StepDuration(district_code=district_code, step=step, agency=agency, samples=[],
                           median_seconds=0, count=0, updated_at=now)  # fmt: skip
        session.add(row)
    window = [*row.samples, *seconds][-WINDOW:]
    row.samples = window
    row.median_seconds = int(statistics.median(window))
    row.count += len(seconds)
    row.updated_at = now


# Prediction error -------------------------------------------------------------------------


def _percentile(values: Sequence[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def absolute_error_hours(calendar: WorkingCalendar, predicted: datetime, actual: datetime) -> float:
    """How far `predicted` was from `actual`, in working hours."""
    early, late = sorted((predicted, actual))
    return calendar.elapsed(early, late).total_seconds() / 3600


def _summary(errors: Sequence[float]) -> dict[str, Any]:
    if not errors:
        return {"count": 0, "median_hours": None, "p90_hours": None}
    return {
        "count": len(errors),
        "median_hours": round(_percentile(errors, 50), 3),
        "p90_hours": round(_percentile(errors, 90), 3),
    }


def error_report(
    session: Session,
    calendar: WorkingCalendar,
    *,
    since: datetime | None = None,
    district_code: str | None = None,
) -> dict[str, Any]:
    """Median and p90 absolute error, in working hours, of the ready times predicted for
    filings now ready (made from `since`, in a district if given): over every prediction,
    and over each filing's first one (what the clerk saw soonest)."""
    query = (
        select(Prediction.filing_id, Prediction.made_at, Prediction.ready_at, _FILING.c.ready_at)
        .join(_FILING, _FILING.c.id == Prediction.filing_id)
        .where(_FILING.c.ready_at.is_not(None), Prediction.made_at <= _FILING.c.ready_at)
        .order_by(Prediction.filing_id, Prediction.made_at, Prediction.id)
    )
    if since is not None:
        query = query.where(Prediction.made_at >= since)
    if district_code is not None:
        query = query.where(_FILING.c.district_code == district_code)
    every: list[float] = []
    first: dict[int, float] = {}
    for filing_id, _made, predicted, actual in session.execute(query):
        error = absolute_error_hours(calendar, predicted, actual)
        every.append(error)
        first.setdefault(filing_id, error)
    return {
        "filings": len(first),
        "every_prediction": _summary(every),
        "first_prediction": _summary(list(first.values())),
    }


def predictions_of(session: Session, filing_ids: Iterable[int]) -> dict[int, list[Prediction]]:
    """The predictions made for each filing, oldest first."""
    found: dict[int, list[Prediction]] = defaultdict(list)
    ids = list(filing_ids)
    if ids:
        for row in session.scalars(
            select(Prediction).where(Prediction.filing_id.in_(ids)).order_by(Prediction.id)
        ):
            found[row.filing_id].append(row)
    return found
