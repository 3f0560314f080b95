"""The simulated social-insurance agency (社保): unit registration with the initial staff.

A unit registration (`integrations.simulators.unit_registration`) that enrols each
`employee`. The staff roster is a 容缺 material: an empty roster is answered `blocked` (code
`material_missing`, naming `staff_roster`). Unit numbers are the district's code and nine
digits. It speaks SOAP (`integrations/wsdl/social_insurance.wsdl`).
"""

from __future__ import annotations

from pydantic import Field

from integrations.simulators.checks import EmployeeIn
from integrations.simulators.unit_registration import EnrolmentIn, InsuranceRules


class UnitRegistrationIn(EnrolmentIn):
    """What the agency accepts: a unit registration (单位参保登记) with its employees."""

    roster: list[EmployeeIn] = Field(default_factory=list, alias="employee")


class SocialInsuranceRules(InsuranceRules[UnitRegistrationIn]):
    """Opens unit accounts (`unit_no`) and enrols the staff."""

    name = "social_insurance"
    form = UnitRegistrationIn
    number_digits = 9
    number_key = "unit_no"
