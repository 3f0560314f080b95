"""The seal engraver with its public-security filing (印章刻制 + 公安备案), over SOAP.

Result: `seal_codes`, the filing number of each seal by our seal kind, and
`seal_specimens`, each seal's impression (印模, a PNG) as base64 text by seal kind. Where the
designs were filed first (`integrations.seal_design`), the order names them and the engraver
engraves to them.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

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


# `design_order`'s fields in ours: the engraver's and its design filing's `field_names`.
DESIGN_FIELD_NAMES: dict[str, str] = {
    "uscc": "credit_code",
    "enterprise_name": "company_name",
    "region_code": "district_code",
    "seal_type": "seals",
    "legal_representative": "legal_representative",
}


def design_order(request: SealRequest) -> dict[str, Any]:
    """The seals to design and file, in the engraver's fields (its design filing's too)."""
    return {
        "uscc": request.credit_code,
        "enterprise_name": request.company_name,
        "region_code": request.district_code,
        "seal_type": [SEAL_TYPE_CODES[kind] for kind in request.seals],
        "legal_representative": person_payload(request.legal_representative),
    }


class _Seal(AgencyReply):
    seal_type: str
    filing_no: str
    specimen: bytes


class _Engraved(AgencyReply):
    seal: list[_Seal]


class SealAdapter(MappedAdapter[SealRequest]):
    """Orders the seals and reads back one filing number and impression per seal."""

    agency = "seal"
    field_names: ClassVar[Mapping[str, str]] = {
        **DESIGN_FIELD_NAMES,
        "filed_design": "filed_designs",
    }

    def to_agency(self, request: SealRequest) -> dict[str, Any]:
        """The engraving order in the engraver's fields, naming the designs filed first."""
        return {
            **design_order(request),
            "filed_design": [
                {"design_type": SEAL_TYPE_CODES[kind], "filing_no": filing_no}
                for kind, filing_no in request.filed_designs.items()
            ],
        }

    def from_agency(self, payload: Mapping[str, Any]) -> dict[str, object]:
        """`seal_codes` {kind: filing number} and `seal_specimens` {kind: base64 PNG}."""
        reply = _Engraved.model_validate(payload)
        return impressions((seal.seal_type, seal.filing_no, seal.specimen) for seal in reply.seal)


def impressions(filed: Iterable[tuple[str, str, bytes]]) -> dict[str, object]:
    """`seal_codes` {kind: filing number} and `seal_specimens` {kind: base64 PNG}, from the
    type code, filing number and impression (PNG) of each seal or design filed."""
    codes: dict[str, str] = {}
    specimens: dict[str, str] = {}
    for type_code, filing_no, png in filed:
        kind = KIND_OF_CODE.get(type_code)
        if kind is None:
            raise ValueError(f"unknown seal type {type_code!r}")
        if not png.startswith(b"\x89PNG\r\n\x1a\n"):
            raise ValueError(f"the impression of the {kind} seal is not a PNG")
        codes[kind] = filing_no
        specimens[kind] = base64.b64encode(png).decode("ascii")
    return {"seal_codes": codes, "seal_specimens": specimens}
