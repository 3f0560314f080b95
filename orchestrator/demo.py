"""`onestop demo`: replay a scenario embedded, the branch clerks filing over HTTP.

Everything runs in this process on a fresh SQLite file: the Celery worker thread on the
in-memory broker, beat, the agency simulators (with the scenario's latencies, scaled) and
the JSON API. Each clerk files their filings at the scheduled instant (scenario offset ÷
scale, in real seconds) with their own bearer token and an Idempotency-Key, watches them
through the API, supplements a 容缺 material once a step waits for it, and hands licence
and seals over at the counter. The run ends with a summary against the district's
working-day target; the exit code says whether every filing was completed.
"""

from __future__ import annotations

import json
import logging
import statistics
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich import box
from rich.cells import cell_len, set_cell_size
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.logging import RichHandler
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from orchestrator import runtime
from orchestrator.calendar import WorkingCalendar
from orchestrator.clock import CHINA, Clock
from orchestrator.reference import load_reference
from orchestrator.scenarios import (
    DEMO_SCENARIO,
    BehaviourChange,
    Scenario,
    ScenarioError,
    ScheduledFiling,
    load_scenario,
)
from orchestrator.settings import VAR_DIR, Settings
from orchestrator.workflow import STEPS

EXIT_COMPLETE = 0
EXIT_INCOMPLETE = 1
EXIT_BAD_SCENARIO = 2
EXIT_INTERRUPTED = 130

POLL_SECONDS = 0.25  # how often the clerks look at their filings (real time)
DEFAULT_TIMEOUT_SECONDS = 120.0

_FINISHED = frozenset({"complete", "action_required", "cancelled"})

# Step states as the strip shows them: a symbol (one or two cells) and a colour.
_STEP_MARKS: dict[str, tuple[str, str]] = {
    "waiting": ("·", "bright_black"),
    "ready": ("◐", "yellow"),
    "running": ("◐", "yellow"),
    "submitted": ("⧗", "cyan"),
    "blocked": ("⚠", "bold magenta"),
    "at_branch": ("🏦", "bold blue"),
    "done": ("✔", "green"),
    "rejected": ("✘", "bold red"),
    "cancelled": ("-", "bright_black"),
}
_LEGEND = (
    ("·", "waiting", "等待"),
    ("◐", "running", "办理中"),
    ("⧗", "submitted", "已提交"),
    ("✔", "done", "完成"),
    ("⚠", "blocked", "待补正"),
    ("✘", "rejected", "驳回"),
    ("🏦", "at_branch", "待领取"),
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
    "small_scale": ("小规模纳税人", "small-scale"),
    "general": ("一般纳税人", "general"),
}
_WEEKDAYS = "一二三四五六日"

# Libraries that would otherwise talk over the live display.
_NOISY_LOGGERS = ("celery", "kombu", "amqp", "uvicorn", "uvicorn.error", "uvicorn.access", "httpx")


# The clerks' side of a filing -------------------------------------------------------------


@dataclass
class Tracked:
    """One scenario filing as the clerk who files it sees it (through the API)."""

    number: int
    plan: ScheduledFiling
    branch_name: str
    clerk_name: str
    idempotency_key: str
    tracking_code: str | None = None
    detail: dict[str, Any] | None = None
    refused: str | None = None  # why the branch could not file it at all
    failure: str | None = None  # why the clerk could not act on it
    supplemented: list[str] = field(default_factory=list)
    handed_over: bool = False
    _attempted: set[str] = field(default_factory=set)  # clerk actions tried, once each

    @property
    def company_name(self) -> str:
        """The full registered name (区划 + 字号 + 行业 + 组织形式)."""
        return self.plan.filing.company_name.full

    @property
    def status(self) -> str:
        """The filing's status, `scheduled` before it is filed, `refused` if it never was."""
        if self.refused is not None:
            return "refused"
        if self.detail is None:
            return "scheduled"
        return str(self.detail["status"])

    @property
    def finished(self) -> bool:
        """Nothing more will happen to it without a person deciding something new."""
        return self.status in _FINISHED or self.status == "refused" or self.failure is not None

    def steps(self) -> dict[str, dict[str, Any]]:
        """The filing's steps by name (none before it is filed)."""
        return {s["name"]: s for s in self.detail["steps"]} if self.detail else {}

    def result(self, step: str) -> Mapping[str, Any]:
        """What the agency of `step` answered ({} until it is done)."""
        found = self.steps().get(step)
        return (found or {}).get("result") or {}


