"""The partner bank: basic deposit account (基本存款账户) with the reserved seal specimens, over
SOAP.

Result: `account_number` and `bank_code`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, ClassVar

from integrations.adapter import AgencyReply, MappedAdapter
from integrations.bank_precheck import CLIENT_FIELD_NAMES, client_payload
from integrations.requests import BankAccountRequest
from integrations.seal import SEAL_TYPE_CODES
from integrations.soap import SoapService

SOAP_SERVICE = SoapService(
    agency="bank_account",
    wsdl="bank_account.wsdl",
    submit="OpenBasicAccount",
    query="QueryApplication",
)


class _Opened(AgencyReply):
    account_no: str
    bank: str


class BankAccountAdapter(MappedAdapter[BankAccountRequest]):
    """Applies for the basic account and reads back its number."""

    agency = "bank_account"
    field_names: ClassVar[Mapping[str, str]] = {
        "uscc": "credit_code",
        **CLIENT_FIELD_NAMES,
        "seal_specimen": "seal_specimens",
        "seal_type": "kind",
        "filing_no": "filing_no",
        "image": "image_base64",
        "precheck_no": "precheck_no",
    }

    def to_agency(self, request: BankAccountRequest) -> dict[str, Any]:
        """The account application in the bank's fields: the pre-check's client again, the
        account type and the seal specimens (impressions as PNG bytes)."""
        return {
            "uscc": request.credit_code,
            **client_payload(request),
            "account_type": "basic",
            "seal_specimen": [
                {
                    "seal_type": SEAL_TYPE_CODES[specimen.kind],
                    "filing_no": specimen.filing_no,
                    "image": base64.b64decode(specimen.image_base64, validate=True),
                }
                for specimen in request.seal_specimens
            ],
            **({"precheck_no": request.precheck_no} if request.precheck_no else {}),
        }

    def from_agency(self, payload: Mapping[str, Any]) -> dict[str, object]:
        """`account_number` and `bank_code`."""
        reply = _Opened.model_validate(payload)
        return {"account_number": reply.account_no, "bank_code": reply.bank}
