"""The simulated housing-fund centre (住房公积金): unit account and contribution rate.

A unit registration (`integrations.simulators.unit_registration`) that opens a deposit
account. The contribution (deposit) rate is sent as a fraction and must lie between
`MIN_RATE` and `MAX_RATE`; the roster of depositors may be empty. Unit accounts are `GJJ`,
the district's code and eight digits. It speaks REST.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import Field

from integrations.simulators.checks import EmployeeIn
from integrations.simulators.engine import Refused
from integrations.simulators.unit_registration import EnrolmentIn, EnrolmentRules, Objection

MIN_RATE = Decimal("0.05")
MAX_RATE = Decimal("0.12")


def _percent(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f}%"


class DepositUnitIn(EnrolmentIn):
    """What the centre accepts: a unit deposit registration (单位缴存登记)."""

    deposit_rate: str = Field(pattern=r"^[0-9](\.[0-9]{1,6})?$")
    roster: list[EmployeeIn] = Field(alias="employees")


class HousingFundRules(EnrolmentRules[DepositUnitIn]):
    """Opens unit deposit accounts."""

    name = "housing_fund"
    form = DepositUnitIn
    number_digits = 8
    roster_required = False

    def check(self, unit: DepositUnitIn) -> Objection | None:
        """The rate within the centre's bounds; the depositors, if any, each once and valid."""
        rate = Decimal(unit.deposit_rate)
        if not MIN_RATE <= rate <= MAX_RATE:
            return Refused(
                "invalid_rate",
                f"缴存比例须在{_percent(MIN_RATE)}至{_percent(MAX_RATE)}之间，收到{_percent(rate)}",
                ("deposit_rate",),
            )
        return super().check(unit)

    def register(self, unit: DepositUnitIn, number: str) -> dict[str, Any]:
        """The unit's deposit account, its rate and how many depositors it holds."""
        return {
            "unit_account_no": f"GJJ{unit.region_code}{number}",
            "deposit_rate": unit.deposit_rate,
            "depositor_count": len(unit.roster),
        }
