"""One clock for every deadline, event and report: real, or scaled for scenario replay.

A scaled clock maps the real instant it was started at onto a scenario instant (`origin`)
and then runs `scale` times faster, so a working day of agency work replays in minutes
and still lands on the right working days and office hours.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Clock:
    """`now()` in China time; `scale` scenario seconds pass per real second.

    Processes of one deployment share `origin`, `scale` and `real_start` (the real Unix
    time that `origin` maps to), so that their clocks agree.
    """

    origin: datetime | None = None
    scale: float = 1.0
    real_start: float = field(default_factory=time.time)

    def now(self) -> datetime:
        """The current instant on this clock, timezone-aware (China time)."""
        real_now = time.time()
        if self.origin is None and self.scale == 1.0:
            return datetime.fromtimestamp(real_now, CHINA)
        origin = self.origin or datetime.fromtimestamp(self.real_start, CHINA)
        return (origin + timedelta(seconds=(real_now - self.real_start) * self.scale)).astimezone(
            CHINA
        )

    def after(self, real_seconds: float) -> datetime:
        """The clock's instant `real_seconds` of real time from now."""
        return self.now() + timedelta(seconds=real_seconds * self.scale)

    def real_seconds_until(self, instant: datetime) -> float:
        """Real seconds until the clock shows `instant` (0 if it is past)."""
        return max(0.0, (instant - self.now()).total_seconds() / self.scale)
