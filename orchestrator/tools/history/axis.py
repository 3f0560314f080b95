"""Working time as a line of whole seconds, for drawing a history fast.

A history draws every instant as a position on this line (working seconds since the first
office period of its first day) and turns it into a wall-clock instant with a division
and a table look-up, where `WorkingCalendar.add` walks the days: a million filings of ten
steps would otherwise spend their time in the calendar. The working time between two
instants of the line is the difference of their positions, exactly what
`WorkingCalendar.elapsed` gives (a test holds the two together).
"""

from __future__ import annotations

import bisect
from datetime import date, datetime, time, timedelta

from orchestrator.calendar import WorkingCalendar
from orchestrator.clock import CHINA


def _seconds(moment: time) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second


class WorkingAxis:
    """The working time of the working days from `first` to `last`, in seconds."""

    def __init__(self, calendar: WorkingCalendar, first: date, last: date) -> None:
        """Index the working days between `first` and `last` (inclusive)."""
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        self.days = [d for d in days if calendar.is_workday(d)]
        self._midnights = [datetime.combine(d, time(), CHINA) for d in self.days]
        self._periods = [(_seconds(s), _seconds(e)) for s, e in calendar.office_hours]
        self.day_seconds = sum(end - start for start, end in self._periods)
        self.total = len(self.days) * self.day_seconds

    def instant(self, position: int) -> datetime:
        """The wall-clock instant at `position` (a period's end is the next one's start)."""
        index, rest = divmod(position, self.day_seconds)
        if index >= len(self.days):
            raise ValueError(f"position {position} is past the axis's last working day")
        for start, end in self._periods:
            if rest < end - start:
                return self._midnights[index] + timedelta(seconds=start + rest)
            rest -= end - start
        raise AssertionError("unreachable: rest < day_seconds")

    def ending(self, position: int) -> datetime:
        """The instant at `position` as `WorkingCalendar.add` ends a span there: at the end
        of an office period rather than at the start of the next."""
        index, rest = divmod(position, self.day_seconds)
        if rest == 0 and index > 0:
            return self._midnights[index - 1] + timedelta(seconds=self._periods[-1][1])
        for start, end in self._periods:
            if rest <= end - start:
                return self._midnights[index] + timedelta(seconds=start + rest)
            rest -= end - start
        raise AssertionError("unreachable: rest < day_seconds")

    def position(self, instant: datetime) -> int:
        """The working seconds from the axis's start until `instant` (clamped to the axis)."""
        local = instant.astimezone(CHINA)
        index = bisect.bisect_left(self.days, local.date())
        if index >= len(self.days):
            return self.total
        before = index * self.day_seconds
        if self.days[index] != local.date():
            return before  # a day off: all of the earlier days' time has passed
        since = _seconds(local.time())
        for start, end in self._periods:
            before += min(max(since - start, 0), end - start)
        return before
