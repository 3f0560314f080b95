"""The simulated tax bureau (税务): taxpayer registration, taxpayer category, invoices, UKey.

A unit registration (`integrations.simulators.unit_registration`) under the taxpayer's name
and category. The finance officer's real-name details are a 容缺 material: without them the
bureau answers `blocked` (code `material_missing`, naming `finance_officer`) and acts later.
The taxpayer id is the credit code; the UKey serials are the bureau's own sequence. It
speaks SOAP (`integrations/wsdl/tax.wsdl`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from integrations.simulators.checks import PersonIn, first_bad_person
from integrations.simulators.engine import Blocked, Refused
from integrations.simulators.unit_registration import Objection, UnitIn, UnitRegistrationRules

# Category codes: 小规模纳税人 (xgm), 一般纳税人 (ybnsr). Quotas are ours, in yuan.
TaxpayerCategory = Literal["xgm", "ybnsr"]
INVOICE_QUOTAS: dict[str, dict[str, int]] = {
    "xgm": {"single_limit_yuan": 100_000, "monthly_count": 25},
    "ybnsr": {"single_limit_yuan": 1_000_000, "monthly_count": 50},
}


class TaxRegistrationIn(UnitIn):
    """What the bureau accepts: a taxpayer registration (新办纳税人套餐)."""

    taxpayer_name: str = Field(min_length=1, max_length=100)
    taxpayer_category: TaxpayerCategory
    finance_officer: PersonIn | None = None  # a 容缺 material: absent until supplied


class TaxRules(UnitRegistrationRules[TaxRegistrationIn]):
    """Registers taxpayers and issues invoice quotas and UKeys."""

    name = "tax"
    form = TaxRegistrationIn
    number_digits = 9

    def check(self, unit: TaxRegistrationIn) -> Objection | None:
        """Wait for the finance officer's details; refuse them if the resident ID is invalid."""
        officer = unit.finance_officer
        if officer is None:
            return Blocked(
                "material_missing", "缺少财务负责人实名信息，补齐后办理", ("finance_officer",)
            )
        if bad := first_bad_person([("财务负责人", officer.name, officer.cert_no)]):
            return Refused("invalid_id_number", bad, ("finance_officer.cert_no",))
        return None

    def register(self, unit: TaxRegistrationIn, number: str) -> dict[str, Any]:
        """The taxpayer id, its category's invoice quota and a UKey."""
        return {
            "taxpayer_id": unit.uscc,
            "taxpayer_category": unit.taxpayer_category,
            "invoice_quota": dict(INVOICE_QUOTAS[unit.taxpayer_category]),
            "ukey_serial": f"661{number}",
        }
