"""What the agencies that register a new company as a unit (单位登记) have in common.

The tax bureau, the social- and medical-insurance agencies and the housing-fund centre each
take the company by its unified social credit code (`uscc`) in its district (`region_code`),
refuse an invalid code, apply rules of their own, and issue a number from a sequence of
their own. That much is written here once, and the insurance agencies' answer (the unit's
number and how many were insured); the rest of each agency's form, its rules, the format of
its numbers and the words of its answer stay in the agency's module. Idempotency, latency
and faults are the engine's, as for every agency.
"""

from __future__ import annotations

import random
from abc import abstractmethod
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import Field

from integrations.simulators.checks import (
    DISTRICT_PATTERN,
    EmployeeIn,
    Sequence,
    WireModel,
    credit_code_problem,
    first_bad_person,
)
from integrations.simulators.engine import (
    AgencyRules,
    Blocked,
    Completed,
    Decision,
    Refused,
    parse,
)


class UnitIn(WireModel):
    """The unit as each of these agencies names it; its form adds fields of its own."""

    uscc: str = Field(min_length=1, max_length=32)
    region_code: str = Field(pattern=DISTRICT_PATTERN)


class EnrolmentIn(UnitIn):
    """A unit registration that enrols the staff on a roster (the insurance agencies, the
    housing-fund centre); each agency names the roster its own way (the field's alias)."""

    unit_name: str = Field(min_length=1, max_length=100)
    roster: list[EmployeeIn]


UnitT = TypeVar("UnitT", bound=UnitIn)
EnrolmentT = TypeVar("EnrolmentT", bound=EnrolmentIn)

Objection = Refused | Blocked


class UnitRegistrationRules(AgencyRules, Generic[UnitT]):
    """Registers units: the credit code first, then the agency's `check`, then `register`."""

    form: type[UnitT]  # what the agency accepts
    # The digits of the agency's sequence numbers. Numbering starts at a random (seeded) point
    # within their first tenth, as at an agency that has been registering units for a while.
    number_digits: ClassVar[int]

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self._numbers = Sequence(rng, start_below=10 ** (self.number_digits - 1))

    def decide(self, payload: object) -> Decision:
        """Refuse an invalid credit code or what `check` objects to; else register the unit."""
        unit = parse(self.form, payload)
        if problem := credit_code_problem(unit.uscc):
            return Refused("invalid_credit_code", problem, ("uscc",))
        if (objection := self.check(unit)) is not None:
            return objection
        number = f"{self._numbers.take():0{self.number_digits}d}"
        return Completed(result=self.register(unit, number), subject=unit.uscc)

    def check(self, unit: UnitT) -> Objection | None:
        """Why the agency will not register this unit (yet), by its own rules; None: it will."""
        return None

    @abstractmethod
    def register(self, unit: UnitT, number: str) -> dict[str, Any]:
        """The registration's result in the agency's words; `number` is its next in sequence."""


class EnrolmentRules(UnitRegistrationRules[EnrolmentT]):
    """Registers units with their staff: the roster is checked by `roster_objection`."""

    # Whether an empty roster stops the registration (a 容缺 material to supplement).
    roster_required: ClassVar[bool] = True

    def check(self, unit: EnrolmentT) -> Objection | None:
        """Every person on the roster needs a valid resident ID, and may stand there once."""
        # The roster under the agency's own name for it (the field's alias), as refusals name it.
        roster = self.form.model_fields["roster"].alias or "roster"
        return roster_objection(unit.roster, required=self.roster_required, name=roster)


class InsuranceRules(EnrolmentRules[EnrolmentT]):
    """An insurance agency (社保, 医保): it answers with the unit's number, under its own name
    for it, and how many staff it insured."""

    number_key: ClassVar[str]  # the agency's name for the unit's number
    number_prefix: ClassVar[str] = ""  # before the district's code and the sequence number

    def register(self, unit: EnrolmentT, number: str) -> dict[str, Any]:
        """The unit's number and how many were insured."""
        unit_number = f"{self.number_prefix}{unit.region_code}{number}"
        return {self.number_key: unit_number, "insured_count": len(unit.roster)}


def roster_objection(staff: list[EmployeeIn], *, required: bool, name: str) -> Objection | None:
    """What stops a staff roster: missing when `required` (blocked: a 容缺 material), an
    invalid resident ID or a person listed twice (refused, naming the IDs concerned as paths
    into the roster, which the application calls `name`)."""
    if required and not staff:
        return Blocked("material_missing", "缺少参保职工花名册，补齐后办理", ("staff_roster",))
    for n, e in enumerate(staff):
        if bad := first_bad_person([("职工", e.name, e.cert_no)]):
            return Refused("invalid_id_number", bad, (f"{name}.{n}.cert_no",))
    first_at: dict[str, int] = {}
    for n, e in enumerate(staff):
        if (first := first_at.setdefault(e.cert_no, n)) != n:
            # Either entry may be the wrong one: both are named.
            return Refused(
                "duplicate_employee",
                f"职工{e.name}（{e.cert_no}）在花名册上出现了两次",
                (f"{name}.{first}.cert_no", f"{name}.{n}.cert_no"),
            )
    return None
