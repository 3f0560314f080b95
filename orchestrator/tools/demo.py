"""`onestop demo`: replay a scenario embedded, the branch clerks filing over HTTP, live.

The replay itself (everything in this process, clerks filing over the API at scenario
time) is `orchestrator.tools.scenarios.replay`; this module shows it as it happens — one row per
filing and step, notes of what clerks and agencies do — and ends with a summary per filing
against the district's working-day target; the exit code says whether every filing was
completed.
"""

from __future__ import annotations

import json
import secrets
import statistics
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from rich import box
from rich.cells import cell_len, set_cell_size
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from orchestrator import runtime
from orchestrator.calendar import WorkingCalendar
from orchestrator.clock import Clock
from orchestrator.identity.sessions import set_password
from orchestrator.settings import VAR_DIR, tracking_url
from orchestrator.tools.scenarios import DEMO_SCENARIO, Scenario
from orchestrator.tools.scenarios.clerks import Tracked
from orchestrator.tools.scenarios.outcome import EXIT_BAD_SCENARIO, EXIT_INTERRUPTED, ReplayOutcome
from orchestrator.tools.scenarios.printing import (
    print_reasons,
    print_title,
    scenario_time,
    titled_table,
)
from orchestrator.tools.scenarios.replay import (
    Replay,
    ReplayPlan,
    View,
    console_for,
    fresh_database,
    load_or_explain,
    replay,
)
from orchestrator.workflow import by_name

EXIT_COMPLETE = 0
EXIT_INCOMPLETE = 1

DEFAULT_TIMEOUT_SECONDS = 120.0

# Step states as the strip shows them: a symbol (one or two cells wide) and a colour.
_STEP_MARKS: dict[str, tuple[str, str]] = {
    "waiting": ("·", "bright_black"),
    "ready": ("◐", "yellow"),
    "running": ("◐", "yellow"),
    "submitted": ("⧗", "cyan"),
    "retrying": ("↻", "bold red"),  # active, after a transient error (the tracker shows it)
    "blocked": ("⚠", "bold magenta"),
    "at_branch": ("🏦", "bold blue"),
    "done": ("✔", "green"),
    "rejected": ("✘", "bold red"),
    "cancelled": ("-", "bright_black"),
}
_LEGEND = (
    ("waiting", "等待", "waiting"),
    ("running", "办理中", "running"),
    ("submitted", "已提交", "submitted"),
    ("retrying", "重试中", "retrying"),
    ("done", "完成", "done"),
    ("blocked", "待补正", "blocked"),
    ("rejected", "驳回", "rejected"),
    ("at_branch", "待领取", "at branch"),
)
_STATUS_LABELS: dict[str, tuple[str, str, str]] = {
    "scheduled": ("待受理", "scheduled", "bright_black"),
    "accepted": ("办理中", "in progress", "yellow"),
    "ready": ("待送达", "delivering", "cyan"),
    "complete": ("已办结", "complete", "bold green"),
    "action_required": ("需处理", "rejected", "bold red"),
    "cancelled": ("已撤销", "cancelled", "red"),
    "refused": ("未受理", "refused", "bold red"),
}
_TAXPAYER_TYPES = {
    "small_scale": ("小规模", "small-scale"),  # 小规模纳税人, as it is usually called
    "general": ("一般纳税人", "general"),
}


class _Notes:
    """Clerk actions and agency changes: one line each, at scenario time, above the display."""

    def __init__(self, console: Console, clock: Clock) -> None:
        self._console = console
        self._clock = clock

    def add(self, icon: str, tracked: Tracked | None, text: str, style: str = "") -> None:
        """`09:41 ✍ 刘洋 补正材料 … · 寿光市沃土种业有限公司`."""
        self._console.print(
            Text.assemble(
                (f"{self._clock.now():%H:%M} ", "bright_black"),
                f"{icon} ",
                (f"{tracked.clerk_name} ", "bold") if tracked else "",
                (text, style),
                f" · {tracked.company_name}" if tracked else "",
            )
        )


# The live display ----------------------------------------------------------------------------

