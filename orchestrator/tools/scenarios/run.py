"""`onestop run SCENARIO`: replay a scenario embedded and report the outcome in figures.

The replay is the demo's (`orchestrator.tools.scenarios.replay`); what differs is what it
shows.
While it runs: progress bars (filed, ready, complete) and the scenario clock, with whether
the back offices are at work — not a line per event; only agency outages and failures are
noted. At the end: working hours to ready and to complete, the share within the district's
target, retries, rejections, lost filings and duplicate effects (`outcome.ReplayOutcome`).
With `--json` nothing but the figures is printed, as one JSON object on the last line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from orchestrator.calendar import WorkingCalendar
from orchestrator.settings import VAR_DIR
from orchestrator.tools.scenarios.clerks import Tracked
from orchestrator.tools.scenarios.models import Scenario
from orchestrator.tools.scenarios.outcome import (
    EXIT_BAD_SCENARIO,
    EXIT_INTERRUPTED,
    ReplayOutcome,
)
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


class _Quiet:
    """`--json`: nothing shown while the replay runs."""

    def add(self, icon: str, tracked: Tracked | None, text: str, style: str = "") -> None:
        """Nothing."""

    def update(self) -> None:
        """Nothing."""


class _Notes:
    """Only what a reader of the figures needs live: agencies going down, and failures."""

    def __init__(self, console: Console, replay: Replay) -> None:
        self._console = console
        self._replay = replay

    def add(self, icon: str, tracked: Tracked | None, text: str, style: str = "") -> None:
        """Agency changes (no filing) and failures (in red) are printed; the rest is counted."""
        if tracked is not None and "red" not in style:
            return
        now = self._replay.clock.now()
        self._console.print(
            Text.assemble(
                (f"{now:%m-%d %H:%M} ", "bright_black"),
                f"{icon} ",
                (text, style),
                f" · #{tracked.number} {tracked.company_name}" if tracked else "",
            )
        )


def _office_state(calendar: WorkingCalendar, now: datetime) -> str:
    """`办公时间 office hours`, or why the back offices are idle now."""
    if calendar.is_office_time(now):
        return "后台办理中 back offices at work"
    period = calendar.holiday_period(now)
    if period is not None and not calendar.is_workday(now):
        return f"{period.name} {period.name_en}: 后台暂停 back offices closed"
    if not calendar.is_workday(now):
        return "休息日 day off: 后台暂停 back offices closed"
    return "非办公时间 out of office hours"


class _ProgressDisplay:
    """Bars for filed, ready and complete, under the scenario clock."""

    def __init__(self, live: Live, replay: Replay, notes: _Notes) -> None:
        self._live = live
        self._replay = replay
        self.add = notes.add
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(bar_width=40), MofNCompleteColumn()
        )
        total = len(replay.filings)
        self._filed = self._progress.add_task("受理 filed   ", total=total)
        self._ready = self._progress.add_task("就绪 ready   ", total=total)
        self._complete = self._progress.add_task("办结 complete", total=total)

    def render(self) -> RenderableType:
        """The clock line and the bars as they stand now."""
        filings = self._replay.filings
        now = self._replay.clock.now()
        for task, done in (
            (self._filed, sum(1 for t in filings if t.tracking_code is not None)),
            (self._ready, sum(1 for t in filings if (t.detail or {}).get("ready_at"))),
            (self._complete, sum(1 for t in filings if t.status == "complete")),
        ):
            self._progress.update(task, completed=done)
        clock = Text(
            f"场景时间 scenario {scenario_time(now)} "
            f"×{self._replay.plan.scale:g} · {_office_state(self._replay.calendar, now)}",
            style="dim",
        )
        return Group(clock, self._progress)

    def update(self) -> None:
        """Redraw from the filings as the clerks last saw them."""
        self._live.update(self.render(), refresh=True)


@contextmanager
def _progress(console: Console | None, under_way: Replay) -> Iterator[View]:
    """Bars on `console` (its last frame only, if not a terminal); with None, nothing."""
    if console is None:
        yield _Quiet()
        return
    with Live(console=console, auto_refresh=False) as live:
        display = _ProgressDisplay(live, under_way, _Notes(console, under_way))
        display.update()
        yield display


def _hours(value: float | int | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _distribution_table(figures: dict[str, Any]) -> Table:
    table = titled_table("用时分布 time taken, hours")
    table.add_column("受理→ from acceptance to")
    for column in ("n", "min", "p50", "p90", "p95", "max", "mean"):
        table.add_column(column, justify="right")
    for label, key in (("就绪 ready", "ready"), ("办结 complete", "complete")):
        for kind, style in (("working", ""), ("calendar", "dim")):
            numbers = figures[f"{kind}_hours_to_{key}"]
            table.add_row(
                f"{label}, {'工作 working' if kind == 'working' else '日历 calendar'}",
                str(numbers["count"]),
                *(_hours(numbers[q]) for q in ("min", "p50", "p90", "p95", "max", "mean")),
                style=style,
            )
    return table


def _histogram(rows: Sequence[dict[str, Any]], day_hours: float, target: float) -> Text:
    """Working hours to ready, one bar per working hour, the target marked."""
    hours = [r["working_hours_to_ready"] for r in rows if r["working_hours_to_ready"] is not None]
    text = Text()
    if not hours:
        return text
    width = max(1, int(max(hours)) + 1)
    counts = [0] * width
    for value in hours:
        counts[min(width - 1, int(value))] += 1
    peak = max(counts)
    for hour, count in enumerate(counts):
        over = hour + 1 > target * day_hours
        bar = "█" * max(1 if count else 0, round(24 * count / peak))
        text.append(f"{hour:>3}–{hour + 1:<3}h ", "bright_black")
        text.append(f"{bar:<24} ", "red" if over else "green")
        text.append(f"{count}\n")
    return text


def print_outcome(console: Console, outcome: ReplayOutcome) -> None:
    """The figures, for a person."""
    figures = outcome.figures()
    ok = outcome.exit_code == 0
    console.print()
    console.print(_distribution_table(figures))
    target = figures["target_working_days"]
    if isinstance(target, int | float):
        console.print(
            f"受理→就绪分布 accepted→ready, per working hour (target {target:g} wd):", style="bold"
        )
        console.print(_histogram(outcome.rows, outcome.working_day_hours, target), end="")
    share = figures["within_target_share"]
    console.print(
        Text.assemble(
            (f"办结 {figures['complete']}/{figures['filings']} complete", "bold"),
            f" · 就绪 ready {figures['ready']}",
            " · 达标 within target "
            + (
                f"{share:.0%} ({figures['within_target']}/{figures['accepted']})"
                if share is not None
                else "—"
            ),
            f" · 重试 retries {figures['retries']} ({figures['filings_retried']} filings)",
            f" · 驳回 rejections {figures['rejections']}",
        )
    )
    console.print(
        Text.assemble(
            (f"遗失 lost {figures['lost']}", "bold red" if figures["lost"] else "bold green"),
            " · ",
            (
                f"重复办理 duplicate effects {outcome.duplicate_effects}",
                "bold red" if outcome.duplicate_effects else "bold green",
            ),
            (f" · 未受理 not filed {figures['unfiled']}", "bold red") if figures["unfiled"] else "",
            (f" · 实际 real {figures['real_seconds']:.1f}s", "dim"),
        )
    )
    _print_sla(console, figures.get("sla") or {})
    print_reasons(console, [row for row in outcome.rows if row["status"] != "complete"])
    if outcome.timed_out:
        console.print("超时 timed out", style="bold red")
    if outcome.interrupted:
        console.print("已中断 interrupted", style="bold red")
    if not ok:
        console.print("结果不合格 not OK: filings lost or effects duplicated", style="bold red")


def _print_sla(console: Console, sla: dict[str, Any]) -> None:
    """At-risk warnings, their lead time, which then missed, and the estimates' error."""
    if not sla:
        return
    lead = sla["lead_working_hours"]
    error = sla["prediction_error"]["every_prediction"]
    first = sla["prediction_error"]["first_prediction"]
    console.print(
        Text.assemble(
            (f"预警 at-risk warnings {sla['at_risk_warnings']}", "bold"),
            f" (随后超时 then missed {sla['flagged_then_missed']}, "
            f"按时 then met {sla['flagged_then_met']})",
            f" · 提前 lead median {_hours(lead['median'])} h, min {_hours(lead['min'])} h",
            f" · 未预警超时 missed unwarned {sla['missed_unwarned']}",
        )
    )
    console.print(
        f"预计就绪误差 ready-time estimate error (working h): every n={error['count']} "
        f"median {_hours(error['median_hours'])} p90 {_hours(error['p90_hours'])}; "
        f"first n={first['count']} median {_hours(first['median_hours'])} "
        f"p90 {_hours(first['p90_hours'])}"
    )
    for row in sla["flagged"]:
        outcome = "超时 missed" if row["late"] else "按时 met"
        console.print(
            f"⚠ {row['company_name']} {row['tracking_code']}: 预警 at risk "
            f"{_hours(row['lead_working_hours'])} h before the deadline → {outcome}",
            style="yellow",
            markup=False,
        )


