"""The market-supervision bureau (市场监管): name check and establishment registration.

Result: `credit_code` (unified social credit code), `licence_id` (e-business licence number)
and `licence`, the signed licence PDF as an `AgencyDocument` (see `integrations.e_licence`)
with the verification token its QR code carries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Base64Bytes, Field, ValidationError, field_validator

from integrations.adapter import (
    AgencyReply,
    MappedAdapter,
    person_payload,
    shareholder_payload,
    yuan_text,
)
from integrations.base import AgencyDocument, TransientError
from integrations.codes import is_valid_uscc
from integrations.e_licence import MEDIA_TYPE, VERIFICATION_TOKEN_PATTERN
from integrations.requests import RegistrationRequest
from integrations.rest import RestChannel


class _Registered(AgencyReply):
    uscc: str
    licence_no: str
    licence_pdf: Base64Bytes
    # What the licence's QR code carries to its public check; a bureau whose QR codes lead
    # elsewhere sends none.
    licence_verification_token: str | None = Field(default=None, pattern=VERIFICATION_TOKEN_PATTERN)

    @field_validator("licence_pdf")
    @classmethod
    def _a_pdf(cls, value: bytes) -> bytes:
        if not value.startswith(b"%PDF-"):
            raise ValueError("the bureau's licence is not a PDF")
        return value

    @field_validator("uscc")
    @classmethod
    def _valid_code(cls, value: str) -> str:
        if not is_valid_uscc(value):
            raise ValueError(f"the bureau returned an invalid credit code {value!r}")
        return value


class NameCheck(AgencyReply):
    """The bureau's answer to a name check (名称自主申报查重): whether the name could be
    registered in the district now, a stable code, and the bureau's own words."""

    available: bool
    code: str = Field(max_length=60)  # available, name_conflict, prohibited_word, invalid_name
    message: str = Field(max_length=500)


class RegistrationAdapter(MappedAdapter[RegistrationRequest]):
    """Files an establishment registration and reads back the credit code and licence;
    checks a name against the district's register before anything is filed."""

    agency = "registration"
    field_names: ClassVar[Mapping[str, str]] = {
        "region_code": "district_code",
        "industry_code": "industry_code",
        "enterprise_name": "company_name",
        "enterprise_type": "enterprise_type",
        "registered_capital_yuan": "registered_capital_fen",
        "business_scope": "business_scope",
        "domicile": "address",
        "legal_representative": "legal_representative",
        "investors": "shareholders",
        "share_ratio": "share_percent",
        "application_date": "filing_date",
    }

    def __init__(self, channel: RestChannel) -> None:
        super().__init__(channel)
        self._rest = channel

    def check_name(self, region_code: str, name: str) -> NameCheck:
        """Ask the bureau whether `name` could be registered in `region_code` now.

        A question, not a request: nothing is reserved, no idempotency key; an answer we
        cannot read is a `TransientError`, like an agency that does not answer.
        """
        body = self._rest.ask("names/check", {"region_code": region_code, "name": name})
        try:
            return NameCheck.model_validate(body)
        except ValidationError as exc:
            raise TransientError(
                f"registration: unexpected name-check reply ({exc.error_count()} errors)",
                code="bad_reply",
            ) from exc

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
            "investors": [shareholder_payload(s) for s in request.shareholders],
            "application_date": request.filing_date.isoformat(),
        }

    def from_agency(self, payload: Mapping[str, Any]) -> dict[str, object]:
        """`credit_code`, `licence_id` and the `licence` document."""
        reply = _Registered.model_validate(payload)
        licence = AgencyDocument(
            kind="licence",
            media_type=MEDIA_TYPE,
            content=reply.licence_pdf,
            reference=reply.licence_no,
            verification_token=reply.licence_verification_token or "",
        )
        return {"credit_code": reply.uscc, "licence_id": reply.licence_no, "licence": licence}