# Every declared step, each district's graph a part of them: a step a filing's graph has not
# stays blank.
_STRIP_HEADER = "".join(spec.label_zh[0] for spec in by_name().values())


def _strip(tracked: Tracked, *, plain: bool = False) -> Text:
    """One symbol per step in workflow order, two cells each: aligned under `_STRIP_HEADER`."""
    steps = tracked.steps()
    text = Text()
    for spec in by_name().values():
        if steps and spec.name not in steps:
            text.append("  ")
            continue
        step = steps.get(spec.name, {})
        status = step.get("status", "waiting")
        if status in ("ready", "running") and step.get("last_error"):
            status = "retrying"
        symbol, style = _STEP_MARKS.get(status, ("?", ""))
        text.append(symbol, style="" if plain else style)
        text.append(" " * (2 - cell_len(symbol)))
    return text


def _flow(parts: Sequence[Text], width: int) -> Text:
    """`parts` on as few lines as fit `width`, never breaking one."""
    text, used = Text(), 0
    for part in parts:
        if used and used + 2 + part.cell_len > width:
            text.append("\n")
            used = 0
        elif used:
            text.append("  ")
            used += 2
        text.append_text(part)
        used += part.cell_len
    return text


def _legend(width: int) -> Text:
    """What the strip's columns and symbols mean."""
    columns = [
        Text(f"{spec.label_zh[0]} {spec.name.replace('_', ' ')}") for spec in by_name().values()
    ]
    symbols = [
        Text.assemble((_STEP_MARKS[status][0], _STEP_MARKS[status][1]), f" {zh} {en}")
        for status, zh, en in _LEGEND
    ]
    text = _flow(columns, width)
    text.append("\n")
    text.append_text(_flow(symbols, width))
    text.stylize("dim")
    return text


def _elapsed(tracked: Tracked, calendar: WorkingCalendar, now: datetime) -> timedelta | None:
    """Working time from acceptance to ready (or to `now` while not ready); None if not filed."""
    if tracked.detail is None:
        return None
    accepted = datetime.fromisoformat(tracked.detail["accepted_at"])
    ready = tracked.detail.get("ready_at")
    return calendar.elapsed(accepted, datetime.fromisoformat(ready) if ready else now)


