"""Parsing working durations such as `3d`, `0.5d`, `4h`, `30m` and `1d4h`."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from orchestrator.calendar import WorkingDuration, parse_duration

SEVEN_HOURS = timedelta(hours=7)


@pytest.mark.parametrize(
    ("text", "working_time"),
    [
        ("3d", timedelta(hours=21)),
        ("0.5d", timedelta(hours=3, minutes=30)),
        ("4h", timedelta(hours=4)),
        ("30m", timedelta(minutes=30)),
        ("1d4h", timedelta(hours=11)),
        ("1d4h30m", timedelta(hours=11, minutes=30)),
        ("1.5h", timedelta(hours=1, minutes=30)),
        ("0d", timedelta(0)),
        (" 2D ", timedelta(hours=14)),
        ("1d 4h", timedelta(hours=11)),
    ],
)
def test_parses(text: str, working_time: timedelta) -> None:
    assert parse_duration(text).to_timedelta(SEVEN_HOURS) == working_time


@pytest.mark.parametrize(
    "text",
    ["", "   ", "3", "d", "-1d", "4h1d", "1d1d", "3 days", "0.5.5d", "1e3d", ".5d", "1w", "1d-4h"],
)
def test_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid working duration") as caught:
        parse_duration(text)
    assert "无效的工作时长" in str(caught.value)


def test_days_follow_the_office_day() -> None:
    assert parse_duration("0.5d").to_timedelta(timedelta(hours=8)) == timedelta(hours=4)


def test_fractions_round_to_the_microsecond() -> None:
    third = WorkingDuration(days=Decimal(1) / Decimal(3))
    assert third.to_timedelta(timedelta(hours=7)) == timedelta(hours=2, minutes=20)


@pytest.mark.parametrize(("text", "canonical"), [("1d4h", "1d4h"), ("0.50d", "0.5d"), ("0d", "0m")])
def test_text_form(text: str, canonical: str) -> None:
    assert str(parse_duration(text)) == canonical


def test_negative_parts_are_refused() -> None:
    with pytest.raises(ValueError, match="days"):
        WorkingDuration(days=Decimal(-1))


@pytest.mark.parametrize("text", ["٣d", "３d", "1d²h"])
def test_other_scripts_digits_are_not_a_duration(text: str) -> None:
    # `\d` would take them, and Decimal() reads Arabic-Indic and full-width digits as numbers.
    with pytest.raises(ValueError, match="invalid working duration"):
        parse_duration(text)