def _describe(console: Console, plan: ReplayPlan, short: bool, database: Path) -> None:
    scenario: Scenario = plan.scenario
    print_title(console, "场景回放 run", scenario)
    total = len(list(scenario.filings_in_order()))
    console.print(
        f"{len(plan.filings)}"
        + (f"/{total}" if len(plan.filings) != total else "")
        + f" 份申请 filings{' (short form)' if short else ''} · "
        f"{len(scenario.branches)} 个网点 branches · "
        f"{scenario_time(scenario.clock.start)} ×{plan.scale:g} · "
        f"后台 back offices: {scenario.clock.back_offices} · 数据库 database {database}",
        style="dim",
        markup=False,
    )


def run_scenario(
    path: Path | str,
    *,
    as_json: bool = False,
    short: bool = False,
    max_filings: int | None = None,
    scale: float | None = None,
    seed: int | None = None,
    timeout: float | None = None,
    directory: Path = VAR_DIR,
    console: Console | None = None,
) -> int:
    """Replay the scenario at `path` and report; returns the process exit code.

    0: every filing filed, none lost, no effect duplicated; 1: otherwise; 2: the scenario
    cannot be used (file, line and field named); 130: interrupted. With `as_json` only
    the figures are printed, as one JSON object (the last line).
    """
    console = console_for(console)
    scenario = load_or_explain(path, cannot_zh="无法回放")
    if scenario is None:
        return EXIT_BAD_SCENARIO
    plan = ReplayPlan.of(scenario, short=short, max_filings=max_filings, scale=scale, seed=seed)
    database = fresh_database(directory, "run-" + re.sub(r"[^0-9A-Za-z_-]", "_", Path(path).stem))
    shown = None if as_json else console
    if shown is not None:
        _describe(shown, plan, short, database)
    try:
        outcome = replay(
            plan,
            database,
            view=partial(_progress, shown),
            log_console=shown or Console(stderr=True),
            timeout=timeout,
        )
    except KeyboardInterrupt:  # while starting or stopping: everything has unwound
        console.print("已中断 interrupted", style="bold red")
        return EXIT_INTERRUPTED
    if shown is not None:
        print_outcome(shown, outcome)
    else:
        console.out(json.dumps(outcome.figures(), ensure_ascii=False), highlight=False)
    return outcome.exit_code
