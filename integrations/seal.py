"""The seal engraver with its public-security filing (印章刻制 + 公安备案).

Result: `seal_codes`, the filing number of each seal by our seal kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.adapter import AgencyReply, MappedAdapter, person_payload
from integrations.requests import SealKind, SealRequest

# The public-security seal system's type codes.
SEAL_TYPE_CODES: dict[SealKind, str] = {
    "official": "01",
    "finance": "02",
    "invoice": "03",
    "legal_representative": "04",
}
_KIND_OF_CODE = {code: kind for kind, code in SEAL_TYPE_CODES.items()}


class _Seal(AgencyReply):
    seal_type: str
    filing_no: str


class _Engraved(AgencyReply):
    seals: list[_Seal]


class SealAdapter(MappedAdapter[SealRequest]):
    """Orders the seals and reads back one filing number per seal."""

    agency = "seal"

    def to_agency(self, request: SealRequest) -> dict[str, Any]:
        """The engraving order in the engraver's fields."""
        return {
            "uscc": request.credit_code,
            "enterprise_name": request.company_name,
            "region_code": request.district_code,
            "seal_types": [SEAL_TYPE_CODES[kind] for kind in request.seals],
            "legal_representative": person_payload(request.legal_representative),
        }

    def from_agency(self, payload: Mapping[str, Any]) -> dict[str, object]:
        """`seal_codes`: {seal kind: filing number}."""
        reply = _Engraved.model_validate(payload)
        codes: dict[str, str] = {}
        for seal in reply.seals:
            kind = _KIND_OF_CODE.get(seal.seal_type)
            if kind is None:
                raise ValueError(f"unknown seal type {seal.seal_type!r}")
            codes[kind] = seal.filing_no
        return {"seal_codes": codes}
