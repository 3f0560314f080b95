"""Working durations as written in policies and settings: `3d`, `0.5d`, `4h`, `30m`, `1d4h`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_HALF_EVEN, Decimal

_NUMBER = r"([0-9]+(?:\.[0-9]+)?)"
# Units in a fixed order, each at most once, so that "1d4h" reads one way only.
_DURATION = re.compile(
    rf"^(?:{_NUMBER}\s*d)?\s*(?:{_NUMBER}\s*h)?\s*(?:{_NUMBER}\s*m)?$", re.IGNORECASE
)
_MICROSECONDS_PER_HOUR = Decimal(3_600_000_000)
_MICROSECONDS_PER_MINUTE = Decimal(60_000_000)


@dataclass(frozen=True)
class WorkingDuration:
    """An amount of working time; days are worth the calendar's office hours per day."""

    days: Decimal = field(default=Decimal(0))
    hours: Decimal = field(default=Decimal(0))
    minutes: Decimal = field(default=Decimal(0))

    def __post_init__(self) -> None:
        """Normalise ints to Decimal and refuse negative or non-finite parts."""
        for name in ("days", "hours", "minutes"):
            value = Decimal(getattr(self, name))
            if not value.is_finite() or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value}")
            object.__setattr__(self, name, value)

    def to_timedelta(self, day_length: timedelta) -> timedelta:
        """The working time this stands for when one working day lasts `day_length`."""
        day_us = Decimal(day_length // timedelta(microseconds=1))
        total = (
            self.days * day_us
            + self.hours * _MICROSECONDS_PER_HOUR
            + self.minutes * _MICROSECONDS_PER_MINUTE
        )
        return timedelta(microseconds=int(total.to_integral_value(rounding=ROUND_HALF_EVEN)))

    def __str__(self) -> str:
        """The canonical text form, e.g. `1d4h` (and `0m` for nothing)."""
        parts = [
            f"{_plain(value)}{unit}"
            for value, unit in ((self.days, "d"), (self.hours, "h"), (self.minutes, "m"))
            if value
        ]
        return "".join(parts) or "0m"


def _plain(value: Decimal) -> str:
    """`Decimal('0.50')` → `0.5`, `Decimal('3')` → `3`."""
    return format(value.normalize(), "f")


def parse_duration(text: str) -> WorkingDuration:
    """Parse `3d`, `0.5d`, `4h`, `30m`, `1d4h` (units d, h, m in that order) or raise ValueError."""
    match = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if match is None or not any(match.groups()):
        raise ValueError(
            f"无效的工作时长 {text!r}：应写成 3d、0.5d、4h、30m 或 1d4h / "
            f"invalid working duration {text!r}: expected e.g. 3d, 0.5d, 4h, 30m or 1d4h "
            "(d = working day, h = hour, m = minute, in that order)"
        )
    days, hours, minutes = (Decimal(group) if group else Decimal(0) for group in match.groups())
    return WorkingDuration(days=days, hours=hours, minutes=minutes)
