"""The seal-design filing (印模备案): the engraver files the designs of a new company's seals
with public security before engraving them, over REST.

The filed impressions are what a bank reserves (预留印鉴): an account can be opened with them
while the seals themselves are still being engraved. Result: as the seal engraver's,
`seal_codes` {kind: filing number} and `seal_specimens` {kind: base64 PNG}.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any, ClassVar

from integrations.adapter import AgencyReply, MappedAdapter
from integrations.requests import SealRequest
from integrations.seal import DESIGN_FIELD_NAMES, design_order, impressions


class _Design(AgencyReply):
    seal_type: str
    filing_no: str
    specimen: str  # base64 PNG


class _Filed(AgencyReply):
    design: list[_Design]


class SealDesignAdapter(MappedAdapter[SealRequest]):
    """Files the seal designs and reads back one filing number and impression per seal."""

    agency = "seal_design"
    field_names: ClassVar[Mapping[str, str]] = DESIGN_FIELD_NAMES

    def to_agency(self, request: SealRequest) -> dict[str, Any]:
        """The filing in the engraver's fields: as its engraving order, nothing to engrave."""
        return design_order(request)

    def from_agency(self, payload: Mapping[str, Any]) -> dict[str, object]:
        """`seal_codes` {kind: filing number} and `seal_specimens` {kind: base64 PNG}."""
        reply = _Filed.model_validate(payload)
        try:
            filed = [(d.seal_type, d.filing_no, base64.b64decode(d.specimen, validate=True))
                     for d in reply.design]  # fmt: skip
        except binascii.Error as exc:
            raise ValueError(f"an impression is not base64: {exc}") from exc
        return impressions(filed)
