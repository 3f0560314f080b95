"""Valid request objects for every agency, with overrides; IDs and codes pass their checks."""

from __future__ import annotations

import itertools
import uuid
from datetime import date
from typing import Any

from integrations.base import AgencyAdapter
from integrations.codes import USCC_ALPHABET, gb11643_check_char, gb32100_check_char
from integrations.requests import (
    BankAccountRequest,
    BankPrecheckRequest,
    CourierRequest,
    HousingFundRequest,
    MedicalInsuranceRequest,
    Person,
    RegistrationRequest,
    SealKind,
    SealRequest,
    SealSpecimen,
    Shareholder,
    SocialInsuranceRequest,
    StaffMember,
    TaxRequest,
)
from integrations.seal import SEAL_TYPE_CODES
from integrations.simulators.specimens import impression_base64

# The adapters by agency name, as `integrations.registry.build_adapters` builds them.
Adapters = dict[str, AgencyAdapter[Any]]

DISTRICT = "370783"  # 寿光市
_counter = itertools.count(1)
# Trade names made of characters that are neither division nor industry words.
_TRADE_CHARS = "鑫瑞丰泽昊晟禾润盛嘉宏博恒达安泰华汇源"


def new_key(prefix: str = "test") -> str:
    """A fresh idempotency key."""
    return f"{prefix}-{uuid.uuid4().hex}"


def resident_id(district: str = DISTRICT, born: date = date(1988, 6, 1), serial: int = 0) -> str:
    """A valid resident ID (GB 11643); `serial` tells people apart."""
    body = f"{district}{born:%Y%m%d}{(serial or next(_counter)) % 1000:03d}"
    return body + gb11643_check_char(body)


