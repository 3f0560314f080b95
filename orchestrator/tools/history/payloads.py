"""The stored filings (`Filing.payload`) a history's filings carry: one validated template
per district, bank and missing 容缺 material, with each filing's own name, people and
numbers put in by text substitution (validating a million filings would take an hour).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from integrations.codes import gb11643_check_char, gb32100_check_char
from orchestrator.filings.acceptance import AcceptedFiling
from orchestrator.reference import ReferenceData

# Placeholders the templates carry, replaced per filing.
_TRADE, _DATE, _MOBILE, _NAME, _ID = "@@TRADE@@", "@@DATE@@", "13900000000", "@@NAME@@", "@@ID@@"
_ID_BODY = "37078319850314131"
_TEMPLATE_ID = _ID_BODY + gb11643_check_char(_ID_BODY)

# 字号 are two of these; surnames and given names make the legal representatives.
TRADE_SYLLABLES = "禾丰华盛鑫源恒达瑞祥宏远金泰德润嘉利兴隆博创智诚信和康宁安泽晟昌永旺乐鸿"
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗"
GIVEN_NAMES = ("建国", "秀英", "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇")
INDUSTRY = ("7511", "农业科技")  # 农林牧渔技术推广服务: a name term the register accepts


def _base(district_code: str, region: str, bank_code: str) -> dict[str, Any]:
    person = {"name": _NAME, "id_number": _TEMPLATE_ID, "mobile": _MOBILE}
    return {
        "district_code": district_code,
        "industry_code": INDUSTRY[0],
        "enterprise_type": "one_person_llc",
        "company_name": {
            "region": region,
            "trade_name": _TRADE,
            "industry_term": INDUSTRY[1],
            "organisation_form": "有限公司",
        },
        "registered_capital_fen": 100_000_000,
        "business_scope": ["农业技术推广服务", "蔬菜种植", "食用农产品批发"],
        "address": f"{region}人民路88号",
        "legal_representative": person,
        "shareholders": [{**person, "share_percent": 100}],
        "finance_officer": {**person},
        "seals": ["official", "finance", "invoice", "legal_representative"],
        "bank_code": bank_code,
        "branch_code": "103458000123",
        "taxpayer_type": "small_scale",
        "staff": [{"name": _NAME, "id_number": _TEMPLATE_ID}],
        "housing_fund_rate_percent": 10,
        "delivery": {"method": "courier", "recipient": _NAME, "mobile": _MOBILE, "address": ""},
        "filing_date": "2026-01-05",
    }


@dataclass(frozen=True)
class Template:
    """A stored filing as JSON text with placeholders, and its company name's parts."""

    text: str
    region: str


def templates(
    reference: ReferenceData, district_code: str, bank_code: str
) -> dict[str | None, Template]:
    """Templates by the 容缺 material missing (None: every material handed in), each
    checked once as the API would check a filing."""
    district = reference.districts[district_code]
    region = district.own_name_regions[0]
    handed_in = [m for m in reference.materials.values() if not m.generated]
    found: dict[str | None, Template] = {}
    for missing in [None, *(m.code for m in handed_in if m.kind == "may_be_supplemented")]:
        data = _base(district_code, region, bank_code)
        data["delivery"]["address"] = data["address"]
        data["materials"] = [m.code for m in handed_in if m.code != missing]
        if missing is not None:
            for field in reference.materials[missing].carries:
                data.pop(field, None)
        # Validated with a real name in, so the checks of names and people all run.
        sample = json.loads(json.dumps(data).replace(_TRADE, "禾丰").replace(_NAME, "王建国"))
        AcceptedFiling.model_validate(sample, context={"reference": reference})
        found[missing] = Template(json.dumps(data, ensure_ascii=False), region)
    return found


def person_id(district_code: str, birth: date, sequence: int) -> str:
    """A valid resident ID (GB 11643) of someone born on `birth` in `district_code`."""
    body = f"{district_code}{birth:%Y%m%d}{sequence % 1000:03d}"
    return body + gb11643_check_char(body)


def credit_code(district_code: str, serial: int) -> str:
    """A valid unified social credit code (GB 32100); `H` marks it as made by history."""
    body = f"91{district_code}MH{serial % 10_000_000:07d}"
    return body + gb32100_check_char(body)


def payload(
    template: Template, *, trade: str, name: str, mobile: str, id_number: str, on: date
) -> str:
    """The template's text with one filing's facts put in."""
    return (
        template.text.replace(_TRADE, trade)
        .replace(_NAME, name)
        .replace(_MOBILE, mobile)
        .replace(_TEMPLATE_ID, id_number)
        .replace("2026-01-05", on.isoformat())
    )
