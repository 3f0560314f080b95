"""What the agencies' refusals concern, as paths into our request: the SOAP agencies' rules
against their simulators over real HTTP (the `field`s of their Refusal detail), and each
adapter's reading of the agency's paths (`MappedAdapter.field_names`).

The rules already tested for their codes in test_agency_adapters.py assert their fields
there; these are the rules that had no test of their own.
"""

from __future__ import annotations

from typing import Any

import pytest

from integrations.adapter import MappedAdapter
from integrations.bank_account import BankAccountAdapter
from integrations.base import RejectedError
from integrations.housing_fund import HousingFundAdapter
from integrations.medical_insurance import MedicalInsuranceAdapter
from integrations.seal import SealAdapter
from integrations.seal_design import SealDesignAdapter
from integrations.social_insurance import SocialInsuranceAdapter
from integrations.tax import TaxAdapter
from tests.integrations.agency_factories import (
    REQUEST_FACTORIES,
    Adapters,
    credit_code,
    new_key,
    person,
    specimen,
)
from tests.integrations.conftest import SimControl


def _bad_id() -> str:
    """A resident ID whose check character is wrong (GB 11643)."""
    valid = person().id_number
    return valid[:-1] + ("0" if valid[-1] != "0" else "1")


def _foreign_specimens() -> dict[str, Any]:
    """Reserved impressions filed for another company than the account's."""
    other = credit_code()
    return {"seal_specimens": (specimen("finance", other), specimen("legal_representative", other))}


@pytest.mark.parametrize(
    ("agency", "changes", "code", "fields"),
    [
        pytest.param(
            "tax",
            lambda: {"finance_officer": person("王芳", id_number=_bad_id())},
            "invalid_id_number",
            ("finance_officer.id_number",),
            id="tax: the finance officer's ID",
        ),
        pytest.param(
            "seal",
            lambda: {"legal_representative": person(id_number=_bad_id())},
            "invalid_id_number",
            ("legal_representative.id_number",),
            id="seal: the legal representative's ID",
        ),
        pytest.param(
            "seal",
            lambda: {"seals": ("official", "official")},
            "duplicate_seal_type",
            ("seals",),
            id="seal: a seal ordered twice",
        ),
        pytest.param(
            "seal_design",
            lambda: {"legal_representative": person(id_number=_bad_id())},
            "invalid_id_number",
            ("legal_representative.id_number",),
            id="seal design (REST, the engraver's books): the legal representative's ID",
        ),
        pytest.param(
            "bank_account",
            lambda: {"bank_code": "NOBANK"},
            "unknown_bank",
            ("bank_code",),
            id="bank: an unknown bank",
        ),
        pytest.param(
            "bank_account",
            lambda: {"legal_representative": person(id_number=_bad_id())},
            "invalid_id_number",
            ("legal_representative.id_number",),
            id="bank: the legal representative's ID",
        ),
        pytest.param(
            "bank_account",
            lambda: {"seal_specimens": ()},
            "seal_specimens_missing",
            ("seal_specimens",),
            id="bank: no reserved specimens",
        ),
        pytest.param(
            "bank_account",
            _foreign_specimens,
            "seal_specimen_invalid",
            ("seal_specimens.0.image_base64",),
            id="bank: a specimen not as filed",
        ),
    ],
)
def test_a_refusal_names_the_fields_of_our_request_it_concerns(
    agency: str,
    changes: Any,
    code: str,
    fields: tuple[str, ...],
    adapters: Adapters,
    sim: SimControl,
) -> None:
    request = REQUEST_FACTORIES[agency](**changes())
    key = new_key(agency)
    with pytest.raises(RejectedError) as caught:
        adapters[agency].submit(request, idempotency_key=key)
    assert caught.value.code == code
    assert caught.value.fields == fields
    with pytest.raises(RejectedError) as again:  # asked after, the same refusal
        adapters[agency].status(key)
    assert again.value.fields == fields
    assert sim.effects(agency) == {}


def _adapter(cls: type[MappedAdapter[Any]]) -> MappedAdapter[Any]:
    return cls.__new__(cls)  # the mapping needs no channel


@pytest.mark.parametrize(
    ("cls", "wire", "ours"),
    [
        (TaxAdapter, "finance_officer.cert_no", "finance_officer.id_number"),
        (TaxAdapter, "uscc", "credit_code"),
        (TaxAdapter, "taxpayer_name", "company_name"),
        (SocialInsuranceAdapter, "employee.2.cert_no", "staff.2.id_number"),
        (SocialInsuranceAdapter, "unit_name", "company_name"),
        (MedicalInsuranceAdapter, "insured_persons.0.cert_no", "staff.0.id_number"),
        (HousingFundAdapter, "employees.1.name", "staff.1.name"),
        (HousingFundAdapter, "deposit_rate", "contribution_rate_percent"),
        (BankAccountAdapter, "shareholder.1.cert_no", "shareholders.1.id_number"),
        (BankAccountAdapter, "seal_specimen.0.filing_no", "seal_specimens.0.filing_no"),
        (SealAdapter, "seal_type", "seals"),
        (SealAdapter, "enterprise_name", "company_name"),
        (SealDesignAdapter, "legal_representative.phone", "legal_representative.mobile"),
    ],
)
def test_the_agency_s_paths_read_as_ours(
    cls: type[MappedAdapter[Any]], wire: str, ours: str
) -> None:
    assert _adapter(cls).request_path(wire) == ours


@pytest.mark.parametrize(
    ("cls", "wire"),
    [
        (SocialInsuranceAdapter, "insured_persons.0.cert_no"),  # medical insurance's name
        (SealDesignAdapter, "filed_design"),  # the design filing takes none
        (TaxAdapter, "employee.0.cert_no"),
    ],
)
def test_another_agency_s_names_are_none_of_ours(cls: type[MappedAdapter[Any]], wire: str) -> None:
    assert _adapter(cls).request_path(wire) is None
