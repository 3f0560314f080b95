"""How a filing becomes each agency's request: one builder per step of the workflow.

Builders read the validated filing and the results of the steps before them (the credit
code from registration, the seal codes for the bank's reserved specimens).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from integrations import requests as r
from orchestrator.filings.schemas import AcceptedFiling, Person
from orchestrator.filings.transitions import StepWork

Results = Mapping[str, Mapping[str, Any]]


def _person(p: Person) -> r.Person:
    return r.Person(name=p.name, id_number=p.id_number, mobile=p.mobile)


def _staff(f: AcceptedFiling) -> tuple[r.StaffMember, ...]:
    return tuple(r.StaffMember(name=s.name, id_number=s.id_number) for s in f.staff)


def _shareholders(f: AcceptedFiling) -> tuple[r.Shareholder, ...]:
    return tuple(
        r.Shareholder(
            name=s.name, id_number=s.id_number, mobile=s.mobile, share_percent=s.share_percent
        )
        for s in f.shareholders
    )


def _credit_code(results: Results) -> str:
    return str(results["registration"]["credit_code"])


def registration(f: AcceptedFiling, _results: Results) -> r.RegistrationRequest:
    """设立登记: the whole company as the clerk entered it."""
    return r.RegistrationRequest(
        district_code=f.district_code,
        industry_code=f.industry_code,
        company_name=f.company_name.full,
        enterprise_type=f.enterprise_type,
        registered_capital_fen=f.registered_capital_fen,
        business_scope=f.business_scope,
        address=f.address,
        legal_representative=_person(f.legal_representative),
        shareholders=_shareholders(f),
        filing_date=f.filing_date,
    )


def seal(f: AcceptedFiling, results: Results) -> r.SealRequest:
    """印章刻制: the chosen seals, for the newly registered company."""
    return r.SealRequest(
        credit_code=_credit_code(results),
        company_name=f.company_name.full,
        district_code=f.district_code,
        seals=f.seals,
        legal_representative=_person(f.legal_representative),
    )


# The seals whose impressions a bank reserves (预留印鉴): the finance seal with the legal
# representative's when both were ordered, else the official seal (always ordered).
RESERVED_SEALS: tuple[tuple[r.SealKind, ...], ...] = (
    ("finance", "legal_representative"),
    ("official",),
)


def reserved_specimens(seal_result: Mapping[str, Any]) -> tuple[r.SealSpecimen, ...]:
    """The impressions the bank reserves, from the seal step's result (none if it has none)."""
    codes = dict(seal_result.get("seal_codes", {}))
    images = dict(seal_result.get("seal_specimens", {}))
    for kinds in RESERVED_SEALS:
        if all(kind in codes and kind in images for kind in kinds):
            return tuple(
                r.SealSpecimen(
                    kind=kind, filing_no=str(codes[kind]), image_base64=str(images[kind])
                )
                for kind in kinds
            )
    return ()


def bank_account(f: AcceptedFiling, results: Results) -> r.BankAccountRequest:
    """基本存款账户: reserved seal specimens (预留印鉴) come from the seal step."""
    return r.BankAccountRequest(
        credit_code=_credit_code(results),
        company_name=f.company_name.full,
        bank_code=f.bank_code,
        branch_code=f.branch_code,
        legal_representative=_person(f.legal_representative),
        shareholders=_shareholders(f),
        seal_specimens=reserved_specimens(results["seal"]),
    )


def tax(f: AcceptedFiling, results: Results) -> r.TaxRequest:
    """税务登记: taxpayer type and the finance officer (a 容缺 material until supplied)."""
    return r.TaxRequest(
        credit_code=_credit_code(results),
        company_name=f.company_name.full,
        district_code=f.district_code,
        taxpayer_type=f.taxpayer_type,
        finance_officer=_person(f.finance_officer) if f.finance_officer else None,
    )


def social_insurance(f: AcceptedFiling, results: Results) -> r.SocialInsuranceRequest:
    """社保登记: the unit account and the initial staff."""
    return r.SocialInsuranceRequest(
        credit_code=_credit_code(results),
        company_name=f.company_name.full,
        district_code=f.district_code,
        staff=_staff(f),
    )


def medical_insurance(f: AcceptedFiling, results: Results) -> r.MedicalInsuranceRequest:
    """医保登记: the unit account and the initial staff."""
    return r.MedicalInsuranceRequest(
        credit_code=_credit_code(results),
        company_name=f.company_name.full,
        district_code=f.district_code,
        staff=_staff(f),
    )


def housing_fund(f: AcceptedFiling, results: Results) -> r.HousingFundRequest:
    """公积金开户: the unit account at the chosen contribution rate."""
    return r.HousingFundRequest(
        credit_code=_credit_code(results),
        company_name=f.company_name.full,
        district_code=f.district_code,
        contribution_rate_percent=f.housing_fund_rate_percent,
        staff=_staff(f),
    )


def delivery(f: AcceptedFiling, results: Results) -> r.CourierRequest:
    """证照寄递: the licence original and the seals, to the client's courier address."""
    if f.delivery.method != "courier":
        raise ValueError("branch pickup needs no courier request")
    items = ["business_licence_original", *(f"seal:{kind}" for kind in f.seals)]
    return r.CourierRequest(
        credit_code=_credit_code(results),
        company_name=f.company_name.full,
        recipient=f.delivery.recipient,
        mobile=f.delivery.mobile,
        address=f.delivery.address,
        items=tuple(items),
    )


BUILDERS: Mapping[str, Callable[[AcceptedFiling, Results], BaseModel]] = {
    "registration": registration,
    "seal": seal,
    "bank_account": bank_account,
    "tax": tax,
    "social_insurance": social_insurance,
    "medical_insurance": medical_insurance,
    "housing_fund": housing_fund,
    "delivery": delivery,
}


def build_request(work: StepWork) -> BaseModel:
    """The request of the step to carry out, for its filing as stored."""
    return BUILDERS[work.name](stored_filing(work.payload), work.results)


def delivers_at_branch(work: StepWork) -> bool:
    """Whether this is the delivery step of a filing whose client collects at the branch."""
    return (
        work.name == "delivery" and stored_filing(work.payload).delivery.method == "branch_pickup"
    )


@lru_cache(maxsize=1024)
def stored_filing(payload: str) -> AcceptedFiling:
    """The filing stored as the JSON text `payload`, validated once per worker.

    Keyed by the text, so a supplemented filing (a new text) is validated anew. Each step
    validated its filing again and that was 7% of a worker's CPU; the steps of a filing
    come to the same worker process often enough to make most of them hits.
    """
    return AcceptedFiling.model_validate_json(payload)
