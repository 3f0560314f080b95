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
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
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
from orchestrator.settings import Settings
from orchestrator.tools.scenarios.back_offices import OfficeHours
from orchestrator.tools.scenarios.clerks import ClerkDesk, Notes, Tracked, branch_label
from orchestrator.tools.scenarios.models import (
    BehaviourChange,
    Scenario,
    ScenarioError,
    ScheduledFiling,
    load_scenario,
)
from orchestrator.tools.scenarios.outcome import ReplayOutcome, summarise
from orchestrator.tools.scenarios.sla_report import sla_figures

T = TypeVar("T")

POLL_SECONDS = 0.25  # how often the clerks look at their filings (and a display refreshes)

# A safety net, not a forecast: a replay stops this long (working time, after the last
# arrival) past the slowest target, however far the clock must run to get there.
_TIMEOUT_MARGIN_WORKING_DAYS = 3
_TIMEOUT_MARGIN_SECONDS = 60.0

# Libraries that would otherwise talk over a live display.
_NOISY_LOGGERS = ("celery", "kombu", "amqp", "uvicorn", "uvicorn.error", "uvicorn.access", "httpx")


# What to replay --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplayPlan:
    """What to replay: the scenario, at the scale to play it, and which of its filings."""

    scenario: Scenario
    filings: tuple[ScheduledFiling, ...]
    short: bool = False  # the scenario's short form (`--short`)

    @classmethod
    def of(
        cls,
        scenario: Scenario,
        *,
        short: bool = False,
        max_filings: int | None = None,
        scale: float | None = None,
        seed: int | None = None,
    ) -> ReplayPlan:
        """The whole scenario; or its short form (`short`); `max_filings`, `scale` and the
        simulators' `seed` override."""
        if seed is not None:
            scenario = scenario.model_copy(update={"seed": seed})
        if short and scenario.short is not None:
            max_filings = max_filings or scenario.short.filings
            scale = scale or scenario.short.scale
        if scale is not None and scale != scenario.clock.scale:
            clock = scenario.clock.model_copy(update={"scale": scale})
            scenario = scenario.model_copy(update={"clock": clock})
        filings = tuple(scenario.filings_in_order())
        if max_filings is not None:
            filings = spread(filings, max_filings)
        return cls(scenario, filings, short=short)

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
        # The SLA judged every ten scenario minutes, but no more often than every second:
        # the pass shares the process (and its lock on the interpreter) with the workers, and
        # on the fastest clocks a real second of their delay is hours of scenario.
        sla_evaluation_seconds=min(60.0, max(1.0, 600 / scenario.clock.scale)),
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
    from orchestrator.tools.seed import seed_people

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


class View(Notes, Protocol):
    """What a front end shows while a replay runs: notes as they come, and a refresh after
    each round of looks."""

    def update(self) -> None:
        """Redraw from the filings as the clerks last saw them."""


def replay(
    plan: ReplayPlan,
    database: Path,
    *,
    view: Callable[[Replay], AbstractContextManager[View]],
    log_console: Console,
    timeout: float | None = None,
    linger: Callable[[ReplayOutcome, Replay], None] | None = None,
) -> ReplayOutcome:
    """Replay `plan` on the SQLite file `database` to its end and say what came of it.

    `view` is entered once everything is up and shows the replay as it runs; logs go to
    `log_console`, quietly. `timeout` (real seconds from now) defaults to well past the
    slowest target (`default_timeout`). Ctrl-C stops the replay and the outcome says so.
    `linger`, if given, is called with the outcome while everything is still up (the demo
    keeps serving its pages until Ctrl-C); everything stops when it returns.
    """
    started = time.monotonic()
    with ExitStack() as stack:
        stack.enter_context(quiet_logging(log_console))
        under_way = stack.enter_context(replaying(plan, database))
        limit = timeout if timeout is not None else default_timeout(plan, under_way.calendar)
        timed_out, interrupted = False, False
        try:
            with view(under_way) as shown:
                desk = under_way.desk(shown)
                timed_out = under_way.play(desk, shown, deadline=started + limit, tick=shown.update)
                under_way.look_all(desk)
                shown.update()
        except KeyboardInterrupt:
            interrupted = True
        rows = summarise(
            under_way.filings, under_way.calendar, timed_out=limit if timed_out else None
        )
        with under_way.runtime.database.transaction() as session:
            sla = sla_figures(session, under_way.calendar, now=under_way.runtime.clock.now())
        outcome = ReplayOutcome(
            scenario=plan.scenario.name,
            database=database,
            short=plan.short,
            scale=plan.scale,
            rows=rows,
            effects=under_way.effects(),
            real_seconds=time.monotonic() - started,
            timed_out=timed_out,
            timeout=limit,
            interrupted=interrupted,
            working_day_hours=under_way.calendar.day_length.total_seconds() / 3600,
            sla=sla,
        )
        if linger is not None and not interrupted:
            linger(outcome, under_way)
    # Returned once everything has stopped: the summary comes with the prompt, not seconds
    # before it while the embedded worker winds down.
    return outcome


def default_timeout(plan: ReplayPlan, calendar: WorkingCalendar) -> float:
    """Real seconds until the clock is well past every filing's target (a safety net)."""
    reference = load_reference()
    slowest = max(
        (reference.districts[f.filing.district_code].policy.sla_working_days for f in plan.filings),
        default=0.0,
    )
    margin = calendar.day_length * (slowest + _TIMEOUT_MARGIN_WORKING_DAYS)
    end = calendar.add(plan.last_arrival(), margin)
    scenario_span = (end - plan.scenario.clock.start).total_seconds()
    return scenario_span / plan.scale + _TIMEOUT_MARGIN_SECONDS


@contextmanager
def replaying(plan: ReplayPlan, database: Path) -> Iterator[Replay]:
    """Start OneStop embedded for `plan` on the SQLite file `database`; stop it afterwards.

    Scenario time starts once everything is up, so that the first filing arrives at the
    scenario's start however long the worker took to start. It starts (and stops) an
    embedded Celery worker of its own: use it in a process that has no other, since
    stopping one sets Celery's process-wide shutdown flag.
    """
    from integrations.simulators.server import serve_in_thread
    from orchestrator.api.app import web_app
    from orchestrator.tools.embedded import run_embedded

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
            # The web process's application: the API the clerks file over, and the pages a
            # person can open while the demo keeps serving.
            api = serve_in_thread(web_app(rt.settings))
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