class _ClerkDesk:
    """The clerks at their counters: each files, watches and acts with their own token."""

    def __init__(
        self,
        client: httpx.Client,
        tokens: Mapping[str, str],
        notes: _Notes,
    ) -> None:
        self._client = client
        self._tokens = tokens
        self._notes = notes

    def _headers(self, tracked: Tracked, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._tokens[tracked.plan.clerk_username]}", **extra}

    def _post(self, tracked: Tracked, url: str, **kwargs: Any) -> httpx.Response:
        """POST, retried on a lost connection or a 5xx (every POST here is idempotent)."""
        headers = self._headers(tracked, **kwargs.pop("headers", {}))
        for attempt in range(3):
            try:
                response = self._client.post(url, headers=headers, **kwargs)
            except httpx.TransportError:
                if attempt == 2:
                    raise
            else:
                if response.status_code < 500 or attempt == 2:
                    return response
            time.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")

    def file(self, tracked: Tracked) -> None:
        """File as the clerk would: their token, the filing's own Idempotency-Key."""
        try:
            response = self._post(
                tracked,
                "/api/v1/filings",
                json=tracked.plan.filing.model_dump(mode="json"),
                headers={"Idempotency-Key": tracked.idempotency_key},
            )
        except httpx.TransportError as error:
            tracked.refused = f"API unreachable: {error}"
            return
        if response.status_code not in (200, 201):
            tracked.refused = _api_error(response)
            self._notes.add("✘", tracked, f"受理被拒 refused at intake: {tracked.refused}", "red")
            return
        tracked.detail = response.json()
        tracked.tracking_code = tracked.detail["tracking_code"]
        deadline = datetime.fromisoformat(tracked.detail["deadline_at"])
        missing = [m["code"] for m in tracked.detail["materials"] if m["status"] == "missing"]
        extra = f"，容缺 to supplement: {', '.join(missing)}" if missing else ""
        self._notes.add(
            "📝",
            tracked,
            f"受理 filed {tracked.tracking_code} (承诺 deadline {deadline:%m-%d %H:%M}{extra})",
        )

    def look(self, tracked: Tracked) -> None:
        """Refresh the filing from the API; a failed look is simply tried again later."""
        assert tracked.tracking_code is not None
        try:
            response = self._client.get(
                f"/api/v1/filings/{tracked.tracking_code}", headers=self._headers(tracked)
            )
        except httpx.TransportError:
            return
        if response.status_code == 200:
            tracked.detail = response.json()

    def act(self, tracked: Tracked) -> None:
        """Do what only a person can: supplement what a step waits for; hand over at the branch."""
        steps = tracked.steps()
        blocked = {name for name, step in steps.items() if step["status"] == "blocked"}
        for material in tracked.detail["materials"] if tracked.detail else ():
            code = material["code"]
            if material["status"] != "missing" or not blocked.intersection(material["blocks"]):
                continue
            if self._once(tracked, f"supplement:{code}"):
                url = f"/api/v1/filings/{tracked.tracking_code}/materials/{code}"
                if self._acted(tracked, self._post(tracked, url, json={"data": {}})):
                    tracked.supplemented.append(code)
                    name = _material_name(code)
                    self._notes.add("✍", tracked, f"补正材料 supplemented {name} ({code})", "cyan")
        if steps.get("delivery", {}).get("status") == "at_branch" and self._once(
            tracked, "handover"
        ):
            url = f"/api/v1/filings/{tracked.tracking_code}/handover"
            if self._acted(tracked, self._post(tracked, url)):
                tracked.handed_over = True
                self._notes.add(
                    "🤝", tracked, "交付证照和印章 handed licence and seals over", "blue"
                )

    @staticmethod
    def _once(tracked: Tracked, action: str) -> bool:
        if action in tracked._attempted:
            return False
        tracked._attempted.add(action)
        return True

    def _acted(self, tracked: Tracked, response: httpx.Response) -> bool:
        if response.status_code == 200:
            tracked.detail = response.json()
            return True
        tracked.failure = _api_error(response)
        self._notes.add("✘", tracked, f"操作失败 action failed: {tracked.failure}", "red")
        return False


