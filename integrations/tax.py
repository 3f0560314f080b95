"""The tax bureau (税务), over SOAP: taxpayer registration, taxpayer type, invoice quota, UKey.

Result: `taxpayer_id`, `taxpayer_type`, `invoice_quota` (largest single invoice, in fen),
`invoice_monthly_count` and `ukey_serial`. Without the finance officer (a 容缺 material)
the bureau answers blocked, naming `finance_officer` (our `finance_tax_agents`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field

from integrations.adapter import (
    AgencyReply,
    MappedAdapter,
    person_payload,
    unit_field_names,
    unit_payload,
)
from integrations.requests import TaxpayerType, TaxRequest
from integrations.soap import SoapService

SOAP_SERVICE = SoapService(
    agency="tax", wsdl="tax.wsdl", submit="RegisterTaxpayer", query="QueryRegistration"
)

# The bureau's taxpayer category codes: 小规模纳税人, 一般纳税人.
TAXPAYER_CATEGORY: dict[TaxpayerType, str] = {"small_scale": "xgm", "general": "ybnsr"}
_TYPE_OF_CATEGORY = {code: kind for kind, code in TAXPAYER_CATEGORY.items()}


class _Quota(AgencyReply):
    single_limit_yuan: int = Field(ge=0)
    monthly_count: int = Field(ge=0)


class _Registered(AgencyReply):
    taxpayer_id: str
    taxpayer_category: str
    invoice_quota: _Quota
    ukey_serial: str


class TaxAdapter(MappedAdapter[TaxRequest]):
    """Registers the taxpayer and reads back type, invoice quota and UKey."""

    agency = "tax"
    materials: ClassVar[Mapping[str, str]] = {"finance_officer": "finance_tax_agents"}
    field_names: ClassVar[Mapping[str, str]] = {
        **unit_field_names(name="taxpayer_name"),
        "taxpayer_category": "taxpayer_type",
        "finance_officer": "finance_officer",
    }

    def to_agency(self, request: TaxRequest) -> dict[str, Any]:
        """The new-taxpayer registration in the bureau's fields."""
        officer = request.finance_officer
        return {
            **unit_payload(request, name="taxpayer_name"),
            "taxpayer_category": TAXPAYER_CATEGORY[request.taxpayer_type],
            "finance_officer": None if officer is None else person_payload(officer),
        }

    def from_agency(self, payload: Mapping[str, Any]) -> dict[str, object]:
        """Taxpayer id, type, invoice quota (fen) and UKey serial."""
        reply = _Registered.model_validate(payload)
        taxpayer_type = _TYPE_OF_CATEGORY.get(reply.taxpayer_category)
        if taxpayer_type is None:
            raise ValueError(f"unknown taxpayer category {reply.taxpayer_category!r}")
        return {
            "taxpayer_id": reply.taxpayer_id,
            "taxpayer_type": taxpayer_type,
            "invoice_quota": reply.invoice_quota.single_limit_yuan * 100,
            "invoice_monthly_count": reply.invoice_quota.monthly_count,
            "ukey_serial": reply.ukey_serial,
        }
