"""The simulated tax bureau (税务): taxpayer registration, taxpayer category, invoices, UKey.

The finance officer's real-name details are a 容缺 material: without them the bureau
answers `blocked` (code `material_missing`, naming `finance_officer`) and acts later.
It speaks SOAP (`integrations/wsdl/tax.wsdl`).
"""

from __future__ import annotations

import random
from typing import Literal

from pydantic import Field

from integrations.simulators.checks import (
    DISTRICT_PATTERN,
    PersonIn,
    Sequence,
    WireModel,
    credit_code_problem,
    first_bad_person,
)
from integrations.simulators.engine import (
    AgencyRules,
    Blocked,
    Completed,
    Decision,
    Refused,
    parse,
)

# Category codes: 小规模纳税人 (xgm), 一般纳税人 (ybnsr). Quotas are ours, in yuan.
TaxpayerCategory = Literal["xgm", "ybnsr"]
INVOICE_QUOTAS: dict[str, dict[str, int]] = {
    "xgm": {"single_limit_yuan": 100_000, "monthly_count": 25},
    "ybnsr": {"single_limit_yuan": 1_000_000, "monthly_count": 50},
}


class TaxRegistrationIn(WireModel):
    """What the bureau accepts: a taxpayer registration (新办纳税人套餐)."""

    uscc: str = Field(min_length=1, max_length=32)
    taxpayer_name: str = Field(min_length=1, max_length=100)
    region_code: str = Field(pattern=DISTRICT_PATTERN)
    taxpayer_category: TaxpayerCategory
    finance_officer: PersonIn | None = None  # a 容缺 material: absent until supplied


class TaxRules(AgencyRules):
    """Registers taxpayers and issues invoice quotas and UKeys."""

    name = "tax"

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self._ukeys = Sequence(rng, start_below=10**8)

    def decide(self, payload: object) -> Decision:
        """Register the taxpayer, or wait for the finance officer's details."""
        app = parse(TaxRegistrationIn, payload)
        if problem := credit_code_problem(app.uscc):
            return Refused("invalid_credit_code", problem)
        officer = app.finance_officer
        if officer is None:
            return Blocked(
                "material_missing",
                "缺少财务负责人实名信息，补齐后办理",
                ("finance_officer",),
            )
        if bad := first_bad_person([("财务负责人", officer.name, officer.cert_no)]):
            return Refused("invalid_id_number", bad)
        return Completed(
            result={
                "taxpayer_id": app.uscc,
                "taxpayer_category": app.taxpayer_category,
                "invoice_quota": dict(INVOICE_QUOTAS[app.taxpayer_category]),
                "ukey_serial": f"661{self._ukeys.take():09d}",
            },
            subject=app.uscc,
        )
