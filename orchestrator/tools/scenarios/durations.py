"""Scenario durations as written in YAML: `45m`, `2h`, `1h30m`, `1.5s`, `300ms`, `0s`.

These are spans of *scenario* (wall-clock) time, not working time: the working-day
calendar has its own `3d`/`4h` durations in `orchestrator.calendar`. Units run from the
largest to the smallest, each at most once, so that a text reads one way only.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer
from pydantic_core import PydanticCustomError

_NUMBER = r"([0-9]+(?:\.[0-9]+)?)"
_DURATION = re.compile(
    rf"^(?:{_NUMBER}\s*h)?\s*(?:{_NUMBER}\s*m(?!s))?\s*(?:{_NUMBER}\s*s)?\s*(?:{_NUMBER}\s*ms)?$"
)
_MICROSECONDS = (3_600_000_000, 60_000_000, 1_000_000, 1_000)  # per h, m, s, ms


def parse_duration(text: str) -> timedelta:
    """`45m` → 45 minutes; units h, m, s, ms in that order; raises ValueError otherwise."""
    match = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if match is None or not any(match.groups()):
        raise ValueError(f"invalid duration {text!r}: expected e.g. 45m, 2h, 1h30m, 1.5s, 300ms")
    micros = sum(
        Decimal(group) * per
        for group, per in zip(match.groups(), _MICROSECONDS, strict=True)
        if group
    )
    return timedelta(microseconds=int(micros))


def format_duration(value: timedelta) -> str:
    """The text of `value` that `parse_duration` reads back: `1h30m`, `1.5s`, `300ms`."""
    micros = value // timedelta(microseconds=1)
    if micros < 0:
        raise ValueError("a scenario duration is never negative")
    parts: list[str] = []
    for unit, per in zip(("h", "m"), _MICROSECONDS[:2], strict=True):
        whole, micros = divmod(micros, per)
        if whole:
            parts.append(f"{whole}{unit}")
    if micros >= _MICROSECONDS[2] or (micros and micros % 1000):
        parts.append(_plain(Decimal(micros) / _MICROSECONDS[2]) + "s")
    elif micros:
        parts.append(_plain(Decimal(micros) / 1000) + "ms")
    return "".join(parts) or "0s"


def _plain(value: Decimal) -> str:
    """`Decimal('1.50')` → `1.5`, `Decimal('300')` → `300`."""
    return format(value.normalize(), "f")


def _validate(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, str):
        raise PydanticCustomError(
            "duration_type",
            "时长须写成带单位的文本，如“45m”“2h”“0s” / "
            "a duration is text with a unit, e.g. 45m, 2h or 0s (got {value})",
            {"value": repr(value)},
        )
    try:
        return parse_duration(value)
    except ValueError:
        raise PydanticCustomError(
            "duration_format",
            "无效的时长“{value}”：应写成45m、2h、1h30m、1.5s或300ms / "
            "invalid duration “{value}”: expected e.g. 45m, 2h, 1h30m, 1.5s or 300ms",
            {"value": value},
        ) from None


Duration = Annotated[
    timedelta,
    BeforeValidator(_validate),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]
"""A non-negative span of scenario time, written `45m`, `2h`, `1h30m`, `1.5s` or `300ms`."""