def _working_time(elapsed: timedelta, calendar: WorkingCalendar, *, compact: bool = False) -> str:
    """`1h05m · 0.15d`: working time, and as a fraction of a working day."""
    hours, minutes = divmod(int(elapsed.total_seconds() // 60), 60)
    span = f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"
    return span if compact else f"{span} · {elapsed / calendar.day_length:.2f}d"


def _status_text(status: str, *, sep: str = " ", english: bool = True) -> Text:
    zh, en, style = _STATUS_LABELS.get(status, (status, "", ""))
    return Text(f"{zh}{sep}{en}" if english else zh, style=style)


class _Dashboard:
    """The live view: one row per filing, what the symbols mean, and the overall bar."""

    def __init__(
        self,
        scenario: Scenario,
        filings: Sequence[Tracked],
        clock: Clock,
        calendar: WorkingCalendar,
        console: Console,
    ) -> None:
        self._scenario = scenario
        self._filings = filings
        self._clock = clock
        self._calendar = calendar
        self._console = console
        self._started = time.monotonic()
        self._printed: dict[int, str] = {}
        self.add = _Notes(console, clock).add
        self.live: Live | None = None  # on a terminal; else `update` prints what changed

    def update(self) -> None:
        """Redraw the live view, or print the lines of the filings that changed."""
        if self.live is not None:
            self.live.update(self.render(), refresh=True)
        else:
            self.print_changes()

    def _shown(self) -> tuple[list[Tracked], int]:
        """The rows that fit the terminal: filings under way first; how many were left out."""
        room = max(5, self._console.height - 14)
        if len(self._filings) <= room:
            return list(self._filings), 0
        order = sorted(self._filings, key=lambda t: (t.finished, t.detail is None, t.number))
        return sorted(order[: room - 1], key=lambda t: t.number), len(self._filings) - room + 1

    def render(self) -> RenderableType:
        """The table, the legend and the bar as they stand now (a terminal)."""
        now = self._clock.now()
        compact = self._console.width < 92  # 80 columns: Chinese status, minutes only
        table = Table(
            box=box.SIMPLE_HEAD, show_edge=False, collapse_padding=True, header_style="bold"
        )
        table.add_column("#", justify="right", style="bright_black")
        table.add_column("企业名称\nCompany", min_width=12)
        table.add_column("网点\nBranch", max_width=18)
        table.add_column(f"{_STRIP_HEADER}\nsteps", no_wrap=True)
        table.add_column("状态\nStatus", no_wrap=True)
        table.add_column(
            "用时\nTime" if compact else "工作用时\nWorking time", justify="right", no_wrap=True
        )
        shown, hidden = self._shown()
        for tracked in shown:
            elapsed = _elapsed(tracked, self._calendar, now)
            due = self._scenario.clock.at(timedelta(seconds=tracked.plan.offset_seconds))
            table.add_row(
                str(tracked.number),
                tracked.company_name,
                tracked.branch_name,
                _strip(tracked),
                _status_text(tracked.status, english=not compact),
                (
                    _working_time(elapsed, self._calendar, compact=compact)
                    if elapsed is not None
                    else f"{due:%H:%M}"
                ),
            )
        if hidden:
            table.add_row("…", Text(f"{hidden} more 另有{hidden}份", style="dim"))
        done = sum(1 for t in self._filings if t.status == "complete")
        bar = Table.grid(padding=(0, 1))
        bar.add_row(
            Text("办结 Complete", style="bold"),
            ProgressBar(total=len(self._filings), completed=done, width=12 if compact else 24),
            Text(f"{done}/{len(self._filings)}"),
            Text(
                f" 场景时间 scenario {scenario_time(now, year=False)}"
                f" ×{self._scenario.clock.scale:g}"
                f" · {time.monotonic() - self._started:.1f}s",
                style="dim",
            ),
        )
        return Group(table, _legend(self._console.width), Text(), bar)

    def print_changes(self) -> None:
        """Without a terminal: one plain line per filing whose steps or status changed."""
        now = self._clock.now()
        for tracked in self._filings:
            if tracked.detail is None:
                continue
            state = f"{_strip(tracked, plain=True).plain} {_status_text(tracked.status).plain}"
            if self._printed.get(tracked.number) == state:
                continue
            self._printed[tracked.number] = state
            elapsed = _elapsed(tracked, self._calendar, now)
            took = f"  {_working_time(elapsed, self._calendar)}" if elapsed is not None else ""
            self._console.print(
                f"{now:%H:%M:%S} #{tracked.number:<2} {set_cell_size(tracked.company_name, 26)} "
                f"{state}{took}",
                markup=False,
                no_wrap=True,
                overflow="ignore",
                crop=False,
            )


# The summary ---------------------------------------------------------------------------------


def _summary_table(rows: Sequence[dict[str, Any]], *, width: int) -> Table:
    """Two lines per filing: names and numbers, tax, working time against the target."""
    narrow = width < 96  # an 80-column terminal: Chinese only where English would not fit
    table = titled_table("办结汇总 Summary", show_lines=True, collapse_padding=True)
    table.add_column(
        "企业 Company\n编号 Tracking" if narrow else "企业名称 Company\n受理编号 Tracking code",
        min_width=12,
        overflow="fold",
    )
    table.add_column("信用代码 Credit code\n基本户账号 Account", no_wrap=True)
    table.add_column("税务\nTax" if narrow else "税务登记\nTax", no_wrap=True)
    table.add_column("工作用时\nWork time", justify="right", no_wrap=True)
    table.add_column("目标\nTarget", no_wrap=True)
    table.add_column("办结\nDone", no_wrap=True)
    for row in rows:
        zh, en = _TAXPAYER_TYPES.get(row["taxpayer_type"] or "", (row["taxpayer_type"], ""))
        if row["working_hours_to_ready"] is not None:
            took = f"{row['working_hours_to_ready']:.2f} h\n{row['working_days_to_ready']:.3f} d"
        else:
            took = "—"
        if row["working_days_to_ready"] is None:
            mark = Text("·", "dim")  # not ready: neither met nor missed yet
        else:
            mark = Text("✔", "bold green") if row["within_target"] else Text("✘", "bold red")
        completed = (
            Text(f"{datetime.fromisoformat(row['completed_at']):%H:%M\n%m-%d}")
            if row["completed_at"]
            else _status_text(row["status"], sep="\n")
        )
        table.add_row(
            f"{row['company_name']}\n{row['tracking_code'] or '—'}",
            f"{row['credit_code'] or '—'}\n{row['bank_account_number'] or '—'}",
            (
                Text(f"已登记\n{zh}" if narrow else f"已登记 registered\n{zh} {en}", "green")
                if row["tax_registered"]
                else "—"
            ),
            took,
            Text.assemble(
                mark,
                f" ≤{row['target_working_days']:g}d"
                if narrow
                else f" ≤ {row['target_working_days']:g} d",
            ),
            completed,
        )
    return table


def _totals(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    complete = [r for r in rows if r["complete"]]
    hours = [r["working_hours_to_ready"] for r in complete]
    days = [r["working_days_to_ready"] for r in complete]
    within = sum(1 for r in complete if r["within_target"])
    return {
        "total": len(rows),
        "complete": len(complete),
        "median_working_hours_to_ready": round(statistics.median(hours), 4) if hours else None,
        "median_working_days_to_ready": round(statistics.median(days), 4) if days else None,
        "within_target": within,
        "within_target_share": round(within / len(rows), 4) if rows else None,
    }


def _totals_line(totals: Mapping[str, Any], real_seconds: float) -> Text:
    ok = totals["complete"] == totals["total"]
    hours, days = totals["median_working_hours_to_ready"], totals["median_working_days_to_ready"]
    share = totals["within_target_share"]
    return Text.assemble(
        (
            f"办结 {totals['complete']}/{totals['total']} complete",
            "bold green" if ok else "bold red",
        ),
        " · 中位用时 median "
        + (f"{hours:.2f} h = {days:.3f} 工作日 working day" if hours is not None else "—"),
        f" · 达标 within target {share:.0%} ({totals['within_target']}/{totals['total']})"
        if share is not None
        else "",
        (f" · 实际 real {real_seconds:.1f}s", "dim"),
    )


# The run -------------------------------------------------------------------------------------


@contextmanager
def _dashboard(console: Console, under_way: Replay) -> Iterator[View]:
    """The live view of the replay, entered once everything is up."""
    scenario = under_way.scenario
    console.print(
        f"{len(under_way.filings)} 份申请 filings · {len(scenario.branches)} 个网点 branches · "
        f"{scenario_time(scenario.clock.start)} ×{scenario.clock.scale:g} · "
        f"数据库 database {under_way.database} · API {under_way.api_url}",
        style="dim",
        markup=False,
    )
    dashboard = _Dashboard(
        scenario, under_way.filings, under_way.clock, under_way.calendar, console
    )
    if not console.is_terminal or console.is_dumb_terminal:
        console.print(_legend(console.width))
        yield dashboard
        return
    with Live(dashboard.render(), console=console, auto_refresh=False) as live:
        dashboard.live = live
        yield dashboard


def _exit_code(outcome: ReplayOutcome, totals: Mapping[str, Any]) -> int:
    """0 if every filing completed; 130 if interrupted; 1 otherwise."""
    if outcome.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_COMPLETE if totals["complete"] == totals["total"] else EXIT_INCOMPLETE


def _document(outcome: ReplayOutcome, totals: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON summary (`--json`)."""
    code = _exit_code(outcome, totals)
    return {
        "scenario": outcome.scenario,
        "ok": code == EXIT_COMPLETE,
        "exit_code": code,
        "database": str(outcome.database),
        "real_seconds": round(outcome.real_seconds, 2),
        "timed_out": outcome.timed_out,
        **totals,
        "filings": outcome.rows,
    }


def _print_summary(console: Console, outcome: ReplayOutcome, totals: Mapping[str, Any]) -> None:
    rows = outcome.rows
    console.print()
    console.print(_summary_table(rows, width=console.width))
    console.print(_totals_line(totals, outcome.real_seconds))
    print_reasons(console, rows)
    if outcome.timed_out:
        unfinished = [f"#{r['number']} {r['company_name']}" for r in rows if not r["complete"]]
        console.print(
            f"超时 timed out after {outcome.timeout:g}s; not complete: {', '.join(unfinished)}",
            style="bold red",
            markup=False,
        )
    if outcome.interrupted:
        console.print("已中断 interrupted", style="bold red")


def _keep_serving(console: Console, outcome: ReplayOutcome, under_way: Replay) -> None:
    """The summary, then the portal and the tracking page served until Ctrl-C: a newcomer
    signs in as the clerk who filed first and clicks through what the replay filed."""
    _print_summary(console, outcome, _totals(outcome.rows))
    rt = under_way.runtime
    # A person clicks at life speed: portal sessions time out in minutes of this clock.
    runtime.install(replace(rt, clock=Clock(origin=rt.clock.now(), real_start=time.time())))
    first = under_way.filings[0]
    username = first.plan.clerk_username
    password = secrets.token_urlsafe(12)
    with rt.database.transaction() as session:
        set_password(session, username, password)
    # What the applicant of the first filing holds: the receipt's code, their mobile's end.
    digits = first.plan.filing.legal_representative.mobile[-4:]
    console.print()
    for line in (
        f"网点门户 branch portal  {under_way.api_url}/portal/login",
        f"    登录 sign in as {username} · 密码 password {password}",
        f"申请跟踪 tracking page  {tracking_url(under_way.api_url, first.tracking_code or '')}",
        f"    手机尾号 mobile ending {digits}",
        "按 Ctrl-C 停止 · press Ctrl-C to stop",
    ):
        console.print(line, markup=False, highlight=False)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        console.print("已停止 stopped", style="dim")


def run_demo(
    scenario_path: Path | str | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    as_json: bool = False,
    directory: Path = VAR_DIR,
    console: Console | None = None,
    serve: bool | None = None,
) -> int:
    """Replay a scenario (default: the demo) embedded, the clerks filing over HTTP.

    Returns the process exit code: 0 if every filing completed; 1 if one did not (refused,
    rejected, or still under way after `timeout` real seconds), each with its reason; 2 if
    the scenario cannot be used; 130 if interrupted. With `as_json` the last line printed
    is the summary as one JSON object. The database is a fresh file in `directory`.
    With `serve` (default: when the console is a terminal) the summary is followed by the
    addresses of the portal and the tracking page and a staff sign-in, served until Ctrl-C.

    It starts (and stops) an embedded Celery worker of its own: run it in a process that
    has no other, since stopping one sets Celery's process-wide shutdown flag.
    """
    console = console_for(console)
    path = Path(scenario_path) if scenario_path is not None else DEMO_SCENARIO
    scenario = load_or_explain(path, cannot_zh="无法演示")
    if scenario is None:
        return EXIT_BAD_SCENARIO
    print_title(console, "演示 demo", scenario)
    if serve is None:
        serve = console.is_terminal and not console.is_dumb_terminal
    try:
        outcome = replay(
            ReplayPlan.of(scenario),
            fresh_database(directory, "demo"),
            view=partial(_dashboard, console),
            log_console=console,
            timeout=timeout,
            linger=partial(_keep_serving, console) if serve else None,
        )
    except KeyboardInterrupt:  # while starting or stopping: everything has unwound
        console.print("已中断 interrupted", style="bold red")
        return EXIT_INTERRUPTED
    totals = _totals(outcome.rows)
    if not serve or outcome.interrupted:  # else printed before serving
        _print_summary(console, outcome, totals)
    if as_json:  # last, once everything has stopped: a test reads the final line
        console.out(json.dumps(_document(outcome, totals), ensure_ascii=False), highlight=False)
    return _exit_code(outcome, totals)
