"""A scenario: the world a replay runs in, scripted in YAML and checked before anything runs.

Branches and their staff, officers, how each agency behaves (latency in scenario time,
transient errors, lost replies, outages), the filings and when they arrive, and the clock
(`start`, `scale`). Every problem is reported with its file, line and field (see
`yaml_lines`); cross-references (branch, clerk, district, usernames) are checked too.

A filing's `data` is a `FilingInput`. What the branch implies may be left out: the district,
bank and branch codes default to the filing branch's. The filing date is no part of it:
OneStop stamps the day the filing arrives on; what depends on that day (ages) and on the
branch (the account bank) is checked here as OneStop will check it then. A generated load
(`arrivals`) repeats one template, giving each company its own trade name (字号) so that
the registration bureau takes them all.
"""

from __future__ import annotations

import copy
import math
import os
import random
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, NamedTuple, cast, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from integrations.simulators.app import AgencyName, SimulatorConfig
from integrations.simulators.engine import Behaviour
from orchestrator.clock import CHINA
from orchestrator.filings.schemas import FilingInput, accept, check_partner_bank
from orchestrator.reference import District, ReferenceData, load_reference, reference_from
from orchestrator.scenarios.durations import Duration
from orchestrator.scenarios.yaml_lines import (
    LocatedYaml,
    YamlDataError,
    read_yaml,
    validate_yaml,
)
from orchestrator.validation import (
    Loc,
    as_init,
    bilingual,
    error_at,
    fail,
    raise_if_any,
    raise_with,
    register,
)

AGENCIES: tuple[AgencyName, ...] = get_args(AgencyName)

StaffRole = Literal["clerk", "branch_manager"]

_Z95 = 1.6448536269514722  # the standard normal's 95th percentile


class ScenarioError(YamlDataError):
    """A scenario file that cannot be read or does not hold a valid scenario."""


# Messages -------------------------------------------------------------------------------

_MESSAGES = register(
    {
        "scenario_unknown_branch": (
            "场景中没有网点“{code}”，可选：{known}",
            "no branch {code} in this scenario; known: {known}",
        ),
        "scenario_not_branch_staff": (
            "“{username}”不是网点“{branch}”的员工，该网点员工：{staff}",
            "{username} is not on the staff of branch {branch}; its staff: {staff}",
        ),
        "scenario_district_mismatch": (
            "申报的行政区划“{code}”与受理网点“{branch}”所在的“{branch_district}”不一致",
            "the filing's district {code} differs from {branch_district}, where branch {branch} is",
        ),
        "scenario_duplicate_branch": (
            "网点代码“{code}”重复",
            "branch code {code} appears more than once",
        ),
        "scenario_duplicate_username": (
            "用户名“{username}”重复",
            "username {username} appears more than once",
        ),
        "scenario_based_on_out_of_range": (
            "based_on须为filings中的序号（0至{last}）",
            "based_on must be an index into filings (0 to {last})",
        ),
        "scenario_based_on_unavailable": (
            "场景中没有可作为模板的申报（filings为空或有误）",
            "there is no valid filing to base the template on (filings is empty or invalid)",
        ),
        "scenario_one_rate": (
            "rate_per_hour与every须且只能填写一项",
            "give exactly one of rate_per_hour and every",
        ),
        "scenario_every_zero": (
            "到达间隔须大于0",
            "the interval between arrivals must be more than 0",
        ),
        "scenario_one_latency": (
            "时延须且只能为fixed、uniform、lognormal之一",
            "a latency is exactly one of fixed, uniform, lognormal",
        ),
        "scenario_range_reversed": (
            "{low}不能大于{high}",
            "{low} must not exceed {high}",
        ),
        "scenario_median_zero": (
            "对数正态分布的中位数须大于0",
            "the median of a lognormal latency must be more than 0",
        ),
        "scenario_outage_reversed": (
            "停机结束时间须晚于开始时间",
            "an outage must end after it starts",
        ),
        "scenario_trade_names_exhausted": (
            "无法为第{n}份生成的申报找到未用的字号",
            "no unused trade name is left for generated filing {n}",
        ),
    }
)


