"""The step graph of a filing, declared once as data, and its dispatch through Celery canvas.

registration → seal → bank_account; registration → tax, social_insurance,
medical_insurance, housing_fund; all of them → delivery. Joins happen in the database:
finishing a step decrements its successors' `pending_needs` in the same transaction and
claims those that reach zero; the worker carries on with one (the first declared: declare the
longest path first) and sends the others, in one message, only after the commit.
Adding a step is one declaration here and one request builder in `agency_requests.py`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class StepSpec:
    """A step: its name, the agency adapter that carries it, and the steps it waits for."""

    name: str
    agency: str
    needs: tuple[str, ...] = ()
    label_zh: str = ""
    label_en: str = ""
    # The earlier steps whose results its request is built from (None: all it depends on).
    reads: tuple[str, ...] | None = None


STEPS: tuple[StepSpec, ...] = (
    StepSpec("registration", "registration", (), "设立登记", "Business registration"),
    StepSpec("seal", "seal", ("registration",), "印章刻制", "Seal engraving"),
    StepSpec("bank_account", "bank_account", ("seal",), "银行开户", "Bank account"),
    StepSpec("tax", "tax", ("registration",), "税务登记", "Tax registration"),
    StepSpec(
        "social_insurance", "social_insurance", ("registration",), "社保登记", "Social insurance"
    ),
    StepSpec(
        "medical_insurance",
        "medical_insurance",
        ("registration",),
        "医保登记",
        "Medical insurance",
    ),
    StepSpec("housing_fund", "housing_fund", ("registration",), "公积金开户", "Housing fund"),
    StepSpec(
        "delivery",
        "courier",
        ("bank_account", "tax", "social_insurance", "medical_insurance", "housing_fund"),
        "证照送达",
        "Delivery of licence and seals",
        reads=("registration",),  # the credit code; not the seal impressions, say
    ),
)

# The step whose promotion means every agency step is done: the filing is "ready".
FINAL_STEP = "delivery"


class WorkflowError(ValueError):
    """The declared graph is not a DAG over known steps."""


def validate(steps: Iterable[StepSpec]) -> tuple[StepSpec, ...]:
    """Check names are unique identifiers, needs declared earlier (so the order is topological).

    Names are identifiers because they go into idempotency keys and, inline, into SQL.
    """
    declared: dict[str, StepSpec] = {}
    for spec in steps:
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,29}", spec.name):
            raise WorkflowError(f"step name {spec.name!r} is not a lower-case identifier")
        if spec.name in declared:
            raise WorkflowError(f"step {spec.name!r} declared twice")
        unknown = [n for n in spec.needs if n not in declared]
        if unknown:
            raise WorkflowError(f"step {spec.name!r} needs undeclared or later steps {unknown}")
        unread = [n for n in spec.reads or () if n not in _ancestors(spec, declared)]
        if unread:
            raise WorkflowError(f"step {spec.name!r} reads steps it does not wait for {unread}")
        declared[spec.name] = spec
    return tuple(steps)


@cache
def by_name() -> Mapping[str, StepSpec]:
    """Every step by name, in declaration (topological) order."""
    return {spec.name: spec for spec in validate(STEPS)}


@cache
def successors(name: str) -> tuple[str, ...]:
    """The steps that wait directly for `name`."""
    return tuple(spec.name for spec in STEPS if name in spec.needs)


def roots() -> tuple[str, ...]:
    """The steps that can start as soon as a filing is accepted."""
    return tuple(spec.name for spec in STEPS if not spec.needs)


def upstream(name: str) -> tuple[str, ...]:
    """Every step `name` depends on, directly or not, in declaration order."""
    specs = by_name()
    found = _ancestors(specs[name], specs)
    return tuple(n for n in specs if n in found)


@cache
def reads(name: str) -> tuple[str, ...]:
    """The steps whose results the request of `name` is built from, in declaration order."""
    spec = by_name()[name]
    return upstream(name) if spec.reads is None else tuple(n for n in by_name() if n in spec.reads)


def _ancestors(spec: StepSpec, specs: Mapping[str, StepSpec]) -> set[str]:
    found: set[str] = set()
    stack = list(spec.needs)
    while stack:
        need = stack.pop()
        if need not in found:
            found.add(need)
            stack.extend(specs[need].needs)
    return found
