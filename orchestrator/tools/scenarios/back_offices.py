"""Back offices keep office hours: an agency's work advances only in working time.

The simulators take a `TimeModel` (seconds of work starting now → seconds until it is done)
and know no calendar. This is the one a replay injects: on the replay's scaled clock, work
counts only in the office hours of working days, so nothing progresses overnight, over a
weekend or through the Spring Festival, and it does on a make-up working Saturday. A request
sent at 16:30 with 3 h of work is ready at 11:30 the next working day.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from orchestrator.calendar import WorkingCalendar
from orchestrator.clock import Clock


class OfficeHours:
    """A `TimeModel` for the simulators: work counted in office hours on a scaled clock.

    `clock` is asked on every request, because a replay sets its clock only once everything
    has started (scenario time starts when the first clerk can file).
    """

    def __init__(self, calendar: WorkingCalendar, clock: Callable[[], Clock]) -> None:
        self._calendar = calendar
        self._clock = clock

    def __call__(self, work: float) -> float:
        """Real seconds from now until `work` real seconds of office work are done."""
        clock = self._clock()
        return self.delay(clock.now(), work, clock.scale)

    def done_at(self, start: datetime, work: timedelta) -> datetime:
        """The instant `work` of office work started at `start` is done."""
        return self._calendar.add(start, work)

    def delay(self, now: datetime, work: float, scale: float) -> float:
        """Real seconds from `now` until `work` real seconds of office work are done.

        Both are real seconds on a clock running `scale` times faster than life: the work
        is `work × scale` of scenario working time, the wait is scenario time ÷ `scale`.
        """
        if work < 0:
            raise ValueError(f"work must not be negative, got {work}")
        done = self.done_at(now, timedelta(seconds=work * scale))
        return (done - now).total_seconds() / scale
