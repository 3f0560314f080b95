"""`onestop calendar add` and `onestop calendar is-workday`, through typer's CliRunner."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from orchestrator.calendar.cli import app

runner = CliRunner()


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
        result = runner.invoke(app, ["add", start, duration])
        assert result.exit_code == 0, result.output
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
        result = runner.invoke(app, args)
        assert result.exit_code == 2
        assert chinese in result.stderr
        assert english in result.stderr
        assert "Traceback" not in result.output
        assert result.stdout == ""

    def test_unknown_year_exits_1_with_the_reason(self) -> None:
        result = runner.invoke(app, ["add", "2026-12-31T16:00", "1d"])
        assert result.exit_code == 1
        assert "没有 2027 年的节假日安排数据" in result.stderr
        assert "No holiday schedule for 2027" in result.stderr

    def test_provisional_answers_and_warns(self) -> None:
        result = runner.invoke(app, ["add", "--provisional", "2026-12-31T16:00", "1d"])
        assert result.exit_code == 0
        assert result.stdout == "2027-01-01T16:00:00+08:00\n"
        assert "provisional" in result.stderr
        assert "2027" in result.stderr


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
        result = runner.invoke(app, ["is-workday", day])
        assert result.exit_code == 0
        assert result.stdout == answer + "\n"
        assert result.stderr == ""

    @pytest.mark.parametrize("day", ["2026-02-30", "yesterday", "2026/02/14", ""])
    def test_bad_date_exits_2_without_traceback(self, day: str) -> None:
        result = runner.invoke(app, ["is-workday", day])
        assert result.exit_code == 2
        assert "无效的日期" in result.stderr
        assert "invalid DATE" in result.stderr
        assert "Traceback" not in result.output
        assert isinstance(result.exception, SystemExit)

    def test_unknown_year(self) -> None:
        result = runner.invoke(app, ["is-workday", "2027-01-04"])
        assert result.exit_code == 1
        assert "2027" in result.stderr
        assert result.stdout == ""

    def test_provisional(self) -> None:
        result = runner.invoke(app, ["is-workday", "--provisional", "2027-01-04"])
        assert result.exit_code == 0
        assert result.stdout == "workday\n"
        assert "provisional" in result.stderr

    def test_provisional_flag_is_silent_for_known_years(self) -> None:
        result = runner.invoke(app, ["is-workday", "--provisional", "2026-10-01"])
        assert result.stdout == "off\n"
        assert result.stderr == ""


class TestHelp:
    def test_app_help_lists_commands(self) -> None:
        result = runner.invoke(app, ["--help"])
        assert result.exit_code == 0
        assert "add" in result.stdout
        assert "is-workday" in result.stdout

    def test_no_arguments_shows_help(self) -> None:
        result = runner.invoke(app, [])
        assert "is-workday" in result.output

    def test_add_help_explains_durations(self) -> None:
        result = runner.invoke(app, ["add", "--help"])
        assert result.exit_code == 0
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
