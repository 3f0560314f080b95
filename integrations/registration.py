"""The market-supervision bureau (市场监管): name check and establishment registration.

Result: `credit_code` (unified social credit code) and `licence_id` (e-business licence).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import field_validator

from integrations.adapter import AgencyReply, MappedAdapter, person_payload, yuan_text
from integrations.codes import is_valid_uscc
from integrations.requests import RegistrationRequest


class _Registered(AgencyReply):
    uscc: str
    licence_no: str

    @field_validator("uscc")
    @classmethod
    def _valid_code(cls, value: str) -> str:
        if not is_valid_uscc(value):
            raise ValueError(f"the bureau returned an invalid credit code {value!r}")
        return value


class RegistrationAdapter(MappedAdapter[RegistrationRequest]):
    """Files an establishment registration and reads back the credit code and licence."""

    agency = "registration"

    def to_agency(self, request: RegistrationRequest) -> dict[str, Any]:
        """The establishment application (设立登记申请) in the bureau's fields."""
        return {
            "region_code": request.district_code,
            "industry_code": request.industry_code,
            "enterprise_name": request.company_name,
            "enterprise_type": request.enterprise_type,
            "registered_capital_yuan": yuan_text(request.registered_capital_fen),
            "business_scope": list(request.business_scope),
            "domicile": request.address,
            "legal_representative": person_payload(request.legal_representative),
            "investors": [
                {**person_payload(s), "share_ratio": s.share_percent} for s in request.shareholders
            ],
            "application_date": request.filing_date.isoformat(),
        }

    def from_agency(self, payload: Mapping[str, Any]) -> dict[str, object]:
        """`credit_code` and `licence_id`."""
        reply = _Registered.model_validate(payload)
        return {"credit_code": reply.uscc, "licence_id": reply.licence_no}
