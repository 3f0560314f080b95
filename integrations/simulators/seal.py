"""The simulated seal engraver with its public-security filing (印章刻制 + 公安备案).

It cannot see the register: it accepts any credit code of valid GB 32100 form and refuses
an invalid one. It files one seal per requested type and returns, for each, the filing
number and the specimen impression (印模, `integrations.simulators.specimens`). It speaks SOAP
(`integrations/wsdl/seal.wsdl`).

Where a district files the designs first (印模备案, `SealDesignRules`, over REST), the
engraving order names the filed designs and the engraver engraves to them; a design it has
not filed for that company is refused.
"""

from __future__ import annotations

import random
import threading
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


class FiledDesignIn(WireModel):
    """A design filed before engraving: which seal type, under which filing number."""

    design_type: SealType
    filing_no: str = Field(min_length=1, max_length=100)


class SealOrderIn(WireModel):
    """What the engraver accepts: an engraving order to be filed with public security, or
    (`filed_design`) to engrave designs already filed."""

    uscc: str = Field(min_length=1, max_length=32)
    enterprise_name: str = Field(min_length=1, max_length=100)
    region_code: str = Field(pattern=DISTRICT_PATTERN)
    seal_type: list[SealType] = Field(min_length=1)
    legal_representative: PersonIn
    filed_design: list[FiledDesignIn] = Field(default_factory=list)


class Engraver:
    """The engraver's books, shared by its design filing and its engraving: one numbering
    of public-security filings and every design filed, by filing number."""

    def __init__(self, seed: object) -> None:
        self._seed = seed
        self._lock = threading.Lock()  # the design filing and the engraving run side by side
        self.clear()

    def clear(self) -> None:
        """Forget every filing (a simulator reset)."""
        self._filings = Sequence(random.Random(f"{self._seed}/engraver"), start_below=10**7)
        self._designs: dict[str, dict[str, str]] = {}

    def file(self, order: SealOrderIn) -> Decision:
        """Check the order, then file one design (number and impression) per seal type."""
        with self._lock:
            return self._file(order)

    def _file(self, order: SealOrderIn) -> Decision:
        if problem := credit_code_problem(order.uscc):
            return Refused("invalid_credit_code", problem, ("uscc",))
        if len(set(order.seal_type)) != len(order.seal_type):
            return Refused("duplicate_seal_type", "同一种印章只能刻制一枚", ("seal_type",))
        rep = order.legal_representative
        if bad := first_bad_person([("法定代表人", rep.name, rep.cert_no)]):
            return Refused("invalid_id_number", bad, ("legal_representative.cert_no",))
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
            self._designs[filing_no] = {"uscc": order.uscc, **seals[-1]}
        return Completed(result={"uscc": order.uscc, "seal": seals}, subject=order.uscc)

    def engrave_filed(self, order: SealOrderIn) -> Decision:
        """Engrave to the designs the order names: each filed, for this company and type."""
        named = {design.design_type: design.filing_no for design in order.filed_design}
        seals: list[dict[str, str]] = []
        for seal_type in order.seal_type:
            with self._lock:
                filed = self._designs.get(named.get(seal_type, ""))
            if filed is None or filed["uscc"] != order.uscc or filed["seal_type"] != seal_type:
                return Refused(
                    "design_not_filed",
                    f"{SEAL_TYPE_NAMES[seal_type]}的印模尚未备案，不能刻制",
                    ("filed_design",),
                )
            seals.append({k: v for k, v in filed.items() if k != "uscc"})
        return Completed(result={"uscc": order.uscc, "seal": seals}, subject=order.uscc)


class _EngraverRules(AgencyRules):
    """The engraver's desks: each works on the engraver's shared books."""

    decides_slowly = True  # it draws the impressions

    def __init__(self, rng: random.Random, *, engraver: Engraver) -> None:
        super().__init__(rng)
        font_path()  # no impressions without the CJK font: say so at start, not per request
        self._engraver = engraver


class SealDesignRules(_EngraverRules):
    """Files the seal designs with public security (印模备案): the impressions, no seals yet."""

    name = "seal_design"

    def decide(self, payload: object) -> Decision:
        """File one number and impression per seal type; answered as `design`."""
        decision = self._engraver.file(parse(SealOrderIn, payload))
        if isinstance(decision, Completed):
            designs = [
                {k: seal[k] for k in ("seal_type", "filing_no", "specimen")}
                for seal in decision.result["seal"]
            ]
            return Completed(result={"uscc": decision.result["uscc"], "design": designs},
                             subject=decision.subject)  # fmt: skip
        return decision


class SealRules(_EngraverRules):
    """Engraves seals and files them, or engraves to designs filed before."""

    name = "seal"

    def decide(self, payload: object) -> Decision:
        """Engrave to the filed designs named, else check the order and file its seals."""
        order = parse(SealOrderIn, payload)
        if order.filed_design:
            return self._engraver.engrave_filed(order)
        return self._engraver.file(order)

    def progress(self, result: Mapping[str, Any], fraction: float) -> Mapping[str, Any]:
        """Engraving first, then the filing with public security."""
        return {"stage": "engraving" if fraction < 0.6 else "filing"}
