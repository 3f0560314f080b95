"""The simulated housing-fund centre (住房公积金): unit account and contribution rate.

The contribution (deposit) rate must lie between 5% and 12%; it is sent as a fraction.
"""

from __future__ import annotations

import random
from decimal import Decimal

from pydantic import Field

from integrations.simulators.checks import (
    DISTRICT_PATTERN,
    EmployeeIn,
    Sequence,
    WireModel,
    credit_code_problem,
    roster_problem,
)
from integrations.simulators.engine import AgencyRules, Completed, Decision, Refused, parse

MIN_RATE = Decimal("0.05")
MAX_RATE = Decimal("0.12")


class DepositUnitIn(WireModel):
    """What the centre accepts: a unit deposit registration (单位缴存登记)."""

    uscc: str = Field(min_length=1, max_length=32)
    unit_name: str = Field(min_length=1, max_length=100)
    region_code: str = Field(pattern=DISTRICT_PATTERN)
    deposit_rate: str = Field(pattern=r"^[0-9](\.[0-9]{1,6})?$")
    employees: list[EmployeeIn]


class HousingFundRules(AgencyRules):
    """Opens unit deposit accounts."""

    name = "housing_fund"

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self._units = Sequence(rng, start_below=10**7)

    def decide(self, payload: object) -> Decision:
        """Check the rate and the depositors; open the unit account."""
        app = parse(DepositUnitIn, payload)
        if problem := credit_code_problem(app.uscc):
            return Refused("invalid_credit_code", problem)
        rate = Decimal(app.deposit_rate)
        if not MIN_RATE <= rate <= MAX_RATE:
            return Refused(
                "invalid_rate", f"缴存比例须在5%至12%之间，收到{(rate * 100).normalize():f}%"
            )
        if roster := roster_problem(app.employees, required=False):
            return Refused(*roster)
        return Completed(
            result={
                "unit_account_no": f"GJJ{app.region_code}{self._units.take():08d}",
                "deposit_rate": app.deposit_rate,
                "depositor_count": len(app.employees),
            },
            subject=app.uscc,
        )
