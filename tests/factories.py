"""Valid, JSON-able filing payloads and the codes inside them, for tests and demos.

`filing_input()` is a complete Shouguang filing that `FilingInput` accepts; override any
part with keyword arguments, nested ones with `__` (`legal_representative__mobile=...`,
`shareholders__1__share_percent=...`, list indices as digits). `filing_input_for(code)` is
the same filing moved to another district (name, address and bank follow).
"""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

from integrations.codes import gb11643_check_char, gb32100_check_char
from orchestrator.reference import load_reference
from orchestrator.tools.scenarios.names import trade_names

FILING_DATE = date(2025, 6, 16)  # when tests accept a filing: a Monday, a working day

# Full-width digits and letters, as a Chinese keyboard types them: "370783".translate(...)
FULL_WIDTH = str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ")

# Every material a clerk hands in (the catalogue's, less those made from the filing): with
# them all, nothing is left to supplement; with the essential ones only, every 容缺 one is.
_HANDED_IN = [m for m in load_reference().materials.values() if not m.generated]
ALL_MATERIALS = tuple(m.code for m in _HANDED_IN)
ESSENTIAL_MATERIALS = tuple(m.code for m in _HANDED_IN if m.kind == "essential")


def resident_id(birth: date, *, region: str = "370783", sequence: int = 123) -> str:
    """A valid 18-character resident ID (GB 11643) for someone born on `birth`.

    An odd `sequence` is a man's number, an even one a woman's.
    """
    body = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return body + gb11643_check_char(body)


def credit_code(seed: int = 1, *, region: str = "370783") -> str:
    """A valid unified social credit code (GB 32100) of a company registered in `region`."""
    body = f"91{region}MA{seed:07d}"
    return body + gb32100_check_char(body)


def filing_input(**overrides: Any) -> dict[str, Any]:
    """A valid filing payload (Shouguang, a two-shareholder LLC) with `overrides` applied."""
    payload: dict[str, Any] = {
        "district_code": "370783",
        "industry_code": "7511",  # 农林牧渔技术推广服务
        "enterprise_type": "llc",
        "company_name": {
            "region": "寿光市",
            "trade_name": "禾丰",
            "industry_term": "农业科技",
            "organisation_form": "有限公司",
        },
        "registered_capital_fen": 100_000_000,  # ¥1,000,000
        "business_scope": ["农业技术推广服务", "蔬菜种植", "食用农产品批发"],
        "address": "山东省寿光市圣城街道农圣东街1299号",
        "legal_representative": {
            "name": "王建国",
            "id_number": resident_id(date(1985, 3, 14), sequence=131),
            "mobile": "13805361234",
        },
        "shareholders": [
            {
                "name": "王建国",
                "id_number": resident_id(date(1985, 3, 14), sequence=131),
                "mobile": "13805361234",
                "share_percent": 60,
            },
            {
                "name": "李秀英",
                "id_number": resident_id(date(1990, 11, 2), region="370702", sequence=242),
                "mobile": "15965432108",
                "share_percent": 40,
            },
        ],
        "finance_officer": {
            "name": "刘芳",
            "id_number": resident_id(date(1993, 7, 21), sequence=86),
            "mobile": "18766112233",
        },
        "seals": ["official", "finance", "invoice", "legal_representative"],
        "bank_code": "ABC",
        "branch_code": "103458000123",
        "taxpayer_type": "small_scale",
        "staff": [
            {"name": "张伟", "id_number": resident_id(date(1998, 1, 9), sequence=317)},
            {"name": "陈静", "id_number": resident_id(date(2001, 5, 30), sequence=428)},
        ],
        "housing_fund_rate_percent": 10,
        "delivery": {
            "method": "courier",
            "recipient": "王建国",
            "mobile": "13805361234",
            "address": "山东省寿光市圣城街道农圣东街1299号",
        },
        "materials": list(ALL_MATERIALS),
    }
    for key, value in overrides.items():
        _set(payload, key.split("__"), value)
    return payload


def filing_input_for(district_code: str, **overrides: Any) -> dict[str, Any]:
    """The default filing moved to `district_code`: its name, address and first partner bank."""
    return filing_input(**(moved_to(district_code) | overrides))


def moved_to(district_code: str) -> dict[str, Any]:
    """The overrides that move the default filing to `district_code`."""
    district = load_reference().districts[district_code]
    address = f"{district.province.name_zh}{district.city.name_zh}{district.name_zh}人民路88号"
    return {
        "district_code": district_code,
        "company_name__region": district.own_name_regions[0],
        "address": address,
        "delivery__address": address,
        "bank_code": district.policy.partner_banks[0],
    }


def _set(target: Any, path: list[str], value: Any) -> None:
    *parents, last = path
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if isinstance(target, list):
        target[int(last)] = copy.deepcopy(value)
    else:
        target[last] = copy.deepcopy(value)


# Distinct trade names for the whole test session, so that no two filings conflict at the
# registration simulator unless a test means them to.
TRADE_NAMES = trade_names()


def graph_steps(district_code: str = "370783") -> tuple[str, ...]:
    """The steps a filing in `district_code` runs (its graph in force), in the graph's order."""
    return tuple(name for name, _ in load_reference().graph_of(district_code).steps)
