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
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
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
from orchestrator.runtime import Runtime
from orchestrator.scenarios import (
    DEMO_SCENARIO,
    BehaviourChange,
    Branch,
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

DEFAULT_TIMEOUT_SECONDS = 120.0
POLL_SECONDS = 0.25  # how often the clerks look at their filings, and the display refreshes

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
_WEEKDAYS = "一二三四五六日"

# Libraries that would otherwise talk over the live display.
_NOISY_LOGGERS = ("celery", "kombu", "amqp", "uvicorn", "uvicorn.error", "uvicorn.access", "httpx")


# The clerks' side of a filing ----------------------------------------------------------------


@dataclass
class Tracked:
    """One scenario filing as the clerk who files it sees it (through the API)."""

    number: int
    plan: ScheduledFiling
    branch_name: str
    clerk_name: str
    idempotency_key: str
    tracking_code: str | None = None
    detail: dict[str, Any] | None = None  # the API's latest view of it
    refused: str | None = None  # why the branch could not file it at all
    failure: str | None = None  # why a clerk's action on it failed
    supplemented: list[str] = field(default_factory=list)
    handed_over: bool = False
    attempted: set[str] = field(default_factory=set)  # clerk actions tried (each once)

    @property
    def company_name(self) -> str:
        """The full registered name (区划 + 字号 + 行业 + 组织形式)."""
        return self.plan.filing.company_name.full

    @property
    def status(self) -> str:
        """The filing's status; `scheduled` before it is filed, `refused` if it never was."""
        if self.refused is not None:
            return "refused"
        return "scheduled" if self.detail is None else str(self.detail["status"])

    @property
    def finished(self) -> bool:
        """Nothing more will happen to it unless a person decides something new."""
        return self.failure is not None or self.status in (
            "complete",
            "action_required",
            "cancelled",
            "refused",
        )

    def steps(self) -> dict[str, dict[str, Any]]:
        """The filing's steps by name (none before it is filed)."""
        return {s["name"]: s for s in self.detail["steps"]} if self.detail else {}

    def result(self, step: str) -> dict[str, Any]:
        """What the agency of `step` answered ({} until the step is done)."""
        return dict(self.steps().get(step, {}).get("result") or {})


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


class _ClerkDesk:
    """The clerks at their counters: each files, looks and acts with their own token."""

    def __init__(self, client: httpx.Client, tokens: Mapping[str, str], notes: _Notes) -> None:
        self._client = client
        self._tokens = tokens
        self._notes = notes

    def _headers(self, tracked: Tracked, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._tokens[tracked.plan.clerk_username]}", **extra}

    def _post(
        self, tracked: Tracked, url: str, *, headers: Mapping[str, str] = {}, **kwargs: Any
    ) -> httpx.Response:
        """POST, retried after a lost connection or a 5xx: every POST here may be repeated."""
        for attempt in range(1, 4):
            try:
                response = self._client.post(
                    url, headers=self._headers(tracked, **headers), **kwargs
                )
            except httpx.TransportError:
                if attempt == 3:
                    raise
            else:
                if response.status_code < 500 or attempt == 3:
                    return response
            time.sleep(0.2 * attempt)
        raise AssertionError("unreachable")

    def file(self, tracked: Tracked) -> None:
        """File as the clerk would: their token, and the filing's own Idempotency-Key."""
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
            self._notes.add("✘", tracked, f"受理被拒 refused: {tracked.refused}", "red")
            return
        tracked.detail = response.json()
        tracked.tracking_code = tracked.detail["tracking_code"]
        deadline = datetime.fromisoformat(tracked.detail["deadline_at"])
        missing = [
            _material_name(m["code"])
            for m in tracked.detail["materials"]
            if m["status"] == "missing"
        ]
        self._notes.add(
            "📝",
            tracked,
            f"受理 filed {tracked.tracking_code}, 承诺 due {deadline:%H:%M}"
            + (f", 容缺 to supplement: {'、'.join(missing)}" if missing else ""),
        )

    def look(self, tracked: Tracked) -> None:
        """Refresh the filing from the API; a failed look is simply made again next time."""
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
        for material in (tracked.detail or {}).get("materials", []):
            code = material["code"]
            if material["status"] == "missing" and blocked.intersection(material["blocks"]):
                # The data a material carries is already in the filing: the paper is what lacked.
                done = self._once(
                    tracked,
                    f"supplement:{code}",
                    f"/api/v1/filings/{tracked.tracking_code}/materials/{code}",
                    {"data": {}},
                    partial(_supplied, code=code),
                )
                if done:
                    tracked.supplemented.append(code)
                    self._notes.add(
                        "✍",
                        tracked,
                        f"补正材料 supplemented {_material_name(code)} ({code})",
                        "cyan",
                    )
        if steps.get("delivery", {}).get("status") == "at_branch":
            done = self._once(
                tracked,
                "handover",
                f"/api/v1/filings/{tracked.tracking_code}/handover",
                None,
                _handed_over,
            )
            if done:
                tracked.handed_over = True
                self._notes.add("🤝", tracked, "交付证照印章 handed licence and seals over", "blue")

    def _once(
        self,
        tracked: Tracked,
        action: str,
        url: str,
        body: dict[str, Any] | None,
        achieved: Callable[[Tracked], bool],
    ) -> bool:
        """POST `action` unless already done; True if it took effect now."""
        if action in tracked.attempted:
            return False
        tracked.attempted.add(action)
        try:
            response = self._post(tracked, url, json=body)
        except httpx.TransportError:
            tracked.attempted.discard(action)  # try again on the next look
            return False
        if response.status_code == 200:
            tracked.detail = response.json()
            return True
        if response.status_code == 409:
            # A retried POST whose first attempt took effect (reply lost) says "conflict".
            self.look(tracked)
            if achieved(tracked):
                return True
        tracked.failure = _api_error(response)
        self._notes.add("✘", tracked, f"操作失败 action failed: {tracked.failure}", "red")
        return False


def _supplied(tracked: Tracked, *, code: str) -> bool:
    materials = (tracked.detail or {}).get("materials", [])
    return any(m["code"] == code and m["status"] == "supplemented" for m in materials)


def _handed_over(tracked: Tracked) -> bool:
    return tracked.steps().get("delivery", {}).get("status") == "done"


def _api_error(response: httpx.Response) -> str:
    """The API's bilingual error message (with the fields it names), or the status."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "message_en" not in body:
        return f"HTTP {response.status_code}"
    fields = [f"{e.get('field')}: {e.get('message_en')}" for e in body.get("errors") or []]
    return f"{body.get('message_zh')} / {body['message_en']}" + (
        f" ({'; '.join(fields)})" if fields else ""
    )


def _material_name(code: str) -> str:
    found = load_reference().materials.get(code)
    return found.name_zh if found is not None else code


# The live display ----------------------------------------------------------------------------

_STRIP_HEADER = "".join(spec.label_zh[0] for spec in STEPS)  # 设印银税社医公证


def _strip(tracked: Tracked, *, plain: bool = False) -> Text:
    """One symbol per step in workflow order, two cells each: aligned under `_STRIP_HEADER`."""
    steps = tracked.steps()
    text = Text()
    for spec in STEPS:
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
    columns = [Text(f"{spec.label_zh[0]} {spec.name.replace('_', ' ')}") for spec in STEPS]
    symbols = [
        Text.assemble((_STEP_MARKS[status][0], _STEP_MARKS[status][1]), f" {zh} {en}")
        for status, zh, en in _LEGEND
    ]
    text = _flow(columns, width)
    text.append("\n")
    text.append_text(_flow(symbols, width))
    text.stylize("dim")
    return text


def _branch_label(branch: Branch) -> str:
    """`中国农业银行寿光市支行营业部` → `ABC 支行营业部`: bank code, then what sets it apart."""
    reference = load_reference()
    name = branch.name
    bank = reference.banks.get(branch.bank_code)
    if bank is not None and name.startswith(bank.name_zh):
        name = name[len(bank.name_zh) :]
    district = reference.districts.get(branch.district_code)
    for region in sorted(district.name_regions if district else (), key=len, reverse=True):
        if name.startswith(region) and len(name) > len(region) + 1:
            name = name[len(region) :]
            break
    return f"{branch.bank_code} {name}"


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


def _when(instant: datetime) -> str:
    return f"{instant:%Y-%m-%d} 周{_WEEKDAYS[instant.weekday()]} {instant:%H:%M}"


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
                f" 场景时间 scenario {now:%m-%d} 周{_WEEKDAYS[now.weekday()]} {now:%H:%M}"
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


def _summaries(
    filings: Sequence[Tracked], calendar: WorkingCalendar, *, timed_out: float | None
) -> list[dict[str, Any]]:
    """One summary per filing: what the table shows and `--json` prints."""
    reference = load_reference()
    rows = []
    for tracked in filings:
        detail = tracked.detail or {}
        target = reference.districts[tracked.plan.filing.district_code].policy.sla_working_days
        elapsed = None
        if detail.get("ready_at"):
            elapsed = calendar.elapsed(
                datetime.fromisoformat(detail["accepted_at"]),
                datetime.fromisoformat(detail["ready_at"]),
            )
        days = elapsed / calendar.day_length if elapsed is not None else None
        tax, bank = tracked.result("tax"), tracked.result("bank_account")
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
                "tax_registered": bool(tax),
                "taxpayer_type": tax.get("taxpayer_type"),
                "taxpayer_id": tax.get("taxpayer_id"),
                "delivery": tracked.result("delivery"),
                "accepted_at": detail.get("accepted_at"),
                "deadline_at": detail.get("deadline_at"),
                "ready_at": detail.get("ready_at"),
                "completed_at": detail.get("completed_at"),
                "working_hours_to_ready": (
                    round(elapsed.total_seconds() / 3600, 4) if elapsed is not None else None
                ),
                "working_days_to_ready": round(days, 4) if days is not None else None,
                "target_working_days": target,
                "within_target": days is not None and days <= target,
                "supplemented": list(tracked.supplemented),
                "handed_over": tracked.handed_over,
                "events": [event["kind"] for event in detail.get("events", [])],
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
        return f"操作失败 a clerk's action failed: {tracked.failure}"
    steps = tracked.steps()
    rejected = [s for s in steps.values() if s["status"] == "rejected"]
    if rejected:
        return "; ".join(
            f"{s['label_zh']} {s['name']} 驳回 rejected: {s['reason']}" for s in rejected
        )
    if tracked.status == "cancelled":
        return "已撤销 cancelled"
    when = f"after {timed_out:g}s" if timed_out is not None else "when the demo stopped"
    if tracked.detail is None:
        return f"未提交 not filed yet {when}"
    # The steps under way say where it stands; those merely waiting for them add nothing.
    open_steps = [s for s in steps.values() if s["status"] != "done"]
    under_way = [s for s in open_steps if s["status"] != "waiting"] or open_steps
    where = ", ".join(
        f"{s['name']} {s['status']}" + (f" ({s['last_error']})" if s.get("last_error") else "")
        for s in under_way
    )
    return f"未办结 not complete {when}; at: {where}"


def _summary_table(rows: Sequence[dict[str, Any]], *, width: int) -> Table:
    """Two lines per filing: names and numbers, tax, working time against the target."""
    narrow = width < 96  # an 80-column terminal: Chinese only where English would not fit
    table = Table(
        title="办结汇总 Summary",
        box=box.SIMPLE_HEAD,
        show_lines=True,
        header_style="bold",
        title_style="bold",
        show_edge=False,
        collapse_padding=True,
    )
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


def demo_settings(scenario: Scenario, database_url: str) -> Settings:
    """Embedded settings for a replay of `scenario`.

    The agency timeout, step lease and sweep are sized to the slowest agency's real-time
    latency, so that a lost message costs the replay seconds rather than scenario hours.
    """
    behaviours = scenario.simulator_config().behaviours.values()
    slowest = max(((b.latency_ms + b.latency_jitter_ms) / 1000 for b in behaviours), default=0.0)
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
    """`var/demo-20261123-093000.db`, never one that exists: every run starts afresh."""
    stamp = datetime.now(CHINA).strftime("%Y%m%d-%H%M%S")
    path, n = directory / f"demo-{stamp}.db", 1
    while path.exists():
        n += 1
        path = directory / f"demo-{stamp}-{n}.db"
    return path


@contextmanager
def _quiet_logging(console: Console) -> Iterator[None]:
    """Library logs at WARNING and above only, printed through `console`.

    A root handler (when there is none yet) also keeps Celery's worker from installing its
    own, which would write to the terminal behind the live display's back.
    """
    saved = {name: logging.getLogger(name).level for name in _NOISY_LOGGERS}
    for name in _NOISY_LOGGERS:
        if logging.getLogger(name).getEffectiveLevel() < logging.WARNING:
            logging.getLogger(name).setLevel(logging.WARNING)
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


def _issue_tokens(rt: Runtime, scenario: Scenario) -> dict[str, str]:
    """Seed the scenario's branches and people; a bearer token for each member of staff."""
    from orchestrator.identity.models import Staff
    from orchestrator.identity.service import issue_token
    from orchestrator.seed import seed_people

    with rt.database.transaction() as session:
        ids = seed_people(session, scenario)
        tokens = {}
        for member in (m for branch in scenario.branches for m in branch.staff):
            staff = session.get(Staff, ids[member.username])
            assert staff is not None
            tokens[member.username] = issue_token(
                session, staff, now=rt.clock.now(), label="demo", ttl=timedelta(days=1)
            )
        return tokens


def _tracked(scenario: Scenario, run_id: str) -> list[Tracked]:
    """Every filing of the scenario in arrival order, with its branch, clerk and key."""
    branches = {branch.code: branch for branch in scenario.branches}
    filings = []
    for number, plan in enumerate(scenario.filings_in_order(), start=1):
        branch = branches[plan.branch_code]
        filings.append(
            Tracked(
                number=number,
                plan=plan,
                branch_name=_branch_label(branch),
                clerk_name=next(m.name for m in branch.staff if m.username == plan.clerk_username),
                idempotency_key=f"demo-{run_id}-{number}",
            )
        )
    return filings


@dataclass(order=True)
class _Due:
    """What the replay does at a real-time offset: file a filing, or change an agency."""

    at: float
    kind: int
    what: Tracked | BehaviourChange = field(compare=False)


@dataclass
class DemoOutcome:
    """How a replay ended: its per-filing summaries and totals, and the exit code."""

    scenario: str
    database: Path
    rows: list[dict[str, Any]]
    totals: dict[str, Any]
    real_seconds: float
    timed_out: bool
    interrupted: bool

    @property
    def exit_code(self) -> int:
        """0 if every filing completed; 130 if interrupted; 1 otherwise."""
        if self.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_COMPLETE if self.totals["complete"] == self.totals["total"] else EXIT_INCOMPLETE

    def document(self) -> dict[str, Any]:
        """The JSON summary (`--json`)."""
        return {
            "scenario": self.scenario,
            "ok": self.exit_code == EXIT_COMPLETE,
            "exit_code": self.exit_code,
            "database": str(self.database),
            "real_seconds": round(self.real_seconds, 2),
            "timed_out": self.timed_out,
            **self.totals,
            "filings": self.rows,
        }


class _Replay:
    """One run of a scenario: start everything, play the timeline, watch, summarise."""

    def __init__(self, scenario: Scenario, console: Console, *, timeout: float, directory: Path):
        self.scenario = scenario
        self.console = console
        self.timeout = timeout
        self.database = _fresh_database(directory)
        self.started = time.monotonic()
        self.live_display = console.is_terminal and not console.is_dumb_terminal

    def run(self) -> DemoOutcome:
        """Replay the scenario, print the summary; returns once everything has stopped."""
        from integrations.simulators.server import serve_in_thread
        from orchestrator.api.app import create_app
        from orchestrator.embedded import run_embedded

        scenario, console = self.scenario, self.console
        settings = demo_settings(scenario, f"sqlite:///{self.database}")
        console.print(
            Text.assemble(
                ("OneStop 演示 demo", "bold"),
                f" · {scenario.name} · {scenario.description_zh or scenario.description_en}",
            )
        )
        with ExitStack() as stack:
            stack.enter_context(_quiet_logging(console))
            rt = stack.enter_context(run_embedded(settings, simulators=scenario.simulator_config()))
            api = serve_in_thread(create_app())
            stack.callback(api.stop)
            client = stack.enter_context(httpx.Client(base_url=api.base_url, timeout=15))
            agencies = stack.enter_context(httpx.Client(base_url=rt.agencies_url or "", timeout=5))
            tokens = _issue_tokens(rt, scenario)
            # One look before the clock starts, so that the first filing is not the one that
            # pays for the first connection, query and route.
            client.get(
                "/api/v1/filings",
                headers={"Authorization": f"Bearer {next(iter(tokens.values()))}"},
            )
            filings = _tracked(scenario, self.database.stem.removeprefix("demo-"))
            # Scenario time starts now, not when the process did: the first filing arrives at
            # the scenario's start however long the worker took to start.
            zero = time.time()
            clock = Clock(origin=scenario.clock.start, scale=scenario.clock.scale, real_start=zero)
            settings = settings.model_copy(update={"clock_real_start": zero})
            rt = runtime.install(replace(rt, settings=settings, clock=clock))
            console.print(
                f"{len(filings)} 份申请 filings · {len(scenario.branches)} 个网点 branches · "
                f"{_when(scenario.clock.start)} ×{scenario.clock.scale:g} · "
                f"数据库 database {self.database} · API {api.base_url}",
                style="dim",
                markup=False,
            )
            if not self.live_display:
                console.print(_legend(console.width))
            dashboard = _Dashboard(scenario, filings, clock, rt.calendar, console)
            notes = _Notes(console, clock)
            timed_out, interrupted = False, False
            try:
                with ExitStack() as live_stack:
                    live = None
                    if self.live_display:
                        live = live_stack.enter_context(
                            Live(dashboard.render(), console=console, auto_refresh=False)
                        )
                    desk = _ClerkDesk(client, tokens, notes)
                    timed_out = self._play(
                        filings, desk, agencies, notes, zero, refresh=dashboard, live=live
                    )
                    for tracked in filings:  # the whole record, history included
                        if tracked.tracking_code is not None:
                            desk.look(tracked)
                    self._refresh(dashboard, live)
            except KeyboardInterrupt:
                interrupted = True
            rows = _summaries(filings, rt.calendar, timed_out=self.timeout if timed_out else None)
            totals = _totals(rows)
            self._print_summary(rows, totals, timed_out=timed_out, interrupted=interrupted)
        # Everything that used the database has stopped: closing it folds the write-ahead log
        # back in, leaving one file to open later (`sqlite3 var/demo-….db`).
        rt.database.dispose()
        return DemoOutcome(
            scenario=scenario.name,
            database=self.database,
            rows=rows,
            totals=totals,
            real_seconds=time.monotonic() - self.started,
            timed_out=timed_out,
            interrupted=interrupted,
        )

    def _play(
        self,
        filings: list[Tracked],
        desk: _ClerkDesk,
        agencies: httpx.Client,
        notes: _Notes,
        zero: float,
        *,
        refresh: _Dashboard,
        live: Live | None,
    ) -> bool:
        """File, change agencies and look until every filing is finished; True on timeout."""
        scale = self.scenario.clock.scale
        timeline = sorted(
            [_Due(t.plan.offset_seconds / scale, 0, t) for t in filings]
            + [_Due(c.offset_seconds / scale, 1, c) for c in self.scenario.behaviour_changes()]
        )
        deadline = self.started + self.timeout
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
                self._refresh(refresh, live)
                next_look = now + POLL_SECONDS
            if not timeline and all(t.finished for t in filings):
                return False
            if time.monotonic() >= deadline:
                return True
            wake = min(next_look, timeline[0].at) if timeline else next_look
            time.sleep(min(POLL_SECONDS, max(0.0, wake - (time.time() - zero))))

    @staticmethod
    def _refresh(dashboard: _Dashboard, live: Live | None) -> None:
        if live is not None:
            live.update(dashboard.render(), refresh=True)
        else:
            dashboard.print_changes()

    def _print_summary(
        self,
        rows: list[dict[str, Any]],
        totals: dict[str, Any],
        *,
        timed_out: bool,
        interrupted: bool,
    ) -> None:
        console = self.console
        console.print()
        console.print(_summary_table(rows, width=console.width))
        console.print(_totals_line(totals, time.monotonic() - self.started))
        for row in rows:
            if row["reason"]:
                console.print(
                    f"✘ #{row['number']} {row['company_name']}: {row['reason']}",
                    style="red",
                    markup=False,
                )
        if timed_out:
            unfinished = [f"#{r['number']} {r['company_name']}" for r in rows if not r["complete"]]
            console.print(
                f"超时 timed out after {self.timeout:g}s; not complete: {', '.join(unfinished)}",
                style="bold red",
                markup=False,
            )
        if interrupted:
            console.print("已中断 interrupted", style="bold red")


def _change_agency(client: httpx.Client, change: BehaviourChange, notes: _Notes) -> None:
    """Tell an agency's simulator how it behaves from now on (an outage starts or ends)."""
    try:
        response = client.put(
            f"/_sim/{change.agency}/behaviour", json=change.behaviour.model_dump(mode="json")
        )
        response.raise_for_status()
    except httpx.HTTPError as error:
        notes.add("⚠", None, f"{change.agency} 未能调整 could not be changed: {error}", "red")
        return
    state = "停止服务 down" if change.behaviour.outage else "恢复服务 back up"
    notes.add("⚙", None, f"{change.agency} {state}", "yellow")


def _console(console: Console | None) -> Console:
    """The console to draw on; a pipe or a log file gets 120 columns rather than 80."""
    console = console or Console(highlight=False)
    if not console.is_terminal and console.width == 80:
        console = Console(file=console.file, width=120, highlight=False)
    return console


def run_demo(
    scenario_path: Path | str | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    as_json: bool = False,
    directory: Path = VAR_DIR,
    console: Console | None = None,
) -> int:
    """Replay a scenario (default: the demo) embedded, the clerks filing over HTTP.

    Returns the process exit code: 0 if every filing completed; 1 if one did not (refused,
    rejected, or still under way after `timeout` real seconds), each with its reason; 2 if
    the scenario cannot be used; 130 if interrupted. With `as_json` the last line printed
    is the summary as one JSON object. The database is a fresh file in `directory`.

    It starts (and stops) an embedded Celery worker of its own: run it in a process that
    has no other, since stopping one sets Celery's process-wide shutdown flag.
    """
    console = _console(console)
    path = Path(scenario_path) if scenario_path is not None else DEMO_SCENARIO
    try:
        scenario = load_scenario(path)
    except ScenarioError as error:
        errors = Console(stderr=True, highlight=False)
        errors.print("场景文件有误，无法演示 / the scenario cannot be used:", style="bold red")
        errors.print(str(error), markup=False)
        return EXIT_BAD_SCENARIO
    try:
        outcome = _Replay(scenario, console, timeout=timeout, directory=directory).run()
    except KeyboardInterrupt:  # while starting or stopping: everything has unwound
        console.print("已中断 interrupted", style="bold red")
        return EXIT_INTERRUPTED
    if as_json:  # last, once everything has stopped: a test reads the final line
        console.out(json.dumps(outcome.document(), ensure_ascii=False), highlight=False)
    return outcome.exit_code
