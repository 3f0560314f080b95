"""Replaying a scenario: the embedded OneStop it runs on and the clerks who file it.

`onestop demo` and `onestop run` share this; what a replay shows while it runs is theirs.
Everything runs in this process on a fresh SQLite file: the agency simulators (with the
scenario's behaviour, scaled, their back offices working in office hours unless the scenario
says otherwise), the Celery worker thread on the in-memory broker, beat, and the JSON API.
Each clerk files their filings at the scheduled instant (scenario offset ÷ scale, in real
seconds) with their own bearer token and an Idempotency-Key, watches them through the API,
supplements a 容缺 material once a step waits for it, and hands licence and seals over at
the counter. Agencies change behaviour (outages begin and end) at their scenario instants.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx
from rich.console import Console
from rich.logging import RichHandler

from integrations.simulators.engine import TimeModel, wall_clock
from orchestrator import runtime
from orchestrator.calendar import WorkingCalendar, calendar_for
from orchestrator.clock import CHINA, Clock
from orchestrator.reference import load_reference
from orchestrator.runtime import Runtime
from orchestrator.scenarios.back_offices import OfficeHours
from orchestrator.scenarios.models import (
    BehaviourChange,
    Branch,
    Scenario,
    ScenarioError,
    ScheduledFiling,
    load_scenario,
)
from orchestrator.settings import Settings

T = TypeVar("T")

POLL_SECONDS = 0.25  # how often the clerks look at their filings (and a display refreshes)

# Libraries that would otherwise talk over a live display.
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


class Notes(Protocol):
    """Where the replay reports what clerks and agencies do (a line each, or nothing)."""

    def add(self, icon: str, tracked: Tracked | None, text: str, style: str = "") -> None:
        """`📝 张丽 受理 filed OS… · 寿光市禾丰蔬菜种植有限公司`."""


class ClerkDesk:
    """The clerks at their counters: each files, looks and acts with their own token."""

    def __init__(self, client: httpx.Client, tokens: Mapping[str, str], notes: Notes) -> None:
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
            tracked.refused = api_error(response)
            self._notes.add("✘", tracked, f"受理被拒 refused: {tracked.refused}", "red")
            return
        tracked.detail = response.json()
        tracked.tracking_code = tracked.detail["tracking_code"]
        deadline = datetime.fromisoformat(tracked.detail["deadline_at"])
        missing = [
            material_name(m["code"])
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
                        f"补正材料 supplemented {material_name(code)} ({code})",
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
        tracked.failure = api_error(response)
        self._notes.add("✘", tracked, f"操作失败 action failed: {tracked.failure}", "red")
        return False


def _supplied(tracked: Tracked, *, code: str) -> bool:
    materials = (tracked.detail or {}).get("materials", [])
    return any(m["code"] == code and m["status"] == "supplemented" for m in materials)


def _handed_over(tracked: Tracked) -> bool:
    return tracked.steps().get("delivery", {}).get("status") == "done"


def api_error(response: httpx.Response) -> str:
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


def material_name(code: str) -> str:
    found = load_reference().materials.get(code)
    return found.name_zh if found is not None else code


def branch_label(branch: Branch) -> str:
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


# What the replay came to, per filing ----------------------------------------------------------


def summarise(
    filings: Sequence[Tracked], calendar: WorkingCalendar, *, timed_out: float | None
) -> list[dict[str, Any]]:
    """One summary per filing: what a summary table shows and `--json` prints.

    Working time is counted on the calendar from acceptance to ready (every agency step
    done) and to complete (licence and seals handed over); `steps` gives when each step
    finished, `retries` how often a step had to be tried again after a transient error.
    """
    reference = load_reference()
    rows = []
    for tracked in filings:
        detail = tracked.detail or {}
        target = reference.districts[tracked.plan.filing.district_code].policy.sla_working_days
        to_ready = _working_time_until(detail, "ready_at", calendar)
        to_complete = _working_time_until(detail, "completed_at", calendar)
        days = to_ready / calendar.day_length if to_ready is not None else None
        tax, bank = tracked.result("tax"), tracked.result("bank_account")
        events = [event["kind"] for event in detail.get("events", [])]
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
                "working_hours_to_ready": _hours(to_ready),
                "working_days_to_ready": round(days, 4) if days is not None else None,
                "working_hours_to_complete": _hours(to_complete),
                "target_working_days": target,
                "within_target": days is not None and days <= target,
                "supplemented": list(tracked.supplemented),
                "handed_over": tracked.handed_over,
                "retries": events.count("retry_scheduled"),
                "rejections": events.count("rejected"),
                "steps": {
                    name: {"status": step["status"], "finished_at": step.get("finished_at")}
                    for name, step in tracked.steps().items()
                },
                "events": events,
                "reason": _reason(tracked, timed_out),
            }
        )
    return rows


def _working_time_until(
    detail: Mapping[str, Any], field_name: str, calendar: WorkingCalendar
) -> timedelta | None:
    if not detail.get(field_name):
        return None
    return calendar.elapsed(
        datetime.fromisoformat(detail["accepted_at"]), datetime.fromisoformat(detail[field_name])
    )


def _hours(span: timedelta | None) -> float | None:
    return round(span.total_seconds() / 3600, 4) if span is not None else None


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
    when = f"after {timed_out:g}s" if timed_out is not None else "when the replay stopped"
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


# What to replay --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplayPlan:
    """What to replay: the scenario, at the scale to play it, and which of its filings."""

    scenario: Scenario
    filings: tuple[ScheduledFiling, ...]

    @classmethod
    def of(
        cls,
        scenario: Scenario,
        *,
        short: bool = False,
        max_filings: int | None = None,
        scale: float | None = None,
    ) -> ReplayPlan:
        """The whole scenario; or its short form (`short`); `max_filings`, `scale` override."""
        if short and scenario.short is not None:
            max_filings = max_filings or scenario.short.filings
            scale = scale or scenario.short.scale
        if scale is not None and scale != scenario.clock.scale:
            clock = scenario.clock.model_copy(update={"scale": scale})
            scenario = scenario.model_copy(update={"clock": clock})
        filings = tuple(scenario.filings_in_order())
        if max_filings is not None:
            filings = spread(filings, max_filings)
        return cls(scenario, filings)

    @property
    def scale(self) -> float:
        """Scenario seconds per real second."""
        return self.scenario.clock.scale

    def last_arrival(self) -> datetime:
        """When the last filing arrives (the start if there is none)."""
        offset = max((f.offset_seconds for f in self.filings), default=0.0)
        return self.scenario.clock.at(timedelta(seconds=offset))


def spread(items: Sequence[T], count: int) -> tuple[T, ...]:
    """`count` of `items` spread evenly over them, the first and the last included."""
    if count >= len(items):
        return tuple(items)
    if count == 1:
        return (items[0],)
    last = len(items) - 1
    return tuple(items[round(i * last / (count - 1))] for i in range(count))


# The world it runs in ------------------------------------------------------------------------


def replay_settings(scenario: Scenario, database_url: str) -> Settings:
    """Embedded settings for a replay of `scenario`.

    The agency timeout, step lease and sweep are sized to the slowest agency's real-time
    latency, so that a lost message costs the replay seconds rather than scenario hours. A
    submit waits at most the agency's sync limit for its answer (then it gets a ticket), and
    parked waits (a ticket due after the night) are picked up by the sweeper within five
    scenario minutes, or 0.2 real seconds on a faster clock: sweeping more often costs more
    than it gains. Every real second the machine lags costs `scale` seconds of scenario time,
    so figures from a fast clock on a busy machine are pessimistic.
    """
    behaviours = scenario.simulator_config().behaviours.values()
    slowest = max(
        (
            min(
                _p95_seconds(b.latency_ms, b.latency_log_sigma, b.latency_jitter_ms),
                b.sync_limit_ms / 1000,
            )
            for b in behaviours
        ),
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
        sweep_interval_seconds=min(5.0, max(0.5, lease / 4), max(0.2, 300 / scenario.clock.scale)),
        retry_base_seconds=0.1,
        retry_max_countdown_seconds=max(2.0, lease),
    )


_Z95 = 1.6448536269514722  # the standard normal's 95th percentile


def _p95_seconds(median_ms: float, sigma: float, jitter_ms: float) -> float:
    """Roughly the 95th percentile of an agency's latency, in seconds."""
    return (median_ms * math.exp(_Z95 * sigma) + jitter_ms) / 1000


