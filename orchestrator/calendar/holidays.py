"""The State Council's holiday schedules as data: pydantic models and the YAML loader.

`holidays.yaml` (shipped inside this package) is the authority at run time; a new year
is one more `schedules` entry. Everything that can be checked without knowing the
future is checked here, so that a typo fails loudly at start-up, not in a deadline.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime, timedelta
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated, Any, Self

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from orchestrator.calendar.statutory import statutory_days_off

DATA_FILE_NAME = "holidays.yaml"

# A notice may move work or rest across New Year (the 2023 notice gave 2022-12-31 off,
# the 2012 one made 2011-12-31 a working Saturday), so dates may stray this far.
_YEAR_SPILL = timedelta(days=31)

_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class HolidayDataError(ValueError):
    """The holiday data file is missing, unreadable or inconsistent."""


def _as_day(value: object) -> object:
    """Accept a YAML date or an ISO `YYYY-MM-DD` string; refuse datetimes and numbers."""
    if isinstance(value, datetime):
        raise ValueError(f"expected a date (YYYY-MM-DD) without a time, got {value!r}")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    # Anything else (an int would otherwise be read as a Unix timestamp) is a typo.
    raise ValueError(f"expected a date written YYYY-MM-DD, got {value!r}")


Day = Annotated[date, BeforeValidator(_as_day)]


class _Strict(BaseModel):
    """Frozen, and unknown keys are errors (a misspelt key must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Notice(_Strict):
    """The notice that published a year's schedule."""

    title: str = Field(min_length=1)
    published: Day
    document_number: str | None = None


class DayRange(_Strict):
    """An inclusive range of dates."""

    first: Day
    last: Day

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.last < self.first:
            raise ValueError(f"last ({self.last}) is before first ({self.first})")
        return self

    def days(self) -> Iterator[date]:
        """Every date of the range, in order."""
        day = self.first
        while day <= self.last:
            yield day
            day += timedelta(days=1)

    def day_count(self) -> int:
        """Number of days in the range."""
        return (self.last - self.first).days + 1


class HolidayPeriod(_Strict):
    """One numbered item of a notice: the days off and the weekend days worked instead."""

    name: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    days_off: DayRange
    total_days: int = Field(ge=1, description="'共N天' as printed; checks `days_off`.")
    makeup_workdays: tuple[Day, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        off = self.days_off
        if off.day_count() != self.total_days:
            raise ValueError(
                f"days_off {off.first}..{off.last} is {off.day_count()} days"
                f" but total_days says {self.total_days}"
            )
        for day in self.makeup_workdays:
            if day.weekday() < 5:
                raise ValueError(
                    f"make-up working day {day} is a {_WEEKDAY_NAMES[day.weekday()]};"
                    " a make-up working day (调休上班) must be a Saturday or Sunday"
                )
            if off.first <= day <= off.last:
                raise ValueError(f"{day} is listed both as a day off and as a make-up working day")
        if len(set(self.makeup_workdays)) != len(self.makeup_workdays):
            raise ValueError("a make-up working day is listed twice")
        return self


class YearSchedule(_Strict):
    """One year's schedule as published by the State Council."""

    year: int = Field(ge=1900, le=2999)
    notice: Notice
    # Emptiness is checked in the validator: a `min_length` here would add a misleading
    # "too short" error whenever one period is invalid.
    periods: tuple[HolidayPeriod, ...]

    @model_validator(mode="after")
    def _dates_belong_to_year(self) -> Self:
        if not self.periods:
            raise ValueError(f"{self.year}: a schedule needs at least one holiday period")
        if not self.year - 1 <= self.notice.published.year <= self.year:
            raise ValueError(
                f"{self.year}: notice published {self.notice.published}, expected in"
                f" {self.year - 1} or {self.year}"
            )
        earliest = date(self.year, 1, 1) - _YEAR_SPILL
        latest = date(self.year, 12, 31) + _YEAR_SPILL
        for period in self.periods:
            for day in (period.days_off.first, period.days_off.last, *period.makeup_workdays):
                if not earliest <= day <= latest:
                    raise ValueError(
                        f"{self.year} {period.name}: {day} is not in {self.year}"
                        f" (nor within {_YEAR_SPILL.days} days of it)"
                    )
        return self


class HolidayData(_Strict):
    """The whole file: one schedule per year."""

    schedules: tuple[YearSchedule, ...]

    @model_validator(mode="after")
    def _no_conflicts(self) -> Self:
        if not self.schedules:
            raise ValueError("the file needs at least one yearly schedule")
        years = [schedule.year for schedule in self.schedules]
        duplicates = sorted({year for year in years if years.count(year) > 1})
        if duplicates:
            raise ValueError(f"year(s) {duplicates} have more than one schedule")
        off: dict[date, str] = {}
        makeup: dict[date, str] = {}
        for schedule in self.schedules:
            for period in schedule.periods:
                label = f"{schedule.year} {period.name}"
                for day in period.days_off.days():
                    _claim(off, day, label, "a day off")
                for day in period.makeup_workdays:
                    _claim(makeup, day, label, "a make-up working day")
        both = sorted(off.keys() & makeup.keys())
        if both:
            day = both[0]
            raise ValueError(
                f"{day} is listed both as a day off ({off[day]}) and as a make-up working day"
                f" ({makeup[day]})"
            )
        return self

    @property
    def years(self) -> frozenset[int]:
        """The years that have a schedule."""
        return frozenset(schedule.year for schedule in self.schedules)


def _claim(seen: dict[date, str], day: date, label: str, kind: str) -> None:
    """Record `day` for `label`, refusing a day that two entries list as the same kind."""
    if day in seen:
        raise ValueError(f"{day} is listed twice as {kind} ({seen[day]} and {label})")
    seen[day] = label


def _shipped_file() -> Traversable:
    """The holiday file inside this package (works from a wheel as well as a checkout)."""
    return resources.files("orchestrator.calendar") / DATA_FILE_NAME


def default_data_path() -> str:
    """Where the shipped holiday file lives, for messages."""
    return str(_shipped_file())


def load_holidays(path: str | Path | None = None) -> HolidayData:
    """Read and validate a holiday file (the shipped one by default)."""
    file: Traversable | Path = _shipped_file() if path is None else Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise HolidayDataError(
            f"无法读取节假日数据文件 / cannot read holiday data file {file}: {exc}"
        ) from exc
    return parse_holidays(text, source=str(file))


def parse_holidays(text: str, *, source: str = "<string>") -> HolidayData:
    """Validate holiday data given as YAML text; `source` names it in errors."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise HolidayDataError(
            f"节假日数据文件不是有效的 YAML / holiday data file {source} is not valid YAML: {exc}"
        ) from exc
    try:
        return HolidayData.model_validate(raw)
    except ValidationError as exc:
        problems = "\n".join(
            f"  - {_describe_location(raw, error['loc'])}: {_message(error)}"
            for error in exc.errors()
        )
        raise HolidayDataError(
            f"节假日数据文件有误 / invalid holiday data file {source}:\n{problems}"
        ) from exc


def _describe_location(raw: Any, loc: tuple[int | str, ...]) -> str:
    """Turn a pydantic location into `schedules[1] (2026) → periods[2] (清明节) → days_off`."""
    parts: list[str] = []
    node: Any = raw
    for key in loc:
        if isinstance(key, int) and parts:
            node = node[key] if isinstance(node, list) and 0 <= key < len(node) else None
            label = _label(node)
            parts[-1] += f"[{key}]" + (f" ({label})" if label else "")
        else:
            parts.append(str(key))
            node = node.get(key) if isinstance(node, Mapping) else None
    return " → ".join(parts) if parts else "(whole file)"


def _message(error: ErrorDetails) -> str:
    """Pydantic's message without the `Value error, ` prefix our own checks would get."""
    return error["msg"].removeprefix("Value error, ")


def _label(node: Any) -> str | None:
    """A human name for a list entry: its year or its holiday name."""
    if isinstance(node, Mapping):
        for key in ("year", "name"):
            if key in node:
                return str(node[key])
    return None


def missing_statutory_days(schedule: YearSchedule) -> list[tuple[date, str]]:
    """The statutory holidays of the schedule's year that none of its periods gives off.

    The law fixes these days; a notice only arranges the days around them, so a notice
    that leaves one out was copied wrong.
    """
    off = {day for period in schedule.periods for day in period.days_off.days()}
    return [
        (day, name) for day, name in statutory_days_off(schedule.year).items() if day not in off
    ]