# Time -----------------------------------------------------------------------------------


def _china_time(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=CHINA)
    return value.astimezone(CHINA)


Instant = Annotated[datetime, AfterValidator(_china_time)]
"""An ISO date-time, in China time when it names no offset."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


BackOffices = Literal["working_time", "wall_clock"]


class ScenarioClock(_Model):
    """Where scenario time starts, how much faster than life it runs, and when agencies work.

    With `back_offices: working_time` (the default) an agency's latency is work done only in
    office hours of working days (the working-day calendar); `wall_clock` counts every second.
    """

    start: Instant
    scale: float = Field(
        default=1.0, gt=0, allow_inf_nan=False, description="Scenario seconds per real second."
    )
    back_offices: BackOffices = "working_time"

    def real_seconds(self, scenario: timedelta) -> float:
        """How long `scenario` time lasts in real time."""
        return scenario.total_seconds() / self.scale

    def at(self, offset: timedelta) -> datetime:
        """The scenario instant `offset` after the start."""
        return self.start + offset


# People ---------------------------------------------------------------------------------

Username = Annotated[str, Field(pattern=r"^[a-z][a-z0-9._-]{1,59}$")]
_Name = Annotated[str, Field(min_length=1, max_length=60)]


class BranchStaff(_Model):
    """A member of a branch's staff."""

    username: Username
    name: _Name
    role: StaffRole = "clerk"


def _known_district(value: str, info: ValidationInfo) -> str:
    if value not in reference_from(info).districts:
        raise fail("district_unknown", code=value)
    return value


class Branch(_Model):
    """A partner bank branch taking filings (银行网点代办)."""

    code: Annotated[str, Field(pattern=r"^[0-9A-Za-z-]{1,32}$")]
    name: Annotated[str, Field(min_length=1, max_length=100)]
    district_code: str
    bank_code: str
    staff: tuple[BranchStaff, ...] = Field(min_length=1)

    @field_validator("district_code")
    @classmethod
    def _district_known(cls, value: str, info: ValidationInfo) -> str:
        return _known_district(value, info)

    @field_validator("bank_code")
    @classmethod
    def _partner_bank(cls, value: str, info: ValidationInfo) -> str:
        reference = reference_from(info)
        district = reference.districts.get(info.data.get("district_code", ""))
        return check_partner_bank(value, district, reference)

    @property
    def usernames(self) -> tuple[str, ...]:
        """Everyone on the branch's staff."""
        return tuple(member.username for member in self.staff)

    @property
    def clerks(self) -> tuple[str, ...]:
        """Who files at this branch: its clerks, or its whole staff if it has none."""
        return tuple(m.username for m in self.staff if m.role == "clerk") or self.usernames


class Officer(_Model):
    """A market-supervision officer watching a district."""

    username: Username
    name: _Name
    district_code: str

    @field_validator("district_code")
    @classmethod
    def _district_known(cls, value: str, info: ValidationInfo) -> str:
        return _known_district(value, info)


# Agencies -------------------------------------------------------------------------------


class UniformLatency(_Model):
    """Any latency from `min` to `max`, each as likely."""

    min: Duration
    max: Duration

    @model_validator(mode="after")
    def _ordered(self) -> UniformLatency:
        if self.min > self.max:
            raise fail("scenario_range_reversed", low="min", high="max")
        return self


class LognormalLatency(_Model):
    """A long-tailed latency: half the requests take less than `median`, 95% less than `p95`."""

    median: Duration
    p95: Duration

    @model_validator(mode="after")
    def _ordered(self) -> LognormalLatency:
        if self.median <= timedelta(0):
            raise fail("scenario_median_zero")
        if self.median > self.p95:
            raise fail("scenario_range_reversed", low="median", high="p95")
        return self

    @property
    def mu_sigma(self) -> tuple[float, float]:
        """The parameters of the underlying normal distribution (of ln seconds)."""
        median = self.median.total_seconds()
        return math.log(median), math.log(self.p95.total_seconds() / median) / _Z95


