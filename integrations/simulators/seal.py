"""The simulated seal engraver with its public-security filing (印章刻制 + 公安备案).

It cannot see the register: it accepts any credit code of valid GB 32100 form and refuses
an invalid one. It files one seal per requested type and returns, for each, the filing
number and the specimen impression (印模, `integrations.simulators.specimens`). It speaks SOAP
(`integrations/wsdl/seal.wsdl`).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from integrations.simulators.checks import (
    DISTRICT_PATTERN,
    PersonIn,
    Sequence,
    WireModel,
    credit_code_problem,
    first_bad_person,
)
from integrations.simulators.engine import AgencyRules, Completed, Decision, Refused, parse
from integrations.simulators.specimens import SEAL_NAMES, font_path, impression_base64

# Seal type codes of the public-security seal system: 公章, 财务专用章, 发票专用章, 法定代表人名章.
SealType = Literal["01", "02", "03", "04"]
SEAL_TYPE_NAMES = SEAL_NAMES


class SealOrderIn(WireModel):
    """What the engraver accepts: an engraving order to be filed with public security."""

    uscc: str = Field(min_length=1, max_length=32)
    enterprise_name: str = Field(min_length=1, max_length=100)
    region_code: str = Field(pattern=DISTRICT_PATTERN)
    seal_type: list[SealType] = Field(min_length=1)
    legal_representative: PersonIn


class SealRules(AgencyRules):
    """Engraves seals and files them; filing numbers come from one sequence."""

    name = "seal"
    decides_slowly = True  # it draws the impressions

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        font_path()  # no impressions without the CJK font: say so at start, not per request
        self._filings = Sequence(rng, start_below=10**7)

    def decide(self, payload: object) -> Decision:
        """Check the code and the legal representative; file one number per seal type."""
        order = parse(SealOrderIn, payload)
        if problem := credit_code_problem(order.uscc):
            return Refused("invalid_credit_code", problem)
        if len(set(order.seal_type)) != len(order.seal_type):
            return Refused("duplicate_seal_type", "同一种印章只能刻制一枚")
        rep = order.legal_representative
        if bad := first_bad_person([("法定代表人", rep.name, rep.cert_no)]):
            return Refused("invalid_id_number", bad)
        seals = []
        for seal_type in order.seal_type:
            filing_no = f"{order.region_code}{self._filings.take():08d}"
            specimen = impression_base64(
                seal_type,
                enterprise_name=order.enterprise_name,
                holder=rep.name,
                uscc=order.uscc,
                filing_no=filing_no,
            )
            seals.append(
                {
                    "seal_type": seal_type,
                    "seal_name": SEAL_TYPE_NAMES[seal_type],
                    "filing_no": filing_no,
                    "specimen": specimen,
                }
            )
        return Completed(result={"uscc": order.uscc, "seal": seals}, subject=order.uscc)

    def progress(self, result: Mapping[str, Any], fraction: float) -> Mapping[str, Any]:
        """Engraving first, then the filing with public security."""
        return {"stage": "engraving" if fraction < 0.6 else "filing"}
