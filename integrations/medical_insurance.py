"""The medical-insurance agency (医保): unit account with the initial staff.

Result: `unit_account` and `enrolled`. An empty staff list is answered blocked, naming
`staff_roster` (a 容缺 material).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from integrations.adapter import AgencyReply, MappedAdapter, staff_payload, unit_payload
from integrations.requests import MedicalInsuranceRequest


class _Unit(AgencyReply):
    unit_code: str
    insured_count: int = Field(ge=0)


class MedicalInsuranceAdapter(MappedAdapter[MedicalInsuranceRequest]):
    """Registers the unit and enrols the insured persons."""

    agency = "medical_insurance"

    def to_agency(self, request: MedicalInsuranceRequest) -> dict[str, Any]:
        """The unit registration in the agency's fields."""
        return {
            **unit_payload(request, name="unit_name"),
            "insured_persons": staff_payload(request.staff),
        }

    def from_agency(self, payload: Mapping[str, Any]) -> dict[str, object]:
        """`unit_account` and `enrolled`."""
        reply = _Unit.model_validate(payload)
        return {"unit_account": reply.unit_code, "enrolled": reply.insured_count}
