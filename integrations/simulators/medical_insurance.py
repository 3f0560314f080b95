"""The simulated medical-insurance agency (医保): unit registration with the initial staff.

A unit registration (`integrations.simulators.unit_registration`) that enrols the
`insured_persons`. The staff roster is a 容缺 material: an empty roster is answered
`blocked` (code `material_missing`, naming `staff_roster`). Unit codes are `YB`, the
district's code and eight digits. It speaks REST.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from integrations.simulators.checks import EmployeeIn
from integrations.simulators.unit_registration import EnrolmentIn, EnrolmentRules


class MedicalUnitIn(EnrolmentIn):
    """What the agency accepts: a unit registration (单位医保登记) with the insured persons."""

    roster: list[EmployeeIn] = Field(alias="insured_persons")


class MedicalInsuranceRules(EnrolmentRules[MedicalUnitIn]):
    """Opens unit accounts and enrols the insured persons."""

    name = "medical_insurance"
    form = MedicalUnitIn
    number_digits = 8

    def register(self, unit: MedicalUnitIn, number: str) -> dict[str, Any]:
        """The unit code and how many were insured."""
        return {"unit_code": f"YB{unit.region_code}{number}", "insured_count": len(unit.roster)}
