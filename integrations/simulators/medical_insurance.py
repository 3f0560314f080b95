"""The simulated medical-insurance agency (医保): unit registration with the initial staff.

The staff roster is a 容缺 material: an empty roster is answered `blocked`
(code `material_missing`, naming `staff_roster`).
"""

from __future__ import annotations

import random

from pydantic import Field

from integrations.simulators.checks import (
    DISTRICT_PATTERN,
    EmployeeIn,
    Sequence,
    WireModel,
    credit_code_problem,
    roster_problem,
)
from integrations.simulators.engine import (
    AgencyRules,
    Blocked,
    Completed,
    Decision,
    Refused,
    parse,
)


class MedicalUnitIn(WireModel):
    """What the agency accepts: a unit registration (单位医保登记) with the insured persons."""

    uscc: str = Field(min_length=1, max_length=32)
    unit_name: str = Field(min_length=1, max_length=100)
    region_code: str = Field(pattern=DISTRICT_PATTERN)
    insured_persons: list[EmployeeIn]


class MedicalInsuranceRules(AgencyRules):
    """Opens unit accounts and enrols the insured persons."""

    name = "medical_insurance"

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self._units = Sequence(rng, start_below=10**7)

    def decide(self, payload: object) -> Decision:
        """Register the unit and enrol every insured person."""
        app = parse(MedicalUnitIn, payload)
        if problem := credit_code_problem(app.uscc):
            return Refused("invalid_credit_code", problem)
        if roster := roster_problem(app.insured_persons, required=True):
            code, message = roster
            if code == "material_missing":
                return Blocked(code, message, ("staff_roster",))
            return Refused(code, message)
        return Completed(
            result={
                "unit_code": f"YB{app.region_code}{self._units.take():08d}",
                "insured_count": len(app.insured_persons),
            },
            subject=app.uscc,
        )