class Latency(_Model):
    """How much work a request takes an agency, in scenario time: `45m`, or one distribution.

    The work is counted in office hours unless the clock's `back_offices` is `wall_clock`.

    `{fixed: 45m}`, `{uniform: {min: 3m, max: 6m}}` or `{lognormal: {median: 4m, p95: 10m}}`.
    """

    fixed: Duration | None = None
    uniform: UniformLatency | None = None
    lognormal: LognormalLatency | None = None

    @model_validator(mode="before")
    @classmethod
    def _plain_duration_is_fixed(cls, value: Any) -> Any:
        return {"fixed": value} if isinstance(value, str | timedelta) else value

    @model_validator(mode="after")
    def _exactly_one(self) -> Latency:
        if sum(kind is not None for kind in (self.fixed, self.uniform, self.lognormal)) != 1:
            raise fail("scenario_one_latency")
        return self

    def sample(self, rng: random.Random) -> timedelta:
        """One latency drawn from the distribution."""
        if self.uniform is not None:
            low, high = self.uniform.min.total_seconds(), self.uniform.max.total_seconds()
            return timedelta(seconds=rng.uniform(low, high))
        if self.lognormal is not None:
            return timedelta(seconds=rng.lognormvariate(*self.lognormal.mu_sigma))
        return self.fixed or timedelta(0)

    @property
    def median(self) -> timedelta:
        """Half the requests take less than this."""
        if self.uniform is not None:
            return (self.uniform.min + self.uniform.max) / 2
        if self.lognormal is not None:
            return self.lognormal.median
        return self.fixed or timedelta(0)


class Outage(_Model):
    """A span of scenario time in which the agency answers nothing but 503."""

    start: Instant
    end: Instant

    @model_validator(mode="after")
    def _ordered(self) -> Outage:
        if self.end <= self.start:
            raise fail("scenario_outage_reversed")
        return self

    def covers(self, instant: datetime) -> bool:
        """Whether the agency is down at `instant` (start included, end excluded)."""
        return self.start <= instant < self.end


class AgencyBehaviour(_Model):
    """How one agency behaves; by default it answers at once and never fails."""

    latency: Latency = Latency(fixed=timedelta(0))
    transient_error_rate: float = Field(default=0.0, ge=0, le=1)
    lost_reply_rate: float = Field(default=0.0, ge=0, le=1)
    outages: tuple[Outage, ...] = ()

    def down_at(self, instant: datetime) -> bool:
        """Whether one of the outages covers the scenario instant `instant`."""
        return any(outage.covers(instant) for outage in self.outages)

    def to_simulator_behaviour(self, scale: float, *, at: datetime | None = None) -> Behaviour:
        """The simulators' `Behaviour` for a clock running `scale` times faster than life.

        Latencies are scenario time and the simulators count real time, so they are
        divided by `scale`. A uniform latency maps onto the simulators' base + jitter, a
        lognormal one onto its median and spread (σ), each drawn per request. `outage` is
        whether an outage covers the scenario instant `at` (none if `at` is None); a replay
        switches it at the instants `Scenario.behaviour_changes` lists.
        """
        if scale <= 0 or not math.isfinite(scale):
            raise ValueError("the clock scale must be a finite number above 0")
        base, jitter, sigma = timedelta(0), timedelta(0), 0.0
        if self.latency.uniform is not None:
            base, jitter = (
                self.latency.uniform.min,
                self.latency.uniform.max - self.latency.uniform.min,
            )
        elif self.latency.lognormal is not None:
            base, sigma = self.latency.lognormal.median, self.latency.lognormal.mu_sigma[1]
        else:
            base = self.latency.fixed or timedelta(0)
        return Behaviour(
            latency_ms=base.total_seconds() * 1000 / scale,
            latency_jitter_ms=jitter.total_seconds() * 1000 / scale,
            latency_log_sigma=sigma,
            transient_error_rate=self.transient_error_rate,
            lost_reply_rate=self.lost_reply_rate,
            outage=at is not None and self.down_at(at),
        )


