"""The simulated market-supervision bureau (市场监管): name check and establishment registration.

It keeps a register of company names per district (seeded from `data/registration.yaml`),
refuses prohibited words and a trade name (字号) already registered in the same district,
and issues a unified social credit code (GB 32100) and an e-business licence number.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from pydantic import Field

from integrations.codes import gb32100_check_char
from integrations.simulators.checks import (
    DISTRICT_PATTERN,
    PersonIn,
    Sequence,
    WireModel,
    base31,
    first_bad_person,
    load_yaml,
)
from integrations.simulators.engine import AgencyRules, Completed, Decision, Refused, parse

_GB11714_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


class InvestorIn(PersonIn):
    share_ratio: float = Field(gt=0, le=100)


class RegistrationIn(WireModel):
    """What the bureau accepts: an establishment application (设立登记申请)."""

    region_code: str = Field(pattern=DISTRICT_PATTERN)
    industry_code: str = Field(pattern=r"^[A-T]?\d{2,4}$")
    enterprise_name: str = Field(min_length=4, max_length=100)
    enterprise_type: str = Field(min_length=1, max_length=50)
    registered_capital_yuan: str = Field(pattern=r"^\d{1,13}\.\d{2}$")
    business_scope: list[str] = Field(min_length=1)
    domicile: str = Field(min_length=1, max_length=200)
    legal_representative: PersonIn
    investors: list[InvestorIn] = Field(min_length=1)
    application_date: date


@dataclass(frozen=True)
class NameRules:
    """The bureau's reference data for names, read once from the YAML file."""

    forms: tuple[str, ...]
    divisions: tuple[str, ...]
    industry_words: tuple[str, ...]
    prohibited: tuple[str, ...]
    register: dict[str, dict[str, str]]  # district -> trade name -> registered name


@lru_cache(maxsize=1)
def name_rules() -> NameRules:
    """The name rules and the seeded register (copy the register before changing it)."""
    data: dict[str, Any] = load_yaml("registration.yaml")
    return NameRules(
        forms=tuple(sorted(data["organisation_forms"], key=len, reverse=True)),
        divisions=tuple(sorted(data["division_names"], key=len, reverse=True)),
        industry_words=tuple(data["industry_words"]),
        prohibited=tuple(data["prohibited_words"]),
        register={
            str(district): {e["trade_name"]: e["name"] for e in entries}
            for district, entries in data["register"].items()
        },
    )


def gb11714_check_char(body8: str) -> str:
    """Check character of a 9-character organisation code (GB 11714) from its first 8."""
    values = [int(ch) if ch.isdigit() else ord(ch) - 55 for ch in body8]
    c = 11 - sum(v * w for v, w in zip(values, _GB11714_WEIGHTS, strict=True)) % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def trade_name_of(name: str, rules: NameRules) -> tuple[str, str | None]:
    """The trade name (字号) of `name`, or ("", reason) if the name is not well formed."""
    form = next((f for f in rules.forms if name.endswith(f)), None)
    if form is None:
        return "", f"名称「{name}」缺少组织形式（如有限公司）"
    middle = re.sub(r"[（(][^）)]*[）)]", "", name[: -len(form)])
    stripped = True
    while stripped:
        stripped = False
        for division in rules.divisions:
            if middle.startswith(division):
                middle, stripped = middle[len(division) :], True
    cuts = [i for w in rules.industry_words if (i := middle.find(w)) >= 0]
    trade = middle[: min(cuts)] if cuts else middle
    if len(trade) < 2:
        return "", f"名称「{name}」的字号少于两个字"
    return trade, None


class RegistrationRules(AgencyRules):
    """Name check, establishment registration and the register it keeps."""

    name = "registration"

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self._names = name_rules()
        self._register = {d: dict(entries) for d, entries in self._names.register.items()}
        self._org_codes = Sequence(rng, start_below=31**6 // 2)
        self._licences = Sequence(rng, start_below=10**7)

    def decide(self, payload: object) -> Decision:
        """Check the name and the applicants; register the company and issue its codes."""
        app = parse(RegistrationIn, payload)
        name = app.enterprise_name
        for word in self._names.prohibited:
            if word in name:
                return Refused("prohibited_word", f"名称「{name}」含有禁用或须批准的词语「{word}」")
        trade, problem = trade_name_of(name, self._names)
        if problem:
            return Refused("invalid_name", problem)
        district = self._register.setdefault(app.region_code, {})
        if trade in district:
            return Refused(
                "name_conflict",
                f"字号「{trade}」与本区已登记的「{district[trade]}」相同（{app.region_code}）",
            )
        if Decimal(app.registered_capital_yuan) <= 0:
            return Refused("invalid_capital", "注册资本须大于零")
        total = sum(i.share_ratio for i in app.investors)
        if abs(total - 100) > 0.01:
            return Refused("invalid_shares", f"股东出资比例合计{total:g}%，应为100%")
        people = [("法定代表人", app.legal_representative.name, app.legal_representative.cert_no)]
        people += [("股东", i.name, i.cert_no) for i in app.investors]
        if bad := first_bad_person(people):
            return Refused("invalid_id_number", bad)

        org8 = "MA" + base31(self._org_codes.take(), 6)
        body17 = "91" + app.region_code + org8 + gb11714_check_char(org8)
        uscc = body17 + gb32100_check_char(body17)
        licence_no = f"{app.region_code}{app.application_date:%Y}{self._licences.take():08d}"
        district[trade] = name
        return Completed(
            result={
                "uscc": uscc,
                "licence_no": licence_no,
                "enterprise_name": name,
                "established_on": app.application_date.isoformat(),
            },
            subject=f"{app.region_code}:{trade}",
        )