def credit_code(district: str = DISTRICT, serial: int = 0) -> str:
    """A valid unified social credit code (GB 32100)."""
    n = serial or next(_counter)
    org = "".join(USCC_ALPHABET[(n // 31**i) % 31] for i in range(9))
    body = f"91{district}{org}"
    return body + gb32100_check_char(body)


def trade_name() -> str:
    """A three-character trade name not on the seeded register."""
    n = uuid.uuid4().int
    return "".join(_TRADE_CHARS[(n >> (5 * i)) % len(_TRADE_CHARS)] for i in range(3))


def person(name: str = "张伟", **overrides: Any) -> Person:
    return Person(
        **{"name": name, "id_number": resident_id(), "mobile": "13905361234", **overrides}
    )


def shareholder(name: str = "张伟", share: float = 100.0, **overrides: Any) -> Shareholder:
    return Shareholder(
        **{
            "name": name,
            "id_number": resident_id(),
            "mobile": "13905361234",
            "share_percent": share,
            **overrides,
        }
    )


def staff(count: int = 2) -> tuple[StaffMember, ...]:
    return tuple(StaffMember(name=f"职工{i}", id_number=resident_id()) for i in range(count))


def registration_request(**overrides: Any) -> RegistrationRequest:
    rep = person()
    fields: dict[str, Any] = {
        "district_code": DISTRICT,
        "industry_code": "0141",
        "company_name": f"寿光市{trade_name()}农业科技有限公司",
        "enterprise_type": "有限责任公司",
        "registered_capital_fen": 100_000_000,
        "business_scope": ("蔬菜种植", "农业技术推广"),
        "address": "山东省寿光市圣城街道农圣东街1号",
        "legal_representative": rep,
        "shareholders": (
            Shareholder(**rep.model_dump(), share_percent=60.0),
            shareholder("李娜", 40.0),
        ),
        "filing_date": date(2025, 3, 3),
    }
    return RegistrationRequest(**{**fields, **overrides})


def seal_request(**overrides: Any) -> SealRequest:
    fields: dict[str, Any] = {
        "credit_code": credit_code(),
        "company_name": "寿光市瑞泽农业科技有限公司",
        "district_code": DISTRICT,
        "seals": ("official", "finance", "invoice", "legal_representative"),
        "legal_representative": person(),
    }
    return SealRequest(**{**fields, **overrides})


def specimen(
    kind: SealKind,
    uscc: str,
    *,
    filing_no: str = "",
    company_name: str = "寿光市瑞泽农业科技有限公司",
    holder: str = "张伟",
) -> SealSpecimen:
    """A seal impression as the seal step would have returned it (filed for `uscc`)."""
    number = filing_no or f"{DISTRICT}{next(_counter):08d}"
    image = impression_base64(
        SEAL_TYPE_CODES[kind],
        enterprise_name=company_name,
        holder=holder,
        uscc=uscc,
        filing_no=number,
    )
    return SealSpecimen(kind=kind, filing_no=number, image_base64=image)


def bank_account_request(**overrides: Any) -> BankAccountRequest:
    code = overrides.get("credit_code") or credit_code()
    fields: dict[str, Any] = {
        "credit_code": code,
        "company_name": "寿光市瑞泽农业科技有限公司",
        "bank_code": "ICBC",
        "branch_code": "1607-0012",
        "legal_representative": person(),
        "shareholders": (shareholder("张伟", 60.0), shareholder("李娜", 40.0)),
        "seal_specimens": (
            specimen("finance", code),
            specimen("legal_representative", code),
        ),
    }
    return BankAccountRequest(**{**fields, **overrides})


def bank_precheck_request(**overrides: Any) -> BankPrecheckRequest:
    fields: dict[str, Any] = {
        "company_name": "寿光市瑞泽农业科技有限公司",
        "bank_code": "ICBC",
        "branch_code": "1607-0012",
        "legal_representative": person(),
        "shareholders": (shareholder("张伟", 60.0), shareholder("李娜", 40.0)),
    }
    return BankPrecheckRequest(**{**fields, **overrides})


def _unit(**fields: Any) -> dict[str, Any]:
    """The company as every unit registration names it, with the agency's `fields`."""
    return {
        "credit_code": credit_code(),
        "company_name": "寿光市瑞泽农业科技有限公司",
        "district_code": DISTRICT,
        **fields,
    }


def tax_request(**overrides: Any) -> TaxRequest:
    fields = _unit(
        taxpayer_type="small_scale", finance_officer=person("王芳", mobile="13805360000")
    )
    return TaxRequest(**{**fields, **overrides})


def social_insurance_request(**overrides: Any) -> SocialInsuranceRequest:
    return SocialInsuranceRequest(**{**_unit(staff=staff(3)), **overrides})


def medical_insurance_request(**overrides: Any) -> MedicalInsuranceRequest:
    return MedicalInsuranceRequest(**{**_unit(staff=staff(3)), **overrides})


def housing_fund_request(**overrides: Any) -> HousingFundRequest:
    fields = _unit(contribution_rate_percent=12.0, staff=staff(3))
    return HousingFundRequest(**{**fields, **overrides})


def courier_request(**overrides: Any) -> CourierRequest:
    fields: dict[str, Any] = {
        "credit_code": credit_code(),
        "company_name": "寿光市瑞泽农业科技有限公司",
        "recipient": "张伟",
        "mobile": "13905361234",
        "address": "山东省寿光市文圣街88号",
        "items": ("营业执照正本", "公章", "财务专用章"),
    }
    return CourierRequest(**{**fields, **overrides})


REQUEST_FACTORIES = {
    "registration": registration_request,
    "bank_precheck": bank_precheck_request,
    "seal_design": seal_request,
    "seal": seal_request,
    "bank_account": bank_account_request,
    "tax": tax_request,
    "social_insurance": social_insurance_request,
    "medical_insurance": medical_insurance_request,
    "housing_fund": housing_fund_request,
    "courier": courier_request,
}

RESULT_KEYS = {
    "registration": {"credit_code", "licence_id"},
    "bank_precheck": {"precheck_no", "bank_code"},
    "seal_design": {"seal_codes", "seal_specimens"},
    "seal": {"seal_codes", "seal_specimens"},
    "bank_account": {"account_number", "bank_code"},
    "tax": {"taxpayer_id", "taxpayer_type", "invoice_quota", "ukey_serial"},
    "social_insurance": {"unit_account", "enrolled"},
    "medical_insurance": {"unit_account", "enrolled"},
    "housing_fund": {"unit_account", "enrolled"},
    "courier": {"waybill", "state"},
}