class Agencies(_Model):
    """Each agency's behaviour; an agency left out is fast and reliable."""

    registration: AgencyBehaviour = AgencyBehaviour()
    seal: AgencyBehaviour = AgencyBehaviour()
    bank_account: AgencyBehaviour = AgencyBehaviour()
    tax: AgencyBehaviour = AgencyBehaviour()
    social_insurance: AgencyBehaviour = AgencyBehaviour()
    medical_insurance: AgencyBehaviour = AgencyBehaviour()
    housing_fund: AgencyBehaviour = AgencyBehaviour()
    courier: AgencyBehaviour = AgencyBehaviour()

    def items(self) -> Iterator[tuple[AgencyName, AgencyBehaviour]]:
        """Every agency with its behaviour, in workflow order."""
        for name in AGENCIES:
            yield name, cast(AgencyBehaviour, getattr(self, name))


# Filings --------------------------------------------------------------------------------


class ScheduledFiling(NamedTuple):
    """One filing of the replay: when (scenario seconds after the start), where, who, what."""

    offset_seconds: float
    branch_code: str
    clerk_username: str
    filing: FilingInput


class FilingEntry(_Model):
    """A filing that a clerk of `branch` enters `at` after the scenario starts."""

    branch: str
    clerk: str
    at: Duration = timedelta(0)
    data: FilingInput


class Arrivals(_Model):
    """A generated load: `count` filings from one template, evenly spaced, branch by branch.

    The template is a filing's `data`, whole or (with `based_on`, an index into `filings`)
    as overrides merged into that filing's; mappings merge, lists and values replace.
    Each generated company gets its own trade name (字号); the branches take turns, and
    each branch's clerks take turns among its filings.
    """

    count: int = Field(ge=1, le=100_000)
    at: Duration = Field(default=timedelta(0), description="When the first one arrives.")
    rate_per_hour: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    every: Duration | None = None
    branches: tuple[str, ...] = Field(min_length=1)
    based_on: int | None = Field(default=None, ge=0)
    template: dict[str, Any] = Field(default_factory=dict)

    _generated: tuple[ScheduledFiling, ...] = PrivateAttr(default=())

    @model_validator(mode="after")
    def _one_rate(self) -> Arrivals:
        if (self.rate_per_hour is None) == (self.every is None):
            raise fail("scenario_one_rate")
        if self.every is not None and self.every <= timedelta(0):
            raise fail("scenario_every_zero")
        return self

    @property
    def interval(self) -> timedelta:
        """Scenario time between two arrivals."""
        if self.every is not None:
            return self.every
        return timedelta(hours=1) / cast(float, self.rate_per_hour)

    @property
    def generated(self) -> tuple[ScheduledFiling, ...]:
        """The filings generated when the scenario was validated, in arrival order."""
        return self._generated


# The scenario ---------------------------------------------------------------------------


class BehaviourChange(NamedTuple):
    """At `offset_seconds` of scenario time, `agency` starts behaving as `behaviour`."""

    offset_seconds: float
    agency: AgencyName
    behaviour: Behaviour


class ShortForm(_Model):
    """How CI replays a scenario quickly: at most `filings` of its filings, at `scale`.

    The filings kept are spread evenly over the arrivals (the first and the last among
    them), so that a short run still meets the day's outages and its late arrivals.
    """

    filings: int = Field(ge=1, le=1000)
    scale: float = Field(gt=0, allow_inf_nan=False)


