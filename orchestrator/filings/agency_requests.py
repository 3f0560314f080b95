"""How a filing becomes each agency's request: one builder per declared step.

Builders read the validated filing and the facts earlier steps gave it (the credit code,
the filed seal impressions for the bank's reserved specimens): each fact is the result of
the step that gave it, whichever that was in the filing's graph (`orchestrator.workflow`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, TypedDict, TypeVar

from pydantic import BaseModel

from integrations import requests as r
from orchestrator import workflow
from orchestrator.filings.acceptance import AcceptedFiling
from orchestrator.filings.schemas import Person
from orchestrator.workflow import CREDIT_CODE, IDENTITY_CHECK, SEAL_IMPRESSIONS, StepSpec

Facts = Mapping[str, Mapping[str, Any]]
"""The results of a filing's earlier steps, by the fact each gives (`orchestrator.workflow`)."""

Builder = Callable[[AcceptedFiling, Facts], BaseModel]
B = TypeVar("B", bound=Builder)

BUILDERS: dict[str, Builder] = {}
"""The request builder of every declared step, by step name."""


def builds(step: StepSpec) -> Callable[[B], B]:
    """Register the decorated function as the request builder of the declared `step`."""

    def register(builder: B) -> B:
        if step.name in BUILDERS:
            raise ValueError(f"step {step.name!r} has a request builder already")
        BUILDERS[step.name] = builder
        return builder

    return register


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


def _credit_code(facts: Facts) -> str:
    return str(facts[CREDIT_CODE]["credit_code"])


class _Unit(TypedDict):
    credit_code: str
    company_name: str
    district_code: str


def _unit(f: AcceptedFiling, facts: Facts) -> _Unit:
    """The company as the seal filing and every unit registration name it: credit code, name,
    district."""
    return _Unit(
        credit_code=_credit_code(facts),
        company_name=f.company_name.full,
        district_code=f.district_code,
    )


@builds(workflow.REGISTRATION)
def registration(f: AcceptedFiling, _facts: Facts) -> r.RegistrationRequest:
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


@builds(workflow.SEAL_DESIGN)
def seal_design(f: AcceptedFiling, facts: Facts) -> r.SealRequest:
    """印模备案: the designs of the chosen seals, filed with public security."""
    return r.SealRequest(
        **_unit(f, facts),
        seals=f.seals,
        legal_representative=_person(f.legal_representative),
    )


@builds(workflow.SEAL)
def seal(f: AcceptedFiling, facts: Facts) -> r.SealRequest:
    """印章刻制: the chosen seals; to the designs already filed, where they were filed first."""
    filed = facts.get(SEAL_IMPRESSIONS, {}).get("seal_codes", {})
    return seal_design(f, facts).model_copy(update={"filed_designs": dict(filed)})


@builds(workflow.BANK_PRECHECK)
def bank_precheck(f: AcceptedFiling, _facts: Facts) -> r.BankPrecheckRequest:
    """开户预审: the bank checks the company's people while registration runs."""
    return r.BankPrecheckRequest(
        company_name=f.company_name.full,
        bank_code=f.bank_code,
        branch_code=f.branch_code,
        legal_representative=_person(f.legal_representative),
        shareholders=_shareholders(f),
    )


# The seals whose impressions a bank reserves (预留印鉴): the finance seal with the legal
# representative's when both were ordered, else the official seal (always ordered).
RESERVED_SEALS: tuple[tuple[r.SealKind, ...], ...] = (
    ("finance", "legal_representative"),
    ("official",),
)


def reserved_specimens(seal_result: Mapping[str, Any]) -> tuple[r.SealSpecimen, ...]:
    """The impressions the bank reserves, from the result that filed them (none if it has none)."""
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


@builds(workflow.BANK_ACCOUNT)
def bank_account(f: AcceptedFiling, facts: Facts) -> r.BankAccountRequest:
    """基本存款账户: the reserved specimens (预留印鉴) are the filed impressions; the bank's
    pre-check, where the district runs one, stands for its own check of the people."""
    return r.BankAccountRequest(
        credit_code=_credit_code(facts),
        company_name=f.company_name.full,
        bank_code=f.bank_code,
        branch_code=f.branch_code,
        legal_representative=_person(f.legal_representative),
        shareholders=_shareholders(f),
        seal_specimens=reserved_specimens(facts[SEAL_IMPRESSIONS]),
        precheck_no=str(facts[IDENTITY_CHECK]["precheck_no"]) if IDENTITY_CHECK in facts else None,
    )


@builds(workflow.TAX)
def tax(f: AcceptedFiling, facts: Facts) -> r.TaxRequest:
    """税务登记: taxpayer type and the finance officer (a 容缺 material until supplied)."""
    return r.TaxRequest(
        **_unit(f, facts),
        taxpayer_type=f.taxpayer_type,
        finance_officer=_person(f.finance_officer) if f.finance_officer else None,
    )


@builds(workflow.SOCIAL_INSURANCE)
def social_insurance(f: AcceptedFiling, facts: Facts) -> r.SocialInsuranceRequest:
    """社保登记: the unit account and the initial staff."""
    return r.SocialInsuranceRequest(**_unit(f, facts), staff=_staff(f))


@builds(workflow.MEDICAL_INSURANCE)
def medical_insurance(f: AcceptedFiling, facts: Facts) -> r.MedicalInsuranceRequest:
    """医保登记: the unit account and the initial staff."""
    return r.MedicalInsuranceRequest(**_unit(f, facts), staff=_staff(f))


@builds(workflow.HOUSING_FUND)
def housing_fund(f: AcceptedFiling, facts: Facts) -> r.HousingFundRequest:
    """公积金开户: the unit account at the chosen contribution rate."""
    return r.HousingFundRequest(
        **_unit(f, facts),
        contribution_rate_percent=f.housing_fund_rate_percent,
        staff=_staff(f),
    )


@builds(workflow.DELIVERY)
def delivery(f: AcceptedFiling, facts: Facts) -> r.CourierRequest:
    """证照寄递: the licence original and the seals, to the client's courier address."""
    if f.delivery.method != "courier":
        raise ValueError("branch pickup needs no courier request")
    items = ["business_licence_original", *(f"seal:{kind}" for kind in f.seals)]
    return r.CourierRequest(
        credit_code=_credit_code(facts),
        company_name=f.company_name.full,
        recipient=f.delivery.recipient,
        mobile=f.delivery.mobile,
        address=f.delivery.address,
        items=tuple(items),
    )


@lru_cache(maxsize=1024)
def stored_filing(payload: str) -> AcceptedFiling:
    """The filing stored as the JSON text `payload`, validated once per worker.

    Keyed by the text, so a supplemented filing (a new text) is validated anew. Each step
    validated its filing again and that was 7% of a worker's CPU; the steps of a filing
    come to the same worker process often enough to make most of them hits.
    """
    return AcceptedFiling.model_validate_json(payload)


if unbuilt := [name for name in workflow.by_name() if name not in BUILDERS]:
    raise RuntimeError(f"declared steps without a request builder: {unbuilt}")