def _api_error(response: httpx.Response) -> str:
    """The API's bilingual error, or the status line."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if not isinstance(body, dict) or "message_en" not in body:
        return f"HTTP {response.status_code}"
    fields = [f"{e.get('field')}: {e.get('message_en')}" for e in body.get("errors", []) or []]
    return f"{body.get('message_zh')} / {body['message_en']}" + (
        f" ({'; '.join(fields)})" if fields else ""
    )


def _material_name(code: str) -> str:
    found = load_reference().materials.get(code)
    return found.name_zh if found is not None else code


# What the clerks say out loud: one line each, above the live display ------------------------


class _Notes:
    """Clerk actions and agency changes, printed as one line each at the scenario time."""

    def __init__(self, console: Console, clock: Clock) -> None:
        self._console = console
        self._clock = clock

    def add(self, icon: str, tracked: Tracked | None, text: str, style: str = "") -> None:
        """Print `icon 09:41 clerk text · company`."""
        line = Text.assemble(
            (f"{self._clock.now():%H:%M} ", "bright_black"),
            f"{icon} ",
            (f"{tracked.clerk_name} ", "bold") if tracked else "",
            (text, style),
            (f" · {tracked.company_name}", "") if tracked else "",
        )
        self._console.print(line, soft_wrap=True, highlight=False)


# The live display ----------------------------------------------------------------------------


def _strip(tracked: Tracked, *, plain: bool = False) -> Text:
    """One symbol per step, in workflow order, two cells each (aligned under the header)."""
    steps = tracked.steps()
    text = Text()
    for spec in STEPS:
        status = steps.get(spec.name, {}).get("status", "waiting")
        symbol, style = _STEP_MARKS.get(status, ("?", ""))
        text.append(symbol, style="" if plain else style)
        text.append(" " * (2 - cell_len(symbol)))
    return text


_STRIP_HEADER = "".join(spec.label_zh[0] for spec in STEPS)  # 登印银税社医公证
_STRIP_KEY = " · ".join(f"{spec.label_zh[0]} {spec.label_en.lower()}" for spec in STEPS)


def _status_text(tracked: Tracked) -> Text:
    zh, en, style = _STATUS_LABELS.get(tracked.status, (tracked.status, "", ""))
    return Text(f"{zh} {en}", style=style)


def _branch_label(branch_name: str, bank_code: str) -> str:
    """`中国农业银行寿光市支行营业部` → `ABC 寿光市支行营业部`: the table stays narrow."""
    bank = load_reference().banks.get(bank_code)
    if bank is not None and branch_name.startswith(bank.name_zh):
        return f"{bank_code} {branch_name[len(bank.name_zh) :]}"
    return branch_name


def _working_time(elapsed: timedelta, calendar: WorkingCalendar) -> str:
    """`1h05m · 0.15d`: working time, and as a fraction of a working day."""
    minutes = int(elapsed.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    span = f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"
    return f"{span} · {elapsed / calendar.day_length:.2f}d"


def _elapsed(tracked: Tracked, calendar: WorkingCalendar, now: datetime) -> timedelta | None:
    """Working time from acceptance to ready (or to `now`, while not ready)."""
    if tracked.detail is None:
        return None
    accepted = datetime.fromisoformat(tracked.detail["accepted_at"])
    ready = tracked.detail.get("ready_at")
    return calendar.elapsed(accepted, datetime.fromisoformat(ready) if ready else now)


class _Dashboard:
    """The live table: one row per filing, a legend, and the overall bar."""

    def __init__(
        self,
        scenario: Scenario,
        filings: Sequence[Tracked],
        clock: Clock,
        calendar: WorkingCalendar,
    ) -> None:
        self._scenario = scenario
        self._filings = filings
        self._clock = clock
        self._calendar = calendar
        self._started = time.monotonic()
        self._printed: dict[int, str] = {}

    def render(self) -> RenderableType:
        """The table, the legend and the bar, as they stand now."""
        now = self._clock.now()
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=False, header_style="bold")
        table.add_column("#", justify="right", style="bright_black")
        table.add_column("企业名称\nCompany", no_wrap=True)
        table.add_column("网点\nBranch", no_wrap=True, max_width=22, overflow="ellipsis")
        table.add_column(f"{_STRIP_HEADER}\nsteps", no_wrap=True)
        table.add_column("状态\nStatus", no_wrap=True)
        table.add_column("工作用时\nWorking time", justify="right", no_wrap=True)
        for tracked in self._filings:
            elapsed = _elapsed(tracked, self._calendar, now)
            due = self._scenario.clock.at(timedelta(seconds=tracked.plan.offset_seconds))
            table.add_row(
                str(tracked.number),
                tracked.company_name,
                tracked.branch_name,
                _strip(tracked),
                _status_text(tracked),
                _working_time(elapsed, self._calendar) if elapsed is not None else f"@{due:%H:%M}",
            )
        done = sum(1 for t in self._filings if t.status == "complete")
        bar = Table.grid(padding=(0, 1))
        bar.add_row(
            Text("办结 Complete", style="bold"),
            ProgressBar(total=len(self._filings), completed=done, width=30),
            Text(f"{done}/{len(self._filings)}"),
            Text(f"  场景时间 scenario {_when(now)} ×{self._scenario.clock.scale:g}", style="dim"),
            Text(f" · {time.monotonic() - self._started:.1f}s", style="dim"),
        )
        legend = Text.assemble(
            *(
                part
                for symbol, en, zh in _LEGEND
                for part in ((symbol, _STEP_MARKS[en][1]), f" {zh} {en.replace('_', ' ')}  ")
            ),
            style="dim",
        )
        return Group(table, Text(_STRIP_KEY, style="dim"), legend, Text(), bar)

    def print_changes(self, console: Console) -> None:
        """Without a terminal: one plain line per filing whose steps or status changed."""
        now = self._clock.now()
        for tracked in self._filings:
            if tracked.detail is None and tracked.refused is None:
                continue
            strip = _strip(tracked, plain=True).plain
            zh, en, _ = _STATUS_LABELS.get(tracked.status, (tracked.status, "", ""))
            state = f"{strip}  {zh} {en}"
            if self._printed.get(tracked.number) == state:
                continue
            self._printed[tracked.number] = state
            elapsed = _elapsed(tracked, self._calendar, now)
            took = f"  {_working_time(elapsed, self._calendar)}" if elapsed is not None else ""
            console.print(
                f"{now:%H:%M:%S} #{tracked.number} {set_cell_size(tracked.company_name, 26)}"
                f" {state}{took}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )


def _when(instant: datetime) -> str:
    return f"{instant:%Y-%m-%d} 周{_WEEKDAYS[instant.weekday()]} {instant:%H:%M}"


# The summary ---------------------------------------------------------------------------------


def _summaries(
    filings: Sequence[Tracked], calendar: WorkingCalendar, *, timed_out: float | None
) -> list[dict[str, Any]]:
    """The per-filing summary (what `--json` prints)."""
    reference = load_reference()
    rows = []
    for tracked in filings:
        detail = tracked.detail or {}
        district = tracked.plan.filing.district_code
        target = reference.districts[district].policy.sla_working_days
        elapsed = None
        if detail.get("ready_at"):
            elapsed = calendar.elapsed(
                datetime.fromisoformat(detail["accepted_at"]),
                datetime.fromisoformat(detail["ready_at"]),
            )
        days = elapsed / calendar.day_length if elapsed is not None else None
        tax = tracked.result("tax")
        bank = tracked.result("bank_account")
        rows.append(
            {
                "number": tracked.number,
                "tracking_code": tracked.tracking_code,
                "company_name": tracked.company_name,
                "branch_code": tracked.plan.branch_code,
                "clerk": tracked.plan.clerk_username,
                "status": tracked.status,
                "complete": tracked.status == "complete",
                "credit_code": detail.get("credit_code"),
                "bank_account_number": bank.get("account_number"),
                "bank_code": bank.get("bank_code"),
                "taxpayer_id": tax.get("taxpayer_id"),
                "taxpayer_type": tax.get("taxpayer_type"),
                "tax_registered": bool(tax),
                "accepted_at": detail.get("accepted_at"),
                "ready_at": detail.get("ready_at"),
                "completed_at": detail.get("completed_at"),
                "deadline_at": detail.get("deadline_at"),
                "working_hours_to_ready": (
                    round(elapsed.total_seconds() / 3600, 4) if elapsed is not None else None
                ),
                "working_days_to_ready": round(days, 4) if days is not None else None,
                "target_working_days": target,
                "within_target": days is not None and days <= target,
                "supplemented": list(tracked.supplemented),
                "handed_over": tracked.handed_over,
                "events": [e["kind"] for e in detail.get("events", [])],
                "reason": _reason(tracked, timed_out),
            }
        )
    return rows


def _reason(tracked: Tracked, timed_out: float | None) -> str | None:
    """Why a filing is not complete, in words a clerk can act on; None if it is."""
    if tracked.status == "complete":
        return None
    if tracked.refused is not None:
        return f"未受理 refused at intake: {tracked.refused}"
    if tracked.failure is not None:
        return f"操作失败 clerk action failed: {tracked.failure}"
    steps = tracked.steps()
    rejected = [s for s in steps.values() if s["status"] == "rejected"]
    if rejected:
        return "; ".join(
            f"{s['label_zh']} {s['label_en']} 驳回 rejected: {s['reason']}" for s in rejected
        )
    if tracked.status == "cancelled":
        return "已撤销 cancelled"
    pending = ", ".join(
        f"{s['name']} {s['status']}" + (f" ({s['last_error']})" if s.get("last_error") else "")
        for s in steps.values()
        if s["status"] != "done"
    )
    when = f"after {timed_out:g}s" if timed_out is not None else "when the demo stopped"
    if tracked.detail is None:
        return f"未提交 not filed {when}"
    return f"超时未办结 not complete {when}; waiting: {pending}"


def _summary_table(rows: Sequence[dict[str, Any]]) -> Table:
    table = Table(
        title="办结汇总 Summary",
        box=box.SIMPLE_HEAD,
        show_lines=True,
        header_style="bold",
        title_style="bold",
        pad_edge=False,
    )
    table.add_column("企业名称 Company\n受理编号 Tracking code")
    table.add_column("统一社会信用代码\n基本户账号 Bank account", no_wrap=True)
    table.add_column("税务登记\nTax", no_wrap=True)
    table.add_column("受理→就绪 工作用时\nWorking time to ready", justify="right", no_wrap=True)
    table.add_column("达标\nMet", justify="center")
    table.add_column("办结\nComplete", no_wrap=True)
    for row in rows:
        taxpayer = _TAXPAYER_TYPES.get(row["taxpayer_type"] or "", (row["taxpayer_type"], ""))
        tax = (
            Text(f"{taxpayer[0]} 已登记\n{taxpayer[1]}, registered", style="green")
            if row["tax_registered"]
            else Text("—")
        )
        if row["working_hours_to_ready"] is not None:
            time_cell = Text(
                f"{row['working_hours_to_ready']:.2f} h\n"
                f"{row['working_days_to_ready']:.3f} / {row['target_working_days']:g} 工作日 d"
            )
        else:
            time_cell = Text("—")
        met = Text("✔", style="bold green") if row["within_target"] else Text("✘", style="bold red")
        completed = (
            Text(f"{datetime.fromisoformat(row['completed_at']):%H:%M}\n"
                 f"{datetime.fromisoformat(row['completed_at']):%m-%d}")
            if row["completed_at"]
            else _status_cell(row["status"])
        )  # fmt: skip
        table.add_row(
            Text(f"{row['company_name']}\n{row['tracking_code'] or '—'}"),
            Text(f"{row['credit_code'] or '—'}\n{row['bank_account_number'] or '—'}"),
            tax,
            time_cell,
            met,
            completed,
        )
    return table


def _status_cell(status: str) -> Text:
    zh, en, style = _STATUS_LABELS.get(status, (status, "", ""))
    return Text(f"{zh}\n{en}", style=style)


def _totals(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    complete = [r for r in rows if r["complete"]]
    hours = [
        r["working_hours_to_ready"] for r in complete if r["working_hours_to_ready"] is not None
    ]
    days = [r["working_days_to_ready"] for r in complete if r["working_days_to_ready"] is not None]
    within = sum(1 for r in rows if r["complete"] and r["within_target"])
    return {
        "total": len(rows),
        "complete": len(complete),
        "median_working_hours_to_ready": round(statistics.median(hours), 4) if hours else None,
        "median_working_days_to_ready": round(statistics.median(days), 4) if days else None,
        "within_target": within,
        "within_target_share": round(within / len(rows), 4) if rows else None,
    }


def _totals_line(totals: Mapping[str, Any], real_seconds: float) -> Text:
    share = totals["within_target_share"]
    median_h = totals["median_working_hours_to_ready"]
    median = (
        f"{median_h:.2f} h ({totals['median_working_days_to_ready']:.3f} 工作日 working day)"
        if median_h is not None
        else "—"
    )
    ok = totals["complete"] == totals["total"]
    return Text.assemble(
        (
            f"办结 {totals['complete']}/{totals['total']} complete",
            "bold green" if ok else "bold red",
        ),
        f" · 中位用时 median {median}",
        f" · 达标 within target {share:.0%}" if share is not None else "",
        f" ({totals['within_target']}/{totals['total']})",
        (f" · 实际 real {real_seconds:.1f}s", "dim"),
    )


# The run -------------------------------------------------------------------------------------


def demo_settings(scenario: Scenario, database_url: str) -> Settings:
    """Embedded settings for a replay: agency timeout, step leases and sweeps sized to the
    scenario's slowest agency (in real seconds), so a lost message costs seconds, not minutes."""
    config = scenario.simulator_config()
    slowest = max(
        ((b.latency_ms + b.latency_jitter_ms) / 1000 for b in config.behaviours.values()),
        default=0.0,
    )
    agency_timeout = min(10.0, max(2.0, 4 * slowest + 1))
    lease = agency_timeout + 2
    return Settings(
        database_url=database_url,
        broker_url="memory://localhost/",
        agencies_url=None,  # always the scenario's own simulators
        clock_origin=scenario.clock.start,
        clock_scale=scenario.clock.scale,
        agency_timeout_seconds=agency_timeout,
        step_lease_seconds=lease,
        sweep_interval_seconds=min(5.0, max(0.5, lease / 4)),
        retry_base_seconds=0.1,
        retry_max_countdown_seconds=max(2.0, lease),
    )


