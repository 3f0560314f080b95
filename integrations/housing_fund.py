"""The housing-fund centre (住房公积金): unit deposit account and contribution rate.

The centre takes the rate as a fraction ("0.12"); ours is a percentage (12). Result:
`unit_account` and `enrolled`. A rate outside 5–12% is rejected (`invalid_rate`).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import Field

from integrations.adapter import AgencyReply, MappedAdapter, staff_payload, unit_payload
from integrations.requests import HousingFundRequest

_RATE_STEP = Decimal("0.000001")


def rate_fraction(percent: float) -> str:
    """A percentage as the centre's fraction text: 12 → "0.120000"."""
    return f"{(Decimal(str(percent)) / 100).quantize(_RATE_STEP):f}"


class _Unit(AgencyReply):
    unit_account_no: str
    depositor_count: int = Field(ge=0)


class HousingFundAdapter(MappedAdapter[HousingFundRequest]):
    """Opens the unit deposit account."""

    agency = "housing_fund"

    def to_agency(self, request: HousingFundRequest) -> dict[str, Any]:
        """The unit deposit registration in the centre's fields."""
        return {
            **unit_payload(request, name="unit_name"),
            "deposit_rate": rate_fraction(request.contribution_rate_percent),
            "employees": staff_payload(request.staff),
        }

    def from_agency(self, payload: Mapping[str, Any]) -> dict[str, object]:
        """`unit_account` and `enrolled`."""
        reply = _Unit.model_validate(payload)
        return {"unit_account": reply.unit_account_no, "enrolled": reply.depositor_count}