class Scenario(_Model):
    """The world of one replay. Validate with `load_scenario` to get errors by line."""

    name: Annotated[str, Field(min_length=1, max_length=100)]
    description_zh: str = ""
    description_en: str = ""
    seed: int | None = Field(
        default=None, description="Seeds the simulators' numbering and fault dice."
    )
    clock: ScenarioClock
    branches: tuple[Branch, ...] = Field(min_length=1)
    officers: tuple[Officer, ...] = ()
    agencies: Agencies = Agencies()
    filings: tuple[FilingEntry, ...] = ()
    arrivals: tuple[Arrivals, ...] = ()
    short: ShortForm | None = Field(
        default=None, description="The short form (`onestop run --short`); default: as is."
    )

    @model_validator(mode="before")
    @classmethod
    def _filings_imply_codes(cls, data: Any) -> Any:
        """Fill each listed filing's codes from its branch.

        Done on the raw data, before validation, so that one invalid branch does not turn
        into a "missing field" for every filing.
        """
        if not isinstance(data, Mapping) or not isinstance(data.get("filings"), list):
            return data
        raw_branches = data.get("branches")
        branches = {
            branch["code"]: branch
            for branch in (raw_branches if isinstance(raw_branches, list) else ())
            if isinstance(branch, Mapping) and isinstance(branch.get("code"), str)
        }
        filings = [_with_implied(entry, branches) for entry in data["filings"]]
        return {**data, "filings": filings}

    @field_validator("branches")
    @classmethod
    def _codes_and_usernames_unique(cls, value: tuple[Branch, ...]) -> tuple[Branch, ...]:
        errors: list[InitErrorDetails] = []
        codes: set[str] = set()
        usernames: set[str] = set()
        for i, branch in enumerate(value):
            if branch.code in codes:
                errors.append(
                    error_at(
                        (i, "code"),
                        fail("scenario_duplicate_branch", code=branch.code),
                        branch.code,
                    )
                )
            codes.add(branch.code)
            for j, member in enumerate(branch.staff):
                if member.username in usernames:
                    error = fail("scenario_duplicate_username", username=member.username)
                    errors.append(error_at((i, "staff", j, "username"), error, member.username))
                usernames.add(member.username)
        raise_if_any("Scenario", errors)
        return value

    @field_validator("officers")
    @classmethod
    def _officer_usernames_unique(
        cls, value: tuple[Officer, ...], info: ValidationInfo
    ) -> tuple[Officer, ...]:
        branches: tuple[Branch, ...] = info.data.get("branches", ())
        usernames = {name for branch in branches for name in branch.usernames}
        errors: list[InitErrorDetails] = []
        for i, officer in enumerate(value):
            if officer.username in usernames:
                error = fail("scenario_duplicate_username", username=officer.username)
                errors.append(error_at((i, "username"), error, officer.username))
            usernames.add(officer.username)
        raise_if_any("Scenario", errors)
        return value

    @field_validator("filings", mode="wrap")
    @classmethod
    def _filings_at_their_branches(
        cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> tuple[FilingEntry, ...]:
        if not isinstance(value, list | tuple):
            return cast(tuple[FilingEntry, ...], handler(value))
        branches = _branches(info)
        errors: list[InitErrorDetails] = []
        for i, entry in enumerate(value):
            if branches is not None:  # else the branches' own errors are reported
                _check_branch_and_clerk(errors, (i,), entry, branches)
        try:
            filings = cast(tuple[FilingEntry, ...], handler(value))
        except ValidationError as exc:
            # A code the branch would imply but could not (an unknown branch) is not missing:
            # the cause is reported where it is.
            unfilled: set[Loc] = {
                (i, "data", key)
                for i, entry in enumerate(value)
                if isinstance(entry, Mapping) and isinstance(entry.get("data"), Mapping)
                for key in _IMPLIED_BY_BRANCH
                if key not in entry["data"]
            }
            raise_with("Scenario", errors, exc, skip_missing=unfilled)
        clock: ScenarioClock | None = info.data.get("clock")
        for i, entry in enumerate(filings):
            branch = branches.get(entry.branch) if branches is not None else None
            if branch is not None and clock is not None:
                at = clock.at(entry.at)
                _check_acceptance(errors, (i, "data"), entry.data, branch, at, reference_from(info))
        raise_if_any("Scenario", errors)
        return filings

    @field_validator("arrivals", mode="wrap")
    @classmethod
    def _arrivals_generated(
        cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> tuple[Arrivals, ...]:
        branches = _branches(info)
        if branches is None or not isinstance(value, list | tuple):
            return cast(tuple[Arrivals, ...], handler(value))
        filings: tuple[FilingEntry, ...] | None = info.data.get("filings")
        errors: list[InitErrorDetails] = []
        for i, load in enumerate(value):
            if not isinstance(load, Mapping):
                continue
            named = load.get("branches")
            for j, code in enumerate(named if isinstance(named, list) else ()):
                if isinstance(code, str) and code not in branches:
                    error = fail("scenario_unknown_branch", code=code, known=", ".join(branches))
                    errors.append(error_at((i, "branches", j), error, code))
            based_on = load.get("based_on")
            if isinstance(based_on, int) and not isinstance(based_on, bool):
                if not filings:
                    errors.append(
                        error_at((i, "based_on"), fail("scenario_based_on_unavailable"), based_on)
                    )
                elif based_on >= len(filings):
                    error = fail("scenario_based_on_out_of_range", last=len(filings) - 1)
                    errors.append(error_at((i, "based_on"), error, based_on))
        try:
            loads = cast(tuple[Arrivals, ...], handler(value))
        except ValidationError as exc:
            raise_with("Scenario", errors, exc)
        raise_if_any("Scenario", errors)
        clock: ScenarioClock | None = info.data.get("clock")
        if clock is None or filings is None:
            return loads  # their own errors are reported; nothing to generate from
        reference = reference_from(info)
        taken = {(f.data.district_code, f.data.company_name.trade_name) for f in filings}
        for i, load in enumerate(loads):
            load._generated = _generate(
                load, i, branches, clock, filings, taken, reference, info.context
            )
        return loads

    def branch(self, code: str) -> Branch:
        """The branch with `code`; KeyError if there is none."""
        for branch in self.branches:
            if branch.code == code:
                return branch
        raise KeyError(code)

    def filings_in_order(self) -> Iterator[ScheduledFiling]:
        """Every filing, listed and generated, by arrival (listed first on a tie)."""
        listed = [
            ScheduledFiling(entry.at.total_seconds(), entry.branch, entry.clerk, entry.data)
            for entry in self.filings
        ]
        generated = [filing for load in self.arrivals for filing in load.generated]
        yield from sorted([*listed, *generated], key=lambda filing: filing.offset_seconds)

    def simulator_config(self, *, at: datetime | None = None) -> SimulatorConfig:
        """The simulators' configuration for this scenario, as it stands at `at` (the start)."""
        at = self.clock.start if at is None else at
        return SimulatorConfig(
            seed=self.seed,
            behaviours={
                name: behaviour.to_simulator_behaviour(self.clock.scale, at=at)
                for name, behaviour in self.agencies.items()
            },
        )

    def behaviour_changes(self) -> list[BehaviourChange]:
        """When an agency's simulator behaviour must change during the replay (outages).

        Each outage's start and end after the scenario start, in order; the behaviour given
        is the one in force from then on.
        """
        changes: list[BehaviourChange] = []
        for name, behaviour in self.agencies.items():
            instants = {o.start for o in behaviour.outages} | {o.end for o in behaviour.outages}
            for instant in sorted(i for i in instants if i > self.clock.start):
                changes.append(
                    BehaviourChange(
                        (instant - self.clock.start).total_seconds(),
                        name,
                        behaviour.to_simulator_behaviour(self.clock.scale, at=instant),
                    )
                )
        return sorted(changes, key=lambda change: change.offset_seconds)


def _branches(info: ValidationInfo) -> dict[str, Branch] | None:
    """The scenario's branches by code, if they validated."""
    branches: tuple[Branch, ...] | None = info.data.get("branches")
    return None if branches is None else {branch.code: branch for branch in branches}


def _check_branch_and_clerk(
    errors: list[InitErrorDetails], loc: Loc, entry: Any, branches: Mapping[str, Branch]
) -> None:
    """Errors for an unknown branch, a clerk not on its staff, a filing in another district."""
    if not isinstance(entry, Mapping) or not isinstance(entry.get("branch"), str):
        return  # pydantic reports what is missing or mistyped
    branch = branches.get(entry["branch"])
    if branch is None:
        code = entry["branch"]
        error = fail("scenario_unknown_branch", code=code, known=", ".join(branches))
        errors.append(error_at((*loc, "branch"), error, code))
        return
    clerk = entry.get("clerk")
    if isinstance(clerk, str) and clerk not in branch.usernames:
        error = fail(
            "scenario_not_branch_staff",
            username=clerk,
            branch=branch.code,
            staff=", ".join(branch.usernames),
        )
        errors.append(error_at((*loc, "clerk"), error, clerk))
    data = entry.get("data")
    district = data.get("district_code") if isinstance(data, Mapping) else None
    if isinstance(district, str) and district != branch.district_code:
        error = fail(
            "scenario_district_mismatch",
            code=district,
            branch=branch.code,
            branch_district=branch.district_code,
        )
        errors.append(error_at((*loc, "data", "district_code"), error, district))


# What a filing's branch implies unless its data says otherwise.
_IMPLIED_BY_BRANCH = ("district_code", "bank_code", "branch_code")


def _with_implied(entry: Any, branches: Mapping[str, Mapping[str, Any]]) -> Any:
    """The raw filing entry with the codes of its branch."""
    if not isinstance(entry, Mapping) or not isinstance(entry.get("data"), Mapping):
        return entry
    data = dict(entry["data"])
    code = entry.get("branch")
    branch = branches.get(code) if isinstance(code, str) else None
    if branch is not None:
        for key, source in (
            ("district_code", "district_code"),
            ("bank_code", "bank_code"),
            ("branch_code", "code"),
        ):
            if isinstance(branch.get(source), str):
                data.setdefault(key, branch[source])
    return {**entry, "data": data}


# Generated loads ------------------------------------------------------------------------

# Trade names (字号) for generated companies: a first and a second character, auspicious
# and ordinary, chosen so that no pair is a refused word, a place name, or a trade name
# already on the simulated register; past 400 a Chinese numeral follows (丰达二).
_FIRST = "丰泰润康嘉恒德信宏昌福祥安盛兴和益锦新优"
_SECOND = "达源茂隆辉华邦旺顺通利泽荣远诚瀚成峰晟硕"
_NUMERALS = "零一二三四五六七八九"


def _chinese_numeral(n: int) -> str:
    """1–99 in Chinese numerals: 二, 十, 十一, 二十三."""
    tens, units = divmod(n, 10)
    text = ("" if tens == 1 else _NUMERALS[tens]) + "十" if tens else ""
    return text + (_NUMERALS[units] if units else "")


def trade_names() -> Iterator[str]:
    pairs = len(_FIRST) * len(_SECOND)
    for cycle in range(99):
        suffix = _chinese_numeral(cycle + 1) if cycle else ""
        for k in range(pairs):
            first, rest = k % len(_FIRST), k // len(_FIRST)
            yield _FIRST[first] + _SECOND[(first + rest) % len(_SECOND)] + suffix


def _deep_merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _generate(
    load: Arrivals,
    index: int,
    branches: Mapping[str, Branch],
    clock: ScenarioClock,
    filings: Sequence[FilingEntry],
    taken: set[tuple[str, str]],
    reference: ReferenceData,
    context: Any,
) -> tuple[ScheduledFiling, ...]:
    """The load's filings; raises a ValidationError at the template for a bad one."""
    base: dict[str, Any] = {}
    if load.based_on is not None:
        base = filings[load.based_on].data.model_dump(mode="json", exclude=set(_IMPLIED_BY_BRANCH))
    template = _deep_merge(base, load.template)
    names = trade_names()
    generated: list[ScheduledFiling] = []
    for n in range(load.count):
        offset = load.at + n * load.interval
        branch = branches[load.branches[n % len(load.branches)]]
        clerks = branch.clerks
        clerk = clerks[(n // len(load.branches)) % len(clerks)]
        data = _deep_merge(template, {})
        data.setdefault("district_code", branch.district_code)
        data.setdefault("bank_code", branch.bank_code)
        data.setdefault("branch_code", branch.code)
        name = data.get("company_name")
        if isinstance(name, dict) and isinstance(data["district_code"], str):
            district = reference.districts.get(data["district_code"])
            trade_name = _unused_trade_name(names, district, name, taken, reference)
            if trade_name is None:
                error = fail("scenario_trade_names_exhausted", n=n + 1)
                raise ValidationError.from_exception_data(
                    "Scenario", [error_at((index, "count"), error, load.count)]
                )
            name["trade_name"] = trade_name
            taken.add((data["district_code"], str(trade_name)))
        try:
            filing = FilingInput.model_validate(data, context=context)
        except ValidationError as exc:
            # Every generated filing shares the template: its first failure says it all.
            raise_with("Scenario", [], exc, prefix=(index, "template"))
        errors: list[InitErrorDetails] = []
        at = clock.at(offset)
        _check_acceptance(errors, (index, "template"), filing, branch, at, reference)
        raise_if_any("Scenario", errors)
        generated.append(ScheduledFiling(offset.total_seconds(), branch.code, clerk, filing))
    return tuple(generated)


def _check_acceptance(
    errors: list[InitErrorDetails],
    loc: Loc,
    filing: FilingInput,
    branch: Branch,
    at: datetime,
    reference: ReferenceData,
) -> None:
    """Errors OneStop would answer when `branch` files `filing` at `at`: the rules that
    depend on the filing date (ages) and on the filing branch (the account bank)."""
    try:
        accept(
            filing,
            accepted_at=at,
            branch_bank=branch.bank_code,
            reference=reference,
        )
    except ValidationError as exc:
        errors.extend(as_init(error, loc) for error in exc.errors(include_url=False))


def _unused_trade_name(
    names: Iterator[str],
    district: District | None,
    company_name: Mapping[str, Any],
    taken: set[tuple[str, str]],
    reference: ReferenceData,
) -> str | None:
    regions = set(district.name_regions) if district is not None else set()
    code = district.code if district is not None else ""
    term = company_name.get("industry_term")
    for candidate in names:
        if (code, candidate) in taken or candidate in regions:
            continue
        if reference.prohibited_words_in(candidate + (term if isinstance(term, str) else "")):
            continue
        return candidate
    return None


# Loading --------------------------------------------------------------------------------


def load_scenario(
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    reference: ReferenceData | None = None,
) -> Scenario:
    """Read and check the scenario file at `path`; `ScenarioError` names file, line, field.

    `name` is how messages show the file (default: `path` as given).
    """
    try:
        doc = read_yaml(path, name=name)
        return parse_scenario(doc, reference=reference)
    except ScenarioError:
        raise
    except YamlDataError as exc:
        raise ScenarioError(exc.problems) from None


def parse_scenario(doc: LocatedYaml, *, reference: ReferenceData | None = None) -> Scenario:
    """The scenario in an already parsed YAML document (see `yaml_lines.parse_yaml`)."""
    try:
        return validate_yaml(
            Scenario,
            doc,
            context={"reference": reference or load_reference()},
            describe=bilingual,
        )
    except YamlDataError as exc:
        raise ScenarioError(exc.problems) from None