def _fresh_database(directory: Path) -> Path:
    """`var/demo-20261123-093000.db`, never one that exists: every run starts fresh."""
    stamp = datetime.now(CHINA).strftime("%Y%m%d-%H%M%S")
    path = directory / f"demo-{stamp}.db"
    n = 1
    while path.exists():
        n += 1
        path = directory / f"demo-{stamp}-{n}.db"
    return path


@contextmanager
def _quiet_logging(console: Console) -> Iterator[None]:
    """WARNING and above only, printed through `console` (above the live display).

    A handler on the root logger also keeps Celery's worker from installing its own, which
    would write to the terminal behind the live display's back.
    """
    saved = {name: logging.getLogger(name).level for name in _NOISY_LOGGERS}
    for name in _NOISY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)
    root = logging.getLogger()
    handler = RichHandler(console=console, level=logging.WARNING, show_time=False, show_path=False)
    added = not root.handlers
    if added:
        root.addHandler(handler)
    try:
        yield
    finally:
        if added:
            root.removeHandler(handler)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def _issue_tokens(rt: runtime.Runtime, scenario: Scenario) -> dict[str, str]:
    """Seed the scenario's people; a bearer token for every member of branch staff."""
    from orchestrator.identity.models import Staff
    from orchestrator.identity.service import issue_token
    from orchestrator.seed import seed_people

    with rt.database.transaction() as session:
        ids = seed_people(session, scenario)
        tokens = {}
        for branch in scenario.branches:
            for member in branch.staff:
                staff = session.get(Staff, ids[member.username])
                assert staff is not None
                tokens[member.username] = issue_token(
                    session, staff, now=rt.clock.now(), label="demo", ttl=timedelta(days=1)
                )
        return tokens


