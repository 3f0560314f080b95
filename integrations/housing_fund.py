"""The housing-fund centre (住房公积金): unit deposit account and contribution rate.

The centre takes the rate as a fraction ("0.12"); ours is a percentage (12). Result:
`unit_account` and `enrolled`. A rate outside 5–12% is rejected (`invalid_rate`).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from integrations.adapter import EnrolmentAdapter
from integrations.requests import HousingFundRequest

_RATE_STEP = Decimal("0.000001")


def rate_fraction(percent: float) -> str:
    """A percentage as the centre's fraction text: 12 → "0.120000"."""
    return f"{(Decimal(str(percent)) / 100).quantize(_RATE_STEP):f}"


class HousingFundAdapter(EnrolmentAdapter[HousingFundRequest]):
    """Opens the unit deposit account."""

    agency = "housing_fund"
    roster_field = "employees"
    account_field = "unit_account_no"
    count_field = "depositor_count"
    field_names: ClassVar[Mapping[str, str]] = {"deposit_rate": "contribution_rate_percent"}

    def unit_terms(self, request: HousingFundRequest) -> dict[str, Any]:
        """The contribution rate, as the centre's fraction."""
        return {"deposit_rate": rate_fraction(request.contribution_rate_percent)}
