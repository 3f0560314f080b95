"""The simulated medical-insurance agency (医保): unit registration with the initial staff.

A unit registration (`integrations.simulators.unit_registration`) that enrols the
`insured_persons`. The staff roster is a 容缺 material: an empty roster is answered
`blocked` (code `material_missing`, naming `staff_roster`). Unit codes are `YB`, the
district's code and eight digits. It speaks REST.
"""

from __future__ import annotations

from pydantic import Field

from integrations.simulators.checks import EmployeeIn
from integrations.simulators.unit_registration import EnrolmentIn, InsuranceRules


class MedicalUnitIn(EnrolmentIn):
    """What the agency accepts: a unit registration (单位医保登记) with the insured persons."""

    roster: list[EmployeeIn] = Field(alias="insured_persons")


class MedicalInsuranceRules(InsuranceRules[MedicalUnitIn]):
    """Opens unit accounts (`unit_code`) and enrols the insured persons."""

    name = "medical_insurance"
    form = MedicalUnitIn
    number_digits = 8
    number_key, number_prefix = "unit_code", "YB"
