"""Every agency adapter, built once per process and keyed by agency name.

The agencies are declared here and nowhere else: the orchestrator checks that each of its
steps names one of `agencies()`. An agency outside this package (a district's own office, a
test's) is added with `declare_agency`, with the factory of its adapter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx

from integrations.agencies import AGENCIES
from integrations.bank_account import SOAP_SERVICE as BANK_ACCOUNT_SERVICE
from integrations.bank_account import BankAccountAdapter
from integrations.bank_precheck import BankPrecheckAdapter
from integrations.base import AgencyAdapter
from integrations.courier import CourierAdapter
from integrations.housing_fund import HousingFundAdapter
from integrations.medical_insurance import MedicalInsuranceAdapter
from integrations.registration import RegistrationAdapter
from integrations.requests import (
    BankAccountRequest,
    BankPrecheckRequest,
    CourierRequest,
    HousingFundRequest,
    MedicalInsuranceRequest,
    RegistrationRequest,
    SealRequest,
    SocialInsuranceRequest,
    TaxRequest,
)
from integrations.rest import RestChannel
from integrations.seal import SOAP_SERVICE as SEAL_SERVICE
from integrations.seal import SealAdapter
from integrations.seal_design import SealDesignAdapter
from integrations.soap import SoapChannel, SoapService
from integrations.social_insurance import SOAP_SERVICE as SOCIAL_INSURANCE_SERVICE
from integrations.social_insurance import SocialInsuranceAdapter
from integrations.tax import SOAP_SERVICE as TAX_SERVICE
from integrations.tax import TaxAdapter

AdapterFactory = Callable[[str, float], AgencyAdapter[Any]]
"""Builds an agency's adapter for the agencies' base URL and the timeout (seconds)."""

_DECLARED: dict[str, AdapterFactory] = {}


def declare_agency(name: str, factory: AdapterFactory) -> None:
    """Add an agency beyond the built-in ones; `build_adapters` builds its adapter too."""
    if name in AGENCIES or name in _DECLARED:
        raise ValueError(f"agency {name!r} is already declared")
    _DECLARED[name] = factory


def withdraw_agency(name: str) -> None:
    """Forget an agency `declare_agency` added (a test's, once it is done)."""
    _DECLARED.pop(name, None)


def agencies() -> tuple[str, ...]:
    """Every agency an adapter can be built for: the built-in ones, then those declared."""
    return (*AGENCIES, *_DECLARED)


def build_adapters(base_url: str, *, timeout: float) -> dict[str, AgencyAdapter[Any]]:
    """One adapter per agency, each with its own pooled HTTP client, all under `base_url`.

    Registration, the bank's pre-check, the seal-design filing, medical insurance, housing
    fund and courier speak REST; seal engraving, bank account, tax and social insurance SOAP.

    `timeout` (seconds) bounds every read, write and pool wait; connecting gets at most 5 s.
    """

    tls = httpx.create_ssl_context()  # loading CA certificates is slow: once for all

    def rest(agency: str) -> RestChannel:
        return RestChannel(base_url, agency, timeout=timeout, tls=tls)

    def soap(service: SoapService) -> SoapChannel:
        return SoapChannel(base_url, service, timeout=timeout, tls=tls)

    # The annotations make mypy prove that each adapter fits the protocol for its request.
    registration: AgencyAdapter[RegistrationRequest] = RegistrationAdapter(rest("registration"))
    precheck: AgencyAdapter[BankPrecheckRequest] = BankPrecheckAdapter(rest("bank_precheck"))
    design: AgencyAdapter[SealRequest] = SealDesignAdapter(rest("seal_design"))
    seal: AgencyAdapter[SealRequest] = SealAdapter(soap(SEAL_SERVICE))
    bank_account: AgencyAdapter[BankAccountRequest] = BankAccountAdapter(soap(BANK_ACCOUNT_SERVICE))
    tax: AgencyAdapter[TaxRequest] = TaxAdapter(soap(TAX_SERVICE))
    social: AgencyAdapter[SocialInsuranceRequest] = SocialInsuranceAdapter(
        soap(SOCIAL_INSURANCE_SERVICE)
    )
    medical: AgencyAdapter[MedicalInsuranceRequest] = MedicalInsuranceAdapter(
        rest("medical_insurance")
    )
    housing: AgencyAdapter[HousingFundRequest] = HousingFundAdapter(rest("housing_fund"))
    courier: AgencyAdapter[CourierRequest] = CourierAdapter(rest("courier"))
    return {
        "registration": registration,
        "bank_precheck": precheck,
        "seal_design": design,
        "seal": seal,
        "bank_account": bank_account,
        "tax": tax,
        "social_insurance": social,
        "medical_insurance": medical,
        "housing_fund": housing,
        "courier": courier,
        **{name: factory(base_url, timeout) for name, factory in _DECLARED.items()},
    }


def close_adapters(adapters: Mapping[str, AgencyAdapter[Any]]) -> None:
    """Close the adapters' HTTP clients (adapters without a `close` are left alone)."""
    for adapter in adapters.values():
        close = getattr(adapter, "close", None)
        if callable(close):
            close()
