"""`onestop calendar add`, `is-workday` and `years`, through typer's CliRunner.

`onestop calendar import` is covered with the deadlines it moves, in tests/tracker.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from orchestrator import runtime
from orchestrator.cli.calendar import app
from orchestrator.clock import CHINA, Clock
from orchestrator.migrations import migrate
from orchestrator.settings import Settings

runner = CliRunner()


def ran(*args: str) -> Result:
    """`onestop calendar ARGS`, which must succeed (exit code 0)."""
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def refused(args: list[str], chinese: str, english: str) -> Result:
    """`onestop calendar ARGS`, which must refuse its input: exit code 2, the reason in both
    languages on stderr, and no traceback."""
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert chinese in result.stderr
    assert english in result.stderr
    assert "Traceback" not in result.output
    return result


@pytest.fixture(autouse=True)
def deployment(tmp_path: Path) -> Iterator[runtime.Runtime]:
    """A deployment of its own, on a fresh database with no imported schedule."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'onestop.db'}")
    migrate(settings.database_url)
    previous = runtime._current
    rt = runtime.install(runtime.from_settings(settings))
    yield rt
    runtime._current = previous
    rt.database.dispose()


class TestAdd:
    @pytest.mark.parametrize(
        ("start", "duration", "expected"),
        [
            ("2026-02-13T15:00", "3d", "2026-02-25T15:00:00+08:00"),
            ("2026-02-13T15:00", "0.5d", "2026-02-14T10:30:00+08:00"),
            ("2026-02-13T07:00:00Z", "0.5d", "2026-02-14T10:30:00+08:00"),
            ("2026-02-13T15:00+08:00", "4h", "2026-02-14T11:00:00+08:00"),
            ("2025-09-30 14:00", "1d", "2025-10-09T14:00:00+08:00"),
            ("2026-03-02T09:00", "1d", "2026-03-02T17:00:00+08:00"),
        ],
    )
    def test_prints_the_deadline(self, start: str, duration: str, expected: str) -> None:
        result = ran("add", start, duration)
        assert result.stdout == expected + "\n"

    @pytest.mark.parametrize(
        ("args", "chinese", "english"),
        [
            (["add", "tomorrow", "3d"], "无效的开始时间", "invalid START"),
            (["add", "2026-02-13T15:00", "3 days"], "无效的工作时长", "invalid working duration"),
            (
                ["add", "--", "2026-02-13T15:00", "-1d"],
                "无效的工作时长",
                "invalid working duration",
            ),
        ],
    )
    def test_bad_input_exits_2_without_traceback(
        self, args: list[str], chinese: str, english: str
    ) -> None:
        assert refused(args, chinese, english).stdout == ""

    def test_a_year_without_its_schedule_answers_provisionally_and_says_so(self) -> None:
        # 元旦 2027 is statutory, the weekend follows: the rest of the day is on Monday.
        result = ran("add", "2026-12-31T16:00", "1d")
        assert result.stdout == "2027-01-04T16:00:00+08:00\n"
        assert "2027 年尚无国务院节假日安排" in result.stderr
        assert "no official holiday schedule for 2027" in result.stderr
        assert "(provisional)" in result.stderr

    def test_a_known_year_says_nothing_more(self) -> None:
        result = ran("add", "2026-12-31T10:00", "6h")
        assert result.stdout == "2026-12-31T17:00:00+08:00\n"
        assert result.stderr == ""


class TestIsWorkday:
    @pytest.mark.parametrize(
        ("day", "answer"),
        [
            ("2026-02-14", "workday"),  # make-up Saturday
            ("2026-02-15", "off"),  # Spring Festival, a Sunday
            ("2026-02-23", "off"),  # Spring Festival, a Monday
            ("2026-02-24", "workday"),
            ("2025-10-08", "off"),
            ("2025-10-11", "workday"),
            ("2026-03-07", "off"),  # an ordinary Saturday
        ],
    )
    def test_answers(self, day: str, answer: str) -> None:
        result = ran("is-workday", day)
        assert result.stdout == answer + "\n"
        assert result.stderr == ""

    @pytest.mark.parametrize("day", ["2026-02-30", "yesterday", "2026/02/14", ""])
    def test_bad_date_exits_2_without_traceback(self, day: str) -> None:
        result = refused(["is-workday", day], "无效的日期", "invalid DATE")
        assert isinstance(result.exception, SystemExit)

    @pytest.mark.parametrize(
        ("day", "answer"),
        [("2027-01-04", "workday"), ("2027-02-05", "off"), ("2027-02-09", "workday")],
    )
    def test_provisional_year(self, day: str, answer: str) -> None:
        result = ran("is-workday", day)
        assert result.stdout == answer + "\n"
        assert "provisional" in result.stderr


class TestYears:
    def test_lists_the_official_years(self) -> None:
        result = ran("years")
        assert "2025  国务院办公厅关于2025年部分节假日安排的通知" in result.stdout
        assert "2026  国务院办公厅关于2026年部分节假日安排的通知" in result.stdout

    @pytest.mark.parametrize(
        ("today", "warned"),
        [(datetime(2026, 10, 31, 23, 59), False), (datetime(2026, 11, 1, 9), True)],
    )
    def test_from_november_warns_that_next_year_is_missing(
        self, deployment: runtime.Runtime, today: datetime, warned: bool
    ) -> None:
        runtime.install(
            runtime.from_settings(
                deployment.settings, clock=Clock(origin=today.replace(tzinfo=CHINA))
            )
        )
        result = ran("years")
        assert ("尚未导入 2027 年的国务院节假日安排" in result.stderr) is warned
        assert ("onestop calendar import FILE" in result.stderr) is warned


class TestHelp:
    def test_app_help_lists_commands(self) -> None:
        result = ran("--help")
        assert "add" in result.stdout
        assert "is-workday" in result.stdout

    def test_no_arguments_shows_help(self) -> None:
        result = runner.invoke(app, [])
        assert "is-workday" in result.output

    def test_add_help_explains_durations(self) -> None:
        result = ran("add", "--help")
        assert "0.5d" in result.stdout
        assert "China time" in result.stdout


def test_mounts_as_onestop_calendar() -> None:
    import typer

    onestop = typer.Typer()
    onestop.command("version")(lambda: None)
    onestop.add_typer(app, name="calendar")
    result = runner.invoke(onestop, ["calendar", "is-workday", "2026-02-28"])
    assert result.exit_code == 0
    assert result.stdout == "workday\n"
