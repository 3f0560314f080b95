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
import os
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any, NamedTuple, cast

from pydantic import (
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from integrations.agencies import AgencyName, GatewayName
from integrations.simulators.app import SimulatorConfig
from integrations.simulators.engine import Behaviour
from orchestrator.filings.acceptance import accept
from orchestrator.filings.schemas import FilingInput
from orchestrator.reference import District, ReferenceData, load_reference, reference_from
from orchestrator.tools.scenarios.agencies import Agencies
from orchestrator.tools.scenarios.base import ScenarioClock, ScenarioModel
from orchestrator.tools.scenarios.durations import Duration
from orchestrator.tools.scenarios.names import trade_names
from orchestrator.tools.scenarios.people import Branch, Officer
from orchestrator.tools.scenarios.yaml_lines import (
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
)


class ScenarioError(YamlDataError):
    """A scenario file that cannot be read or does not hold a valid scenario."""


# Filings --------------------------------------------------------------------------------


class ScheduledFiling(NamedTuple):
    """One filing of the replay: when (scenario seconds after the start), where, who, what."""

    offset_seconds: float
    branch_code: str
    clerk_username: str
    filing: FilingInput


class FilingEntry(ScenarioModel):
    """A filing that a clerk of `branch` enters `at` after the scenario starts."""

    branch: str
    clerk: str
    at: Duration = timedelta(0)
    data: FilingInput


class Arrivals(ScenarioModel):
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
    agency: AgencyName | GatewayName
    behaviour: Behaviour


class ShortForm(ScenarioModel):
    """How CI replays a scenario quickly: at most `filings` of its filings, at `scale`.

    The filings kept are spread evenly over the arrivals (the first and the last among
    them), so that a short run still meets the day's outages and its late arrivals.
    """

    filings: int = Field(ge=1, le=1000)
    scale: float = Field(gt=0, allow_inf_nan=False)


class Scenario(ScenarioModel):
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
