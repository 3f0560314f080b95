"""`onestop calendar …`: ask the working-day calendar from the shell."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, NoReturn

import typer

from orchestrator.calendar import default_calendar
from orchestrator.calendar.duration import parse_duration
from orchestrator.calendar.holidays import HolidayDataError
from orchestrator.calendar.working_calendar import UnknownYearError, WorkingCalendar

# Exit codes: 2 = the input was wrong (as click uses for usage errors); 1 = the input was
# fine but the holiday data cannot answer (year not published yet, or a broken data file).
EXIT_BAD_INPUT = 2
EXIT_NO_DATA = 1

app = typer.Typer(
    help=(
        "工作日日历 / Working-day calendar: official holidays and make-up working days"
        " (国务院办公厅节假日安排) and office hours, in China time (Asia/Shanghai)."
    ),
    epilog=(
        "Exit codes: 0 = answered; 1 = no holiday schedule for that year (or a broken data"
        " file); 2 = invalid input."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

ProvisionalOption = Annotated[
    bool,
    typer.Option(
        "--provisional",
        help=(
            "For years without a published schedule count weekends only (a warning is"
            " printed) instead of failing."
        ),
    ),
]


def _fail(chinese: str, english: str, code: int) -> NoReturn:
    """Print a bilingual error to stderr and exit without a traceback."""
    typer.echo(f"错误：{chinese} / Error: {english}", err=True)
    raise typer.Exit(code)


def _calendar(provisional: bool) -> WorkingCalendar:
    """The default calendar, with data-file problems reported instead of raised."""
    try:
        return default_calendar(provisional=provisional)
    except HolidayDataError as exc:
        _fail("节假日数据文件有误", str(exc), EXIT_NO_DATA)


def _warn_if_provisional(calendar: WorkingCalendar, first: date, last: date) -> None:
    """Say so on stderr when the answer covers a year counted from weekends only."""
    years = [
        year
        for year in range(first.year, last.year + 1)
        if calendar.is_provisional(date(year, 1, 1))
    ]
    if years:
        listed = ", ".join(str(year) for year in years)
        typer.echo(
            f"注意：{listed} 年尚无节假日安排，仅按周末计算 / Note: no holiday schedule for"
            f" {listed}; counted weekends only (provisional).",
            err=True,
        )


@app.command("add")
def add_command(
    start: Annotated[
        str,
        typer.Argument(
            metavar="START",
            help="Start instant, ISO-8601 (e.g. 2026-02-13T15:00); China time if no offset.",
        ),
    ],
    duration: Annotated[
        str,
        typer.Argument(
            metavar="DURATION",
            help="Working time to add: 3d, 0.5d, 4h, 30m, 1d4h (1d = one day of office hours).",
        ),
    ],
    provisional: ProvisionalOption = False,
) -> None:
    """Print the instant when DURATION of working time has elapsed after START (+08:00)."""
    try:
        begin = datetime.fromisoformat(start.strip())
    except ValueError:
        _fail(
            f"无效的开始时间 {start!r}，应为 ISO-8601 格式，如 2026-02-13T15:00",
            f"invalid START {start!r}: expected ISO-8601, e.g. 2026-02-13T15:00",
            EXIT_BAD_INPUT,
        )
    try:
        amount = parse_duration(duration)
    except ValueError as exc:
        _fail("无效的工作时长", str(exc), EXIT_BAD_INPUT)
    calendar = _calendar(provisional)
    try:
        result = calendar.add(begin, amount)
    except UnknownYearError as exc:
        _fail("缺少节假日数据", str(exc), EXIT_NO_DATA)
    typer.echo(result.isoformat())
    _warn_if_provisional(calendar, calendar.next_working_instant(begin).date(), result.date())


@app.command("is-workday")
def is_workday_command(
    day: Annotated[str, typer.Argument(metavar="DATE", help="A date, ISO-8601 (e.g. 2026-02-14).")],
    provisional: ProvisionalOption = False,
) -> None:
    """Print `workday` or `off` for DATE (exit code 0 either way)."""
    try:
        parsed = date.fromisoformat(day.strip())
    except ValueError:
        _fail(
            f"无效的日期 {day!r}，应为 YYYY-MM-DD",
            f"invalid DATE {day!r}: expected YYYY-MM-DD",
            EXIT_BAD_INPUT,
        )
    calendar = _calendar(provisional)
    try:
        working = calendar.is_workday(parsed)
    except UnknownYearError as exc:
        _fail("缺少节假日数据", str(exc), EXIT_NO_DATA)
    typer.echo("workday" if working else "off")
    _warn_if_provisional(calendar, parsed, parsed)