def fresh_database(directory: Path, prefix: str) -> Path:
    """`var/demo-20261123-093000.db`, never one that exists: every run starts afresh.

    The file is created here, exclusively (SQLite takes an empty file for an empty
    database), so that two replays started in the same second never share one.
    """
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(CHINA).strftime("%Y%m%d-%H%M%S")
    path, n = directory / f"{prefix}-{stamp}.db", 1
    while True:
        try:
            path.open("x").close()
        except FileExistsError:
            n += 1
            path = directory / f"{prefix}-{stamp}-{n}.db"
        else:
            return path


@contextmanager
def quiet_logging(console: Console) -> Iterator[None]:
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
                session, staff, now=rt.clock.now(), label="replay", ttl=timedelta(days=30)
            )
        return tokens


def _tracked(plan: ReplayPlan, key_prefix: str) -> list[Tracked]:
    """Every filing of the plan in arrival order, with its branch, clerk and key."""
    branches = {branch.code: branch for branch in plan.scenario.branches}
    filings = []
    for number, scheduled in enumerate(plan.filings, start=1):
        branch = branches[scheduled.branch_code]
        filings.append(
            Tracked(
                number=number,
                plan=scheduled,
                branch_name=branch_label(branch),
                clerk_name=next(
                    m.name for m in branch.staff if m.username == scheduled.clerk_username
                ),
                idempotency_key=f"{key_prefix}-{number}",
            )
        )
    return filings


