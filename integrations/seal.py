"""The seal engraver with its public-security filing (印章刻制 + 公安备案), over SOAP.

Result: `seal_codes`, the filing number of each seal by our seal kind, and
`seal_specimens`, each seal's impression (印模, a PNG) as base64 text by seal kind.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from integrations.adapter import AgencyReply, MappedAdapter, person_payload
from integrations.requests import SealKind, SealRequest
from integrations.soap import SoapService

SOAP_SERVICE = SoapService(agency="seal", wsdl="seal.wsdl", submit="FileSeals", query="QueryFiling")

# The public-security seal system's type codes.
SEAL_TYPE_CODES: dict[SealKind, str] = {
    "official": "01",
    "finance": "02",
    "invoice": "03",
    "legal_representative": "04",
}
KIND_OF_CODE: dict[str, SealKind] = {code: kind for kind, code in SEAL_TYPE_CODES.items()}


class _Seal(AgencyReply):
    seal_type: str
    filing_no: str
    specimen: bytes


class _Engraved(AgencyReply):
    seal: list[_Seal]


class SealAdapter(MappedAdapter[SealRequest]):
    """Orders the seals and reads back one filing number and impression per seal."""

    agency = "seal"

    def to_agency(self, request: SealRequest) -> dict[str, Any]:
        """The engraving order in the engraver's fields."""
        return {
            "uscc": request.credit_code,
            "enterprise_name": request.company_name,
            "region_code": request.district_code,
            "seal_type": [SEAL_TYPE_CODES[kind] for kind in request.seals],
            "legal_representative": person_payload(request.legal_representative),
        }

    def from_agency(self, payload: Mapping[str, Any]) -> dict[str, object]:
        """`seal_codes` {kind: filing number} and `seal_specimens` {kind: base64 PNG}."""
        reply = _Engraved.model_validate(payload)
        codes: dict[str, str] = {}
        specimens: dict[str, str] = {}
        for seal in reply.seal:
            kind = KIND_OF_CODE.get(seal.seal_type)
            if kind is None:
                raise ValueError(f"unknown seal type {seal.seal_type!r}")
            if not seal.specimen.startswith(b"\x89PNG\r\n\x1a\n"):
                raise ValueError(f"the impression of the {kind} seal is not a PNG")
            codes[kind] = seal.filing_no
            specimens[kind] = base64.b64encode(seal.specimen).decode("ascii")
        return {"seal_codes": codes, "seal_specimens": specimens}
