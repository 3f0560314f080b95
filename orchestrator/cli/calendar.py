"""`onestop calendar …`: ask the working-day calendar, and import a new year's schedule."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer
from sqlalchemy.exc import SQLAlchemyError

from orchestrator import runtime
from orchestrator.calendar.duration import parse_duration
from orchestrator.calendar.holidays import HolidayDataError, load_holidays
from orchestrator.calendar.schedules import import_schedules
from orchestrator.calendar.working_calendar import WorkingCalendar, missing_schedule_notice
from orchestrator.tracker.deadlines import Revision, revise_deadlines

# Exit codes: 2 = the input was wrong (as click uses for usage errors); 1 = the input was
# fine but the calendar cannot take it (a broken data file, no database to import into).
EXIT_BAD_INPUT = 2
EXIT_NO_DATA = 1
IMPORTER = "cli:calendar-import"
_T = TypeVar("_T")

app = typer.Typer(
    help=(
        "工作日日历 / Working-day calendar: official holidays and make-up working days"
        " (国务院办公厅节假日安排) and office hours, in China time (Asia/Shanghai). A year"
        " whose schedule is not published yet is provisional: weekends and the statutory"
        " holidays only, until `onestop calendar import` adds its notice."
    ),
    epilog="Exit codes: 0 = done; 1 = the calendar or database cannot take it; 2 = invalid input.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


def _fail(chinese: str, english: str, code: int) -> NoReturn:
    """Print a bilingual error to stderr and exit without a traceback."""
    typer.echo(f"错误：{chinese} / Error: {english}", err=True)
    raise typer.Exit(code)


# What an argument must look like (Chinese, English), for the message when it does not.
_ISO_INSTANT = ("ISO-8601 格式，如 2026-02-13T15:00", "ISO-8601, e.g. 2026-02-13T15:00")
_ISO_DATE = ("YYYY-MM-DD", "YYYY-MM-DD")


def _parsed(
    parse: Callable[[str], _T], text: str, name: tuple[str, str], expected: tuple[str, str]
) -> _T:
    """`text` parsed; if it cannot be, a bad-input error naming the argument, and exit."""
    try:
        return parse(text.strip())
    except ValueError:
        _fail(
            f"无效的{name[0]} {text!r}，应为 {expected[0]}",
            f"invalid {name[1]} {text!r}: expected {expected[1]}",
            EXIT_BAD_INPUT,
        )


def _calendar() -> WorkingCalendar:
    """The calendar the running deployment counts with (shipped and imported schedules)."""
    try:
        return runtime.current().holidays.refresh()
    except HolidayDataError as exc:
        _fail("节假日数据文件有误", str(exc), EXIT_NO_DATA)


def _warn_if_provisional(calendar: WorkingCalendar, first: date, last: date) -> None:
    """Say so on stderr when the answer covers a year without its official schedule."""
    years = [y for y in range(first.year, last.year + 1) if calendar.is_provisional(date(y, 1, 1))]
    if years:
        listed = ", ".join(str(year) for year in years)
        typer.echo(
            f"注意：{listed} 年尚无国务院节假日安排，暂按周末和法定节假日计算（临时） / Note: no"
            f" official holiday schedule for {listed} yet; counted weekends and statutory"
            " holidays only (provisional).",
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
) -> None:
    """Print the instant when DURATION of working time has elapsed after START (+08:00)."""
    begin = _parsed(datetime.fromisoformat, start, ("开始时间", "START"), _ISO_INSTANT)
    try:
        amount = parse_duration(duration)
    except ValueError as exc:
        _fail("无效的工作时长", str(exc), EXIT_BAD_INPUT)
    calendar = _calendar()
    result = calendar.add(begin, amount)
    typer.echo(result.isoformat())
    _warn_if_provisional(calendar, calendar.next_working_instant(begin).date(), result.date())


@app.command("is-workday")
def is_workday_command(
    day: Annotated[str, typer.Argument(metavar="DATE", help="A date, ISO-8601 (e.g. 2026-02-14).")],
) -> None:
    """Print `workday` or `off` for DATE (exit code 0 either way)."""
    parsed = _parsed(date.fromisoformat, day, ("日期", "DATE"), _ISO_DATE)
    calendar = _calendar()
    typer.echo("workday" if calendar.is_workday(parsed) else "off")
    _warn_if_provisional(calendar, parsed, parsed)


@app.command("years")
def years_command() -> None:
    """List the years with an official schedule, and say if next year's is missing."""
    rt = runtime.current()
    calendar = _calendar()
    for schedule in calendar.holidays.schedules:
        typer.echo(f"{schedule.year}  {schedule.notice.title}  ({schedule.notice.published})")
    warn_if_schedule_missing(calendar, rt.clock.now())


def warn_if_schedule_missing(calendar: WorkingCalendar, today: date) -> None:
    """From 1 November, say on stderr that next year's schedule has not been imported."""
    missing = calendar.missing_schedule(today)
    if missing is not None:
        chinese, english = missing_schedule_notice(missing)
        typer.echo(f"注意：{chinese} / Warning: {english}", err=True)


@app.command("import")
def import_command(
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            help="The notice as YAML, in the format of orchestrator/calendar/holidays.yaml "
            "(a `schedules:` list with one entry per year).",
        ),
    ],
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Check the file and show what would change; write nothing."),
    ] = False,
) -> None:
    """Import a newly published year's holiday schedule and re-evaluate open deadlines.

    The file is validated as the shipped one is, and each year must give every statutory
    holiday off. Every open filing's committed deadline and 容缺 due dates are then
    computed again on the new calendar; each change is recorded on the filing.
    """
    try:
        data = load_holidays(file)
    except HolidayDataError as exc:
        _fail("节假日安排文件有误", str(exc), EXIT_BAD_INPUT)
    rt = runtime.current()
    try:
        with rt.database.transaction() as session:
            calendar = import_schedules(
                session, data, calendar=_calendar(), now=rt.clock.now(), actor=IMPORTER
            )
            revisions = revise_deadlines(session, calendar=calendar, now=rt.clock.now())
            if dry_run:
                raise _RolledBack
    except _RolledBack:
        pass
    except HolidayDataError as exc:
        _fail("无法导入该节假日安排", str(exc), EXIT_BAD_INPUT)
    except SQLAlchemyError as exc:
        _fail(
            "无法写入数据库（是否已运行 onestop migrate？）",
            f"cannot write to the database (has `onestop migrate` run?): {exc.__class__.__name__}",
            EXIT_NO_DATA,
        )
    years = ", ".join(str(schedule.year) for schedule in data.schedules)
    verb = "would import" if dry_run else "imported"
    typer.echo(f"{verb} {years}; deadlines moved on {len(revisions)} open filing(s)")
    for revision in revisions:
        typer.echo(_described(revision))


class _RolledBack(Exception):
    """Leaves a dry run's transaction without committing it."""


def _described(revision: Revision) -> str:
    materials = f"; due dates of {', '.join(revision.materials)}" if revision.materials else ""
    note = " (still provisional)" if revision.provisional else ""
    return (
        f"  {revision.tracking_code}  {revision.deadline_from:%Y-%m-%d %H:%M} → "
        f"{revision.deadline_to:%Y-%m-%d %H:%M}{note}{materials}"
    )
