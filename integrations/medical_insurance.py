"""The medical-insurance agency (医保): unit account with the initial staff.

Result: `unit_account` and `enrolled`. An empty staff list is answered blocked, naming
`staff_roster` (a 容缺 material).
"""

from __future__ import annotations

from integrations.adapter import EnrolmentAdapter
from integrations.requests import MedicalInsuranceRequest


class MedicalInsuranceAdapter(EnrolmentAdapter[MedicalInsuranceRequest]):
    """Registers the unit and enrols the insured persons."""

    agency = "medical_insurance"
    roster_field = "insured_persons"
    account_field = "unit_code"
    count_field = "insured_count"
