"""The simulated social-insurance agency (社保): unit registration with the initial staff.

The staff roster is a 容缺 material: an empty roster is answered `blocked`
(code `material_missing`, naming `staff_roster`). It speaks SOAP
(`integrations/wsdl/social_insurance.wsdl`).
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


class UnitRegistrationIn(WireModel):
    """What the agency accepts: a unit registration (单位参保登记) with its employees."""

    uscc: str = Field(min_length=1, max_length=32)
    unit_name: str = Field(min_length=1, max_length=100)
    region_code: str = Field(pattern=DISTRICT_PATTERN)
    employee: list[EmployeeIn] = Field(default_factory=list)


class SocialInsuranceRules(AgencyRules):
    """Opens unit accounts and enrols the staff."""

    name = "social_insurance"

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self._units = Sequence(rng, start_below=10**8)

    def decide(self, payload: object) -> Decision:
        """Register the unit and enrol every employee."""
        app = parse(UnitRegistrationIn, payload)
        if problem := credit_code_problem(app.uscc):
            return Refused("invalid_credit_code", problem)
        if roster := roster_problem(app.employee, required=True):
            code, message = roster
            if code == "material_missing":
                return Blocked(code, message, ("staff_roster",))
            return Refused(code, message)
        return Completed(
            result={
                "unit_no": f"{app.region_code}{self._units.take():09d}",
                "insured_count": len(app.employee),
            },
            subject=app.uscc,
        )
