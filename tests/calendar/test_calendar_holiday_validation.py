"""The loader refuses inconsistent holiday files and says which file and which entry."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.calendar import HolidayDataError, WorkingCalendar, load_holidays, parse_holidays

Data = dict[str, Any]


def _valid() -> Data:
    """A small, consistent file: the 2026 New Year and Labour Day items."""
    return {
        "schedules": [
            {
                "year": 2026,
                "notice": {"title": "test", "published": date(2025, 11, 4)},
                "periods": [
                    {
                        "name": "元旦",
                        "name_en": "New Year's Day",
                        "days_off": {"first": date(2026, 1, 1), "last": date(2026, 1, 3)},
                        "total_days": 3,
                        "makeup_workdays": [date(2026, 1, 4)],
                    },
                    {
                        "name": "劳动节",
                        "name_en": "Labour Day",
                        "days_off": {"first": date(2026, 5, 1), "last": date(2026, 5, 5)},
                        "total_days": 5,
                        "makeup_workdays": [date(2026, 5, 9)],
                    },
                ],
            }
        ]
    }


def _period(data: Data, index: int) -> Data:
    """The `index`-th period of the first schedule."""
    period: Data = data["schedules"][0]["periods"][index]
    return period


def _write(tmp_path: Path, data: object) -> Path:
    """Dump `data` as YAML into a temporary file."""
    path = tmp_path / "holidays.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _makeup_on_friday(data: Data) -> None:
    _period(data, 1)["makeup_workdays"] = [date(2026, 5, 8)]


def _makeup_inside_own_holiday(data: Data) -> None:
    _period(data, 1)["makeup_workdays"] = [date(2026, 5, 2)]


def _makeup_inside_other_holiday(data: Data) -> None:
    _period(data, 1)["makeup_workdays"] = [date(2026, 1, 3)]


def _wrong_total(data: Data) -> None:
    _period(data, 1)["total_days"] = 4


def _backwards(data: Data) -> None:
    _period(data, 1)["days_off"] = {"first": date(2026, 5, 5), "last": date(2026, 5, 1)}


def _typo_in_key(data: Data) -> None:
    _period(data, 1)["makeup_workday"] = _period(data, 1).pop("makeup_workdays")


def _bad_date(data: Data) -> None:
    _period(data, 1)["days_off"]["first"] = "2026-5-1"


def _number_as_date(data: Data) -> None:
    _period(data, 1)["days_off"]["first"] = 20260501


def _duplicate_year(data: Data) -> None:
    data["schedules"].append(copy.deepcopy(data["schedules"][0]))


def _wrong_year(data: Data) -> None:
    _period(data, 1)["days_off"] = {"first": date(2027, 5, 1), "last": date(2027, 5, 5)}


def _overlapping_periods(data: Data) -> None:
    _period(data, 1)["days_off"] = {"first": date(2026, 1, 3), "last": date(2026, 1, 7)}


def _no_periods(data: Data) -> None:
    data["schedules"][0]["periods"] = []


CASES: list[tuple[Callable[[Data], None], str, str]] = [
    # (mutation, text expected in the message, entry expected to be named)
    (_makeup_on_friday, "2026-05-08 is a Friday", "劳动节"),
    (_makeup_inside_own_holiday, "both as a day off and as a make-up working day", "劳动节"),
    (_makeup_inside_other_holiday, "2026-01-03 is listed both as a day off (2026 元旦)", "劳动节"),
    (_wrong_total, "is 5 days but total_days says 4", "劳动节"),
    (_backwards, "last (2026-05-01) is before first (2026-05-05)", "劳动节"),
    (_typo_in_key, "Extra inputs are not permitted", "makeup_workday"),
    (_bad_date, "expected a date written YYYY-MM-DD, got '2026-5-1'", "劳动节"),
    (_number_as_date, "expected a date written YYYY-MM-DD, got 20260501", "劳动节"),
    (_duplicate_year, "year(s) [2026] have more than one schedule", "(whole file)"),
    (_wrong_year, "2027-05-01 is not in 2026", "schedules[0] (2026)"),
    (_overlapping_periods, "2026-01-03 is listed twice as a day off", "2026 劳动节"),
    (_no_periods, "2026: a schedule needs at least one holiday period", "schedules[0] (2026)"),
]


@pytest.mark.parametrize(
    ("mutate", "problem", "entry"), CASES, ids=[case[0].__name__.strip("_") for case in CASES]
)
def test_bad_data_is_refused_naming_file_and_entry(
    tmp_path: Path, mutate: Callable[[Data], None], problem: str, entry: str
) -> None:
    data = _valid()
    mutate(data)
    path = _write(tmp_path, data)
    with pytest.raises(HolidayDataError) as caught:
        load_holidays(path)
    message = str(caught.value)
    assert message.count("\n  - ") == 1, "one mistake, one line"
    assert str(path) in message
    assert "节假日数据文件有误" in message
    assert problem in message
    assert entry in message


def test_the_valid_base_loads(tmp_path: Path) -> None:
    calendar = WorkingCalendar.from_file(_write(tmp_path, _valid()))
    assert calendar.is_workday(date(2026, 5, 9))
    assert not calendar.is_workday(date(2026, 5, 4))


def test_bare_off_key_is_caught(tmp_path: Path) -> None:
    # YAML 1.1 reads a bare `off` as false, so the key is refused rather than misread.
    path = tmp_path / "holidays.yaml"
    text = yaml.safe_dump(_valid(), allow_unicode=True).replace("days_off:", "off:")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(HolidayDataError, match="days_off"):
        load_holidays(path)


def test_not_yaml(tmp_path: Path) -> None:
    path = tmp_path / "holidays.yaml"
    path.write_text("schedules: [unclosed", encoding="utf-8")
    with pytest.raises(HolidayDataError, match="not valid YAML") as caught:
        load_holidays(path)
    assert str(path) in str(caught.value)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "holidays.yaml"
    path.write_text("", encoding="utf-8")
    with pytest.raises(HolidayDataError, match="whole file"):
        load_holidays(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(HolidayDataError, match="cannot read holiday data file"):
        load_holidays(tmp_path / "nowhere.yaml")


def test_parse_names_the_source() -> None:
    with pytest.raises(HolidayDataError) as caught:
        parse_holidays("schedules: []", source="<test>")
    assert "invalid holiday data file <test>" in str(caught.value)
    assert "at least one yearly schedule" in str(caught.value)