def back_office_time(scenario: Scenario, calendar: WorkingCalendar) -> TimeModel:
    """When the simulated agencies' work is done: in office hours on the process's clock."""
    if scenario.clock.back_offices == "wall_clock":
        return wall_clock
    # The process's clock, asked on every request: the replay replaces it once all is up.
    return OfficeHours(calendar, lambda: runtime.current().clock)


@dataclass(order=True)
class _Due:
    """What the replay does at a real-time offset: file a filing, or change an agency."""

    at: float
    kind: int
    what: Tracked | BehaviourChange = field(compare=False)


@dataclass
class Replay:
    """A replay under way: everything started, scenario time running since `zero`."""

    plan: ReplayPlan
    database: Path
    runtime: Runtime
    api_url: str
    client: httpx.Client
    agencies: httpx.Client
    tokens: Mapping[str, str]
    filings: list[Tracked]
    zero: float  # the real Unix time at which the scenario starts

    @property
    def scenario(self) -> Scenario:
        """The scenario as replayed (at the plan's scale)."""
        return self.plan.scenario

    @property
    def clock(self) -> Clock:
        """Scenario time."""
        return self.runtime.clock

    @property
    def calendar(self) -> WorkingCalendar:
        """The working-day calendar every figure is counted on."""
        return self.runtime.calendar

    def desk(self, notes: Notes) -> ClerkDesk:
        """The clerks at their counters, reporting to `notes`."""
        return ClerkDesk(self.client, self.tokens, notes)

    def play(
        self, desk: ClerkDesk, notes: Notes, *, deadline: float, tick: Callable[[], None]
    ) -> bool:
        """File, change agencies and look until every filing is finished; True on timeout.

        `deadline` is a `time.monotonic()` instant; `tick` is called after each round of looks.
        """
        scale = self.plan.scale
        timeline = sorted(
            [_Due(t.plan.offset_seconds / scale, 0, t) for t in self.filings]
            + [_Due(c.offset_seconds / scale, 1, c) for c in self.scenario.behaviour_changes()]
        )
        next_look = 0.0
        while True:
            now = time.time() - self.zero
            while timeline and timeline[0].at <= now:
                due = timeline.pop(0).what
                if isinstance(due, Tracked):
                    desk.file(due)
                else:
                    change_agency(self.agencies, due, notes)
            if now >= next_look:
                began = time.monotonic()
                for tracked in self.filings:
                    if tracked.tracking_code is not None and not tracked.finished:
                        desk.look(tracked)
                        desk.act(tracked)
                tick()
                # Many filings under way: look no more than half the time, leave the rest
                # of the machine to the workflow being watched.
                next_look = now + max(POLL_SECONDS, 2 * (time.monotonic() - began))
            if not timeline and all(t.finished for t in self.filings):
                return False
            if time.monotonic() >= deadline:
                return True
            wake = min(next_look, timeline[0].at) if timeline else next_look
            time.sleep(min(POLL_SECONDS, max(0.0, wake - (time.time() - self.zero))))

    def look_all(self, desk: ClerkDesk) -> None:
        """Fetch every filed filing once more: the whole record, history included."""
        for tracked in self.filings:
            if tracked.tracking_code is not None:
                desk.look(tracked)

    def effects(self) -> dict[str, Any]:
        """The agencies' count of real-world effects (`/_sim/effects`): duplicates included."""
        response = self.agencies.get("/_sim/effects")
        response.raise_for_status()
        report: dict[str, Any] = response.json()
        return report


