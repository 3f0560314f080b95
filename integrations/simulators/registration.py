"""The simulated market-supervision bureau (市场监管): name check and establishment registration.

It keeps a register of company names per district (seeded from `data/registration.yaml`),
refuses prohibited words and a trade name (字号) already registered in the same district,
and issues a unified social credit code (GB 32100) and an e-business licence: its number,
the signed PDF itself (base64 in `licence_pdf`, see `integrations.simulators.licence`) and
the verification token its QR code carries (`licence_verification_token`).
"""

from __future__ import annotations

import base64
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from pydantic import Field

from integrations.codes import gb32100_check_char
from integrations.e_licence import LicenceData
from integrations.registration_form import CAPITAL_YUAN_PATTERN
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
from integrations.simulators.licence import (
    DEFAULT_VERIFY_URL,
    issue_licence,
    verification_token,
    verify_url,
)

_GB11714_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
# The application's field a refusal of the name concerns.
NAME_FIELD = "enterprise_name"


class InvestorIn(PersonIn):
    share_ratio: float = Field(gt=0, le=100)


class RegistrationIn(WireModel):
    """What the bureau accepts: an establishment application (设立登记申请)."""

    region_code: str = Field(pattern=DISTRICT_PATTERN)
    industry_code: str = Field(pattern=r"^[A-T]?[0-9]{2,4}$")
    enterprise_name: str = Field(min_length=4, max_length=100)
    enterprise_type: str = Field(min_length=1, max_length=50)
    registered_capital_yuan: str = Field(pattern=CAPITAL_YUAN_PATTERN)
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
    authorities: dict[str, str]  # district -> 登记机关
    jurisdictions: dict[str, str]  # district -> the county-level name a domicile must name
    enterprise_types: dict[str, str]  # application's code -> the licence's words


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
        authorities={str(d): name for d, name in data["authorities"].items()},
        jurisdictions={str(d): name for d, name in data["jurisdictions"].items()},
        enterprise_types=dict(data["enterprise_types"]),
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
    decides_slowly = True  # it signs a PDF licence

    def __init__(self, rng: random.Random, *, licence_verify_url: str = DEFAULT_VERIFY_URL) -> None:
        super().__init__(rng)
        self._verify_url = licence_verify_url
        self._names = name_rules()
        self._register = {d: dict(entries) for d, entries in self._names.register.items()}
        self._org_codes = Sequence(rng, start_below=31**6 // 2)
        self._licences = Sequence(rng, start_below=10**7)

    def _outside_jurisdiction(self, region_code: str, domicile: str) -> str | None:
        county = self._names.jurisdictions.get(region_code)
        if county is None:
            return f"本系统不受理行政区划{region_code}的登记"
        if county not in domicile:
            return f"住所「{domicile}」不在{county}辖区内，应由住所地登记机关办理"
        return None

    def _name_refused(self, region_code: str, name: str) -> Refused | None:
        """Why `name` cannot be registered in `region_code` (prohibited word, structure,
        a trade name already on the district's register), or None if it can."""
        concerns = (NAME_FIELD,)
        for word in self._names.prohibited:
            if word in name:
                return Refused(
                    "prohibited_word",
                    f"名称「{name}」含有禁用或须批准的词语「{word}」",
                    concerns,
                )
        trade, problem = trade_name_of(name, self._names)
        if problem:
            return Refused("invalid_name", problem, concerns)
        registered = self._register.get(region_code, {}).get(trade)
        if registered is not None:
            return Refused(
                "name_conflict",
                f"字号「{trade}」与本区已登记的「{registered}」相同（{region_code}）",
                concerns,
            )
        return None

    def queries(self) -> Mapping[str, Callable[[Mapping[str, str]], dict[str, Any]]]:
        """`names/check`: whether a name could be registered now (名称查重), acting on nothing."""
        return {"names/check": self._check_name}

    def _check_name(self, params: Mapping[str, str]) -> dict[str, Any]:
        region_code, name = params.get("region_code", ""), params.get("name", "")
        if not re.fullmatch(DISTRICT_PATTERN, region_code) or not 4 <= len(name) <= 100:
            return {
                "available": False,
                "code": "invalid_request",
                "message": "须提供区划代码和名称",
            }
        refused = self._name_refused(region_code, name)
        if refused is None:
            return {"available": True, "code": "available", "message": f"名称「{name}」可以使用"}
        return {"available": False, "code": refused.code, "message": refused.message}

    def decide(self, payload: object) -> Decision:
        """Check the name and the applicants; register the company and issue its codes."""
        app = parse(RegistrationIn, payload)
        name = app.enterprise_name
        refused = self._name_refused(app.region_code, name)
        if refused is not None:
            return refused
        trade, _ = trade_name_of(name, self._names)
        district = self._register.setdefault(app.region_code, {})
        if problem := self._outside_jurisdiction(app.region_code, app.domicile):
            return Refused("address_outside_district", problem, ("domicile",))
        if Decimal(app.registered_capital_yuan) <= 0:
            return Refused("invalid_capital", "注册资本须大于零", ("registered_capital_yuan",))
        total = sum(i.share_ratio for i in app.investors)
        if abs(total - 100) > 0.01:
            shares = tuple(f"investors.{n}.share_ratio" for n in range(len(app.investors)))
            return Refused("invalid_shares", f"股东出资比例合计{total:g}%，应为100%", shares)
        people = [
            ("legal_representative", "法定代表人", app.legal_representative),
            *((f"investors.{n}", "股东", i) for n, i in enumerate(app.investors)),
        ]
        for path, role, person in people:
            if bad := first_bad_person([(role, person.name, person.cert_no)]):
                return Refused("invalid_id_number", bad, (f"{path}.cert_no",))

        org8 = "MA" + base31(self._org_codes.take(), 6)
        body17 = "91" + app.region_code + org8 + gb11714_check_char(org8)
        uscc = body17 + gb32100_check_char(body17)
        licence_no = f"{app.region_code}{app.application_date:%Y}{self._licences.take():08d}"
        district[trade] = name
        token = verification_token()
        licence = self._licence(app, uscc, licence_no, token)
        return Completed(
            result={
                "uscc": uscc,
                "licence_no": licence_no,
                "enterprise_name": name,
                "established_on": app.application_date.isoformat(),
                "licence_pdf": base64.b64encode(issue_licence(licence)).decode(),
                "licence_verification_token": token,
            },
            subject=f"{app.region_code}:{trade}",
        )

    def _licence(self, app: RegistrationIn, uscc: str, licence_no: str, token: str) -> LicenceData:
        authority = self._names.authorities.get(app.region_code, f"{app.region_code}市场监督管理局")
        return LicenceData(
            licence_no=licence_no,
            credit_code=uscc,
            name=app.enterprise_name,
            enterprise_type=self._names.enterprise_types.get(
                app.enterprise_type, app.enterprise_type
            ),
            legal_representative=app.legal_representative.name,
            registered_capital_yuan=app.registered_capital_yuan,
            established_on=app.application_date,
            domicile=app.domicile,
            business_scope="；".join(app.business_scope),
            authority=authority,
            issued_on=app.application_date,
            verify_url=verify_url(self._verify_url, token=token, licence_no=licence_no),
        )
