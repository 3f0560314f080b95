"""The social-insurance agency (社保), over SOAP: unit account with the initial staff.

Result: `unit_account` and `enrolled` (how many staff were enrolled). An empty staff list
is answered blocked, naming `staff_roster` (a 容缺 material).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from integrations.adapter import AgencyReply, MappedAdapter, staff_payload, unit_payload
from integrations.requests import SocialInsuranceRequest
from integrations.soap import SoapService

SOAP_SERVICE = SoapService(
    agency="social_insurance",
    wsdl="social_insurance.wsdl",
    submit="RegisterUnit",
    query="QueryUnitRegistration",
)


class _Unit(AgencyReply):
    unit_no: str
    insured_count: int = Field(ge=0)


class SocialInsuranceAdapter(MappedAdapter[SocialInsuranceRequest]):
    """Registers the unit and enrols its staff."""

    agency = "social_insurance"

    def to_agency(self, request: SocialInsuranceRequest) -> dict[str, Any]:
        """The unit registration in the agency's fields."""
        return {
            **unit_payload(request, name="unit_name"),
            "employee": staff_payload(request.staff),
        }

    def from_agency(self, payload: Mapping[str, Any]) -> dict[str, object]:
        """`unit_account` and `enrolled`."""
        reply = _Unit.model_validate(payload)
        return {"unit_account": reply.unit_no, "enrolled": reply.insured_count}