def _tracked(scenario: Scenario, run_id: str) -> list[Tracked]:
    branches = {b.code: b for b in scenario.branches}
    filings = []
    for number, plan in enumerate(scenario.filings_in_order(), start=1):
        branch = branches[plan.branch_code]
        names = {m.username: m.name for m in branch.staff}
        filings.append(
            Tracked(
                number=number,
                plan=plan,
                branch_name=_branch_label(branch.name, branch.bank_code),
                clerk_name=names[plan.clerk_username],
                idempotency_key=f"demo-{run_id}-{number}",
            )
        )
    return filings


@dataclass(order=True)
class _Due:
    """Something the replay does at a real-time offset: file a filing, change an agency."""

    at: float
    order: int
    what: Tracked | BehaviourChange = field(compare=False)


def run_demo(
    scenario_path: Path | str | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    as_json: bool = False,
    directory: Path = VAR_DIR,
    console: Console | None = None,
) -> int:
    """Replay the scenario embedded, clerks filing over HTTP; the process exit code.

    0 if every filing completed; 1 if any did not (rejected, refused, or still running at
    `timeout` real seconds), each with its reason; 2 if the scenario cannot be used.
    """
    started = time.monotonic()
    console = console or Console(highlight=False)
    if not console.is_terminal and console.width == 80:  # a pipe or a log: room for the tables
        console = Console(file=console.file, width=120, highlight=False)
    path = Path(scenario_path) if scenario_path is not None else DEMO_SCENARIO
    try:
        scenario = load_scenario(path, name=str(scenario_path or path))
    except ScenarioError as error:
        err = Console(stderr=True, highlight=False)
        err.print("场景文件有误，无法演示 / the scenario cannot be used:", style="bold red")
        err.print(str(error), markup=False)
        return EXIT_BAD_SCENARIO

    from integrations.simulators.server import serve_in_thread
    from orchestrator.api.app import create_app
    from orchestrator.embedded import run_embedded

    database = _fresh_database(directory)
    settings = demo_settings(scenario, f"sqlite:///{database}")
    live_display = console.is_terminal and not console.is_dumb_terminal
    console.print(
        Text.assemble(
            ("OneStop 演示 demo", "bold"),
            f" · {scenario.name} · {scenario.description_zh or scenario.description_en}",
        ),
        soft_wrap=True,
    )
    filings: list[Tracked] = []
    timed_out: float | None = None
    interrupted = False
    with ExitStack() as stack:
        stack.enter_context(_quiet_logging(console))
        rt = stack.enter_context(
            run_embedded(settings, simulators=scenario.simulator_config(), beat=True)
        )
        api = serve_in_thread(create_app())
        stack.callback(api.stop)
        client = stack.enter_context(httpx.Client(base_url=api.base_url, timeout=15))
        agencies = stack.enter_context(httpx.Client(base_url=rt.agencies_url or "", timeout=5))
        tokens = _issue_tokens(rt, scenario)
        filings = _tracked(scenario, database.stem.removeprefix("demo-"))

        # Scenario time starts now, not when the process did: the first filing arrives at
        # the scenario's start instant however long the worker took to start.
        zero = time.time()
        clock = Clock(origin=scenario.clock.start, scale=scenario.clock.scale, real_start=zero)
        rt = runtime.install(
            replace(
                rt, settings=settings.model_copy(update={"clock_real_start": zero}), clock=clock
            )
        )
        console.print(
            f"{len(filings)} 份申请 filings · {len(scenario.branches)} 个网点 branches · "
            f"场景时间 scenario time {_when(scenario.clock.start)} ×{scenario.clock.scale:g} · "
            f"数据库 database {database}",
            style="dim",
            soft_wrap=True,
            markup=False,
        )
        notes = _Notes(console, clock)
        desk = _ClerkDesk(client, tokens, notes)
        dashboard = _Dashboard(scenario, filings, clock, rt.calendar)
        timeline = sorted(
            [_Due(scenario.clock.real_seconds(timedelta(seconds=t.plan.offset_seconds)), 0, t)
             for t in filings]
            + [_Due(scenario.clock.real_seconds(timedelta(seconds=c.offset_seconds)), 1, c)
               for c in scenario.behaviour_changes()]
        )  # fmt: skip
        live = (
            stack.enter_context(
                Live(dashboard.render(), console=console, auto_refresh=False, transient=False)
            )
            if live_display
            else None
        )
        deadline = started + timeout
        try:
            next_look = 0.0
            while True:
                now = time.time() - zero
                while timeline and timeline[0].at <= now:
                    due = timeline.pop(0).what
                    if isinstance(due, Tracked):
                        desk.file(due)
                    else:
                        _change_agency(agencies, due, notes)
                if now >= next_look:
                    for tracked in filings:
                        if tracked.tracking_code is not None and not tracked.finished:
                            desk.look(tracked)
                            desk.act(tracked)
                    next_look = now + POLL_SECONDS
                    if live is not None:
                        live.update(dashboard.render(), refresh=True)
                    else:
                        dashboard.print_changes(console)
                if not timeline and all(t.finished for t in filings):
                    break
                if time.monotonic() >= deadline:
                    timed_out = timeout
                    break
                wake = min([next_look, *(d.at for d in timeline[:1])])
                time.sleep(max(0.0, min(wake - (time.time() - zero), POLL_SECONDS)))
        except KeyboardInterrupt:
            interrupted = True
        for tracked in filings:  # the full record, events included, as the run ends
            if tracked.tracking_code is not None:
                desk.look(tracked)
        if live is not None:
            live.update(dashboard.render(), refresh=True)
            live.stop()
        else:
            dashboard.print_changes(console)
        rows = _summaries(filings, rt.calendar, timed_out=timed_out)
        totals = _totals(rows)
        console.print()
        console.print(_summary_table(rows))
        console.print(_totals_line(totals, time.monotonic() - started), soft_wrap=True)
        for row in rows:
            if row["reason"]:
                console.print(
                    f"✘ #{row['number']} {row['company_name']}: {row['reason']}",
                    style="red",
                    markup=False,
                    soft_wrap=True,
                )
        if timed_out is not None:
            console.print(
                f"超时 timed out after {timeout:g}s: "
                + ", ".join(f"#{t.number} {t.company_name}" for t in filings if not t.finished),
                style="bold red",
                soft_wrap=True,
            )
    # Everything has stopped (API, worker, beat, simulators): the JSON line comes last.
    real_seconds = time.monotonic() - started
    if as_json:
        document = {
            "scenario": scenario.name,
            "database": str(database),
            "ok": totals["complete"] == totals["total"] and not interrupted,
            "timed_out": timed_out is not None,
            "real_seconds": round(real_seconds, 2),
            **totals,
            "filings": rows,
        }
        console.out(json.dumps(document, ensure_ascii=False), highlight=False)
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_COMPLETE if totals["complete"] == totals["total"] else EXIT_INCOMPLETE


def _change_agency(client: httpx.Client, change: BehaviourChange, notes: _Notes) -> None:
    """Tell the agency's simulator how it behaves from now on (an outage starts or ends)."""
    body = change.behaviour.model_dump(mode="json")
    try:
        client.put(f"/_sim/{change.agency}/behaviour", json=body).raise_for_status()
    except httpx.HTTPError as error:
        notes.add(
            "⚠", None, f"模拟机构 {change.agency} 未能调整 could not be changed: {error}", "red"
        )
        return
    state = "停机 down" if change.behaviour.outage else "恢复 back up"
    notes.add("⚙", None, f"{change.agency} {state}", "yellow")