@contextmanager
def replaying(plan: ReplayPlan, database: Path) -> Iterator[Replay]:
    """Start OneStop embedded for `plan` on the SQLite file `database`; stop it afterwards.

    Scenario time starts once everything is up, so that the first filing arrives at the
    scenario's start however long the worker took to start. It starts (and stops) an
    embedded Celery worker of its own: use it in a process that has no other, since
    stopping one sets Celery's process-wide shutdown flag.
    """
    from integrations.simulators.server import serve_in_thread
    from orchestrator.api.app import create_app
    from orchestrator.embedded import run_embedded

    scenario = plan.scenario
    settings = replay_settings(scenario, f"sqlite:///{database}")
    time_model = back_office_time(scenario, calendar_for(settings))
    rt: Runtime | None = None
    try:
        with ExitStack() as stack:
            rt = stack.enter_context(
                run_embedded(
                    settings, simulators=scenario.simulator_config(), time_model=time_model
                )
            )
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
            zero = time.time()
            clock = Clock(origin=scenario.clock.start, scale=scenario.clock.scale, real_start=zero)
            settings = rt.settings.model_copy(update={"clock_real_start": zero})
            rt = runtime.install(replace(rt, settings=settings, clock=clock))
            yield Replay(
                plan=plan,
                database=database,
                runtime=rt,
                api_url=api.base_url,
                client=client,
                agencies=agencies,
                tokens=tokens,
                filings=_tracked(plan, database.stem),
                zero=zero,
            )
    finally:
        # Everything that used the database has stopped: closing it folds the write-ahead
        # log back in, leaving one file to open later (`sqlite3 var/demo-….db`).
        if rt is not None:
            rt.database.dispose()


def change_agency(client: httpx.Client, change: BehaviourChange, notes: Notes) -> None:
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


def console_for(console: Console | None) -> Console:
    """The console to draw on; a pipe or a log file gets 120 columns rather than 80."""
    console = console or Console(highlight=False)
    if not console.is_terminal and console.width == 80:
        console = Console(file=console.file, width=120, highlight=False)
    return console


def load_or_explain(path: Path | str, *, cannot_zh: str) -> Scenario | None:
    """The scenario at `path`, or None once its problems (file, line, field) are on stderr."""
    try:
        return load_scenario(path)
    except ScenarioError as error:
        errors = Console(stderr=True, highlight=False)
        errors.print(f"场景文件有误，{cannot_zh} / the scenario cannot be used:", style="bold red")
        errors.print(str(error), markup=False, soft_wrap=True)  # one problem a line
        return None
