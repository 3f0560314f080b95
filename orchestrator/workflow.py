"""The steps of a filing, each declared once, and the graphs districts run them in.

A step is declared here once: its agency, its labels, the facts its result gives the filing
(a credit code, the filed seal impressions...) and the facts its request is built from (its
builder, in `orchestrator.filings.agency_requests`, is registered for it there). Which steps a
district runs, and which waits for which, is its policy (`graphs` in the reference data): a
`Graph` is checked against these declarations and is stamped on each filing at acceptance,
so a change of policy never rewires a filing under way.

Joins happen in the database: finishing a step decrements its successors' `pending_needs`
in the same transaction and claims those that reach zero; the worker carries on with one
(the first in the graph's order: a graph lists its longest path first) and sends the
others, in one message, only after the commit.
Adding a step is one `declare` here, its request builder, and its agency's adapter.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from integrations.registry import agencies

# The facts a step's result may give the filing, by the names declarations use.
CREDIT_CODE = "credit_code"  # registration's: every later request names the company by it
SEAL_IMPRESSIONS = "seal_impressions"  # the filed impressions (印模) a bank reserves
IDENTITY_CHECK = "identity_check"  # the bank's check of the client's people at the desk
SEALS = "seals"  # the physical seals, engraved
BASIC_ACCOUNT = "basic_account"  # the company's basic deposit account, opened
TAXPAYER = "taxpayer"  # the company registered for tax


@dataclass(frozen=True)
class StepSpec:
    """A step: its name, the agency that carries it, its labels, and what it gives and uses.

    `gives` names the facts its result gives the filing; `uses` the facts its request cannot
    be built without, `may_use` those it sends when the district's graph has them first.
    """

    name: str
    agency: str
    label_zh: str
    label_en: str
    gives: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()
    may_use: tuple[str, ...] = ()


class WorkflowError(ValueError):
    """A step or a graph that does not fit the declarations."""


_CATALOGUE: dict[str, StepSpec] = {}


def declare(spec: StepSpec) -> StepSpec:
    """Add a step to those a district's graph may use, after checking it.

    Names are identifiers because they go into idempotency keys and, inline, into SQL; the
    agency must be one the integrations declare (an adapter carries it). The shipped steps
    are declared below, so they are checked at import.
    """
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,29}", spec.name):
        raise WorkflowError(f"step name {spec.name!r} is not a lower-case identifier")
    if spec.name in _CATALOGUE:
        raise WorkflowError(f"step {spec.name!r} declared twice")
    if spec.agency not in agencies():
        raise WorkflowError(f"step {spec.name!r}: no agency {spec.agency!r} in integrations")
    if not (spec.label_zh and spec.label_en):
        raise WorkflowError(f"step {spec.name!r} needs a Chinese and an English label")
    _CATALOGUE[spec.name] = spec
    return spec


def withdraw(name: str) -> None:
    """Forget a step `declare` added (a test's own, once it is done)."""
    _CATALOGUE.pop(name, None)
    stamped.cache_clear()
    of_entries.cache_clear()


def by_name() -> Mapping[str, StepSpec]:
    """Every declared step by name, in declaration order."""
    return _CATALOGUE


REGISTRATION = declare(StepSpec("registration", "registration", "设立登记",
                                "Business registration", gives=(CREDIT_CODE,)))  # fmt: skip
BANK_PRECHECK = declare(StepSpec("bank_precheck", "bank_precheck", "银行身份预审",
                                 "Bank identity pre-check", gives=(IDENTITY_CHECK,)))  # fmt: skip
SEAL_DESIGN = declare(StepSpec("seal_design", "seal_design", "印模备案", "Seal design filed",
                               gives=(SEAL_IMPRESSIONS,), uses=(CREDIT_CODE,)))  # fmt: skip
SEAL = declare(StepSpec("seal", "seal", "印章刻制", "Seal engraving",
                        gives=(SEAL_IMPRESSIONS, SEALS), uses=(CREDIT_CODE,),
                        may_use=(SEAL_IMPRESSIONS,)))  # fmt: skip
BANK_ACCOUNT = declare(StepSpec("bank_account", "bank_account", "银行开户", "Bank account",
                                gives=(BASIC_ACCOUNT,), uses=(CREDIT_CODE, SEAL_IMPRESSIONS),
                                may_use=(IDENTITY_CHECK,)))  # fmt: skip
TAX = declare(StepSpec("tax", "tax", "税务登记", "Tax registration",
                       gives=(TAXPAYER,), uses=(CREDIT_CODE,)))  # fmt: skip
SOCIAL_INSURANCE = declare(StepSpec("social_insurance", "social_insurance", "社保登记",
                                    "Social insurance", uses=(CREDIT_CODE,)))  # fmt: skip
MEDICAL_INSURANCE = declare(StepSpec("medical_insurance", "medical_insurance", "医保登记",
                                     "Medical insurance", uses=(CREDIT_CODE,)))  # fmt: skip
HOUSING_FUND = declare(StepSpec("housing_fund", "housing_fund", "公积金开户", "Housing fund",
                                uses=(CREDIT_CODE,)))  # fmt: skip
DELIVERY = declare(StepSpec("delivery", "courier", "证照送达", "Delivery of licence and seals",
                            uses=(CREDIT_CODE,)))  # fmt: skip

# The hand-over of licence and seals to the client (by courier, or at the branch): every
# graph ends in it, so its turn coming (it is made ready) means every agency step is done
# and the filing is "ready"; its own end is the filing's completion.
HANDOVER_STEP = DELIVERY.name


def step_giving(fact: str) -> str:
    """The first declared step whose result gives `fact` (the credit code: registration)."""
    return next(spec.name for spec in _CATALOGUE.values() if fact in spec.gives)


@dataclass(frozen=True)
class Graph:
    """The steps one filing runs, each with the steps it waits for, in topological order."""

    steps: tuple[tuple[str, tuple[str, ...]], ...]

    @cached_property
    def needs(self) -> Mapping[str, tuple[str, ...]]:
        """What each step waits for, by name, in the graph's order."""
        return dict(self.steps)

    def may_go_without(self, name: str) -> bool:
        """Whether the steps after `name` can do without its result: none of those that
        wait for it, directly or not, uses a fact it gives (tax may be withdrawn; seal
        design, whose impressions the bank reserves, may not)."""
        gives = set(by_name()[name].gives)
        return not any(gives.intersection(by_name()[after].uses) for after in self._after(name))

    def _after(self, name: str) -> set[str]:
        found: set[str] = set()
        for successor in self.successors(name):
            found |= {successor, *self._after(successor)}
        return found

    def successors(self, name: str) -> tuple[str, ...]:
        """The steps that wait directly for `name`."""
        return self._successors[name]

    @cached_property
    def _successors(self) -> Mapping[str, tuple[str, ...]]:
        return {n: tuple(s for s, needs in self.steps if n in needs) for n, _ in self.steps}

    def roots(self) -> tuple[str, ...]:
        """The steps that can start as soon as a filing is accepted."""
        return tuple(name for name, needs in self.steps if not needs)

    def upstream(self, name: str) -> tuple[str, ...]:
        """Every step `name` depends on, directly or not, in the graph's order."""
        return self._upstream[name]

    @cached_property
    def _upstream(self) -> Mapping[str, tuple[str, ...]]:
        found: dict[str, set[str]] = {}
        for name, needs in self.steps:
            found[name] = set(needs).union(*(found[n] for n in needs))
        return {name: tuple(n for n in self.needs if n in found[name]) for name in self.needs}

    def reads(self, name: str) -> tuple[str, ...]:
        """The earlier steps whose results the request of `name` is built from."""
        return self._reads[name]

    @cached_property
    def _reads(self) -> Mapping[str, tuple[str, ...]]:
        specs = by_name()
        reads = {}
        for name in self.needs:
            wanted = {*specs[name].uses, *specs[name].may_use}
            reads[name] = tuple(n for n in self.upstream(name) if wanted & {*specs[n].gives})
        return reads

    def to_json(self) -> list[list[Any]]:
        """The graph as stamped on a filing: `[[step, [needs...]], ...]`."""
        return [[name, list(needs)] for name, needs in self.steps]


def graph(steps: Iterable[tuple[str, Sequence[str]]]) -> Graph:
    """A checked graph: declared steps, each once, needs listed before, ending in delivery.

    Every step but the last leads to it, and every fact a step's request needs is given by a
    step it waits for.
    """
    checked = Graph(tuple((name, tuple(needs)) for name, needs in steps))
    seen: set[str] = set()
    for name, needs in checked.steps:
        if name not in _CATALOGUE:
            raise WorkflowError(f"graph names an undeclared step {name!r}")
        if name in seen:
            raise WorkflowError(f"step {name!r} appears twice in the graph")
        if later := [n for n in needs if n not in seen]:
            raise WorkflowError(f"step {name!r} needs steps not listed before it {later}")
        seen.add(name)
        given = {fact for n in checked.upstream(name) for fact in _CATALOGUE[n].gives}
        if lacking := [fact for fact in _CATALOGUE[name].uses if fact not in given]:
            raise WorkflowError(f"step {name!r} needs {lacking} from a step it does not wait for")
    if not checked.steps or checked.steps[-1][0] != HANDOVER_STEP:
        raise WorkflowError(f"a graph ends in {HANDOVER_STEP!r}")
    if dead := [n for n, _ in checked.steps[:-1] if not checked.successors(n)]:
        raise WorkflowError(f"steps {dead} lead nowhere: {HANDOVER_STEP!r} must wait for them")
    return checked


@lru_cache(maxsize=64)
def stamped(text: str) -> Graph:
    """The graph stamped on a filing, from its JSON text: parsed and checked once per graph."""
    return graph((name, needs) for name, needs in json.loads(text))


@lru_cache(maxsize=64)
def of_entries(steps: tuple[tuple[str, tuple[str, ...]], ...]) -> Graph:
    """A graph as reference data lists it, checked once per graph."""
    return graph(steps)
