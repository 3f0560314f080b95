"""Plain request types the adapters take; the orchestrator maps a filing onto them.

They carry only what an agency needs, in our vocabulary; each adapter translates them to
its agency's own. Money is integer fen, dates are ISO dates, codes are national codes.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict

SealKind = Literal["official", "finance", "invoice", "legal_representative"]
TaxpayerType = Literal["small_scale", "general"]


class _Request(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Person(_Request):
    name: str
    id_number: str  # resident ID (GB 11643)
    mobile: str


class Shareholder(Person):
    share_percent: float


class RegistrationRequest(_Request):
    """Name check and establishment registration (设立登记)."""

    district_code: str  # GB/T 2260
    industry_code: str  # GB/T 4754 division or class
    company_name: str
    enterprise_type: str
    registered_capital_fen: int
    business_scope: tuple[str, ...]
    address: str
    legal_representative: Person
    shareholders: tuple[Shareholder, ...]
    filing_date: date


class SealRequest(_Request):
    """Seal engraving by a licensed engraver and filing with public security (公安备案).

    The same request files the designs alone (印模备案, the seal-design agency); engraving
    names in `filed_designs` the filing number of each design filed first, or none: then
    the engraver files the designs itself.
    """

    credit_code: str
    company_name: str
    district_code: str
    seals: tuple[SealKind, ...]
    legal_representative: Person
    filed_designs: dict[SealKind, str] = {}


class BankPrecheckRequest(_Request):
    """The bank's identity pre-check at the desk (开户预审), before the company exists."""

    company_name: str
    bank_code: str
    branch_code: str
    legal_representative: Person
    shareholders: tuple[Shareholder, ...]


class SealSpecimen(_Request):
    """A filed seal's impression (印模) that the bank reserves (预留印鉴)."""

    kind: SealKind
    filing_no: str  # the public-security filing number of the seal
    image_base64: str  # the impression, a PNG, as the seal step returned it


class BankAccountRequest(_Request):
    """Basic deposit account (基本存款账户) with the reserved seal specimens (预留印鉴)."""

    credit_code: str
    company_name: str
    bank_code: str
    branch_code: str
    legal_representative: Person
    shareholders: tuple[Shareholder, ...]
    seal_specimens: tuple[SealSpecimen, ...]
    precheck_no: str | None = None  # the bank's pre-check, passed, where there was one


class UnitRequest(_Request):
    """The new company as an agency registers it as a unit (单位); the tax bureau, the
    insurance agencies and the housing-fund centre each add what their registration needs."""

    credit_code: str
    company_name: str
    district_code: str


class TaxRequest(UnitRequest):
    """Taxpayer registration, taxpayer type, invoice quota and tax UKey."""

    taxpayer_type: TaxpayerType
    finance_officer: Person | None  # a 容缺 material: None until supplied


class StaffMember(_Request):
    name: str
    id_number: str


class EnrolmentRequest(UnitRequest):
    """A unit registration that enrols the initial staff."""

    staff: tuple[StaffMember, ...]


class SocialInsuranceRequest(EnrolmentRequest):
    """Unit account for social insurance (社保登记) with the initial staff."""


class MedicalInsuranceRequest(EnrolmentRequest):
    """Unit account for medical insurance (医保登记) with the initial staff."""


class HousingFundRequest(EnrolmentRequest):
    """Housing-fund (住房公积金) unit account with the contribution rate."""

    contribution_rate_percent: float  # 5–12


class CourierRequest(_Request):
    """Waybill for the licence original and the seals (EMS), subsidised by the district."""

    credit_code: str
    company_name: str
    recipient: str
    mobile: str
    address: str
    items: tuple[str, ...]
