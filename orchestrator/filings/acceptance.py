"""A filing as OneStop accepts it: what depends on when and where it is accepted.

Ages are taken on the filing date the server stamps, never a client's word; the account
bank is checked against the filing branch's. `accept` makes the `AcceptedFiling` a filing
stores; a 容缺 supplement sets only what its material carries (`supplemented`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from pydantic import model_validator
from pydantic_core import PydanticCustomError

from orchestrator.clock import CHINA
from orchestrator.filings.fields import birth_date
from orchestrator.filings.schemas import FilingInput, Person
from orchestrator.reference import District, Material, ReferenceData, load_reference
from orchestrator.validation import Errors, Loc, fail

ADULT_AGE = 18
WORKING_AGE = 16  # Labour Law: nobody under 16 may be employed


class AcceptedFiling(FilingInput):
    """A filing as OneStop accepted it: what the clerk entered, dated by the server.

    `filing_date` is the day of acceptance on OneStop's clock, in China, never a client's
    word; the ages the law sets are taken on it. This is what a filing stores and what its
    steps' requests are built from.
    """

    filing_date: date

    @model_validator(mode="after")
    def _ages_on_the_filing_date(self) -> AcceptedFiling:
        errors = Errors("FilingInput")
        _check_ages(errors, self, self.filing_date)
        errors.raise_any()
        return self


def accept(
    data: FilingInput,
    *,
    accepted_at: datetime,
    branch_bank: str,
    reference: ReferenceData | None = None,
) -> AcceptedFiling:
    """`data` as accepted at `accepted_at` by a branch of the bank `branch_bank`, dated that
    instant's day in China.

    Checks what depends on when and where a filing is accepted — everyone's age on the
    filing date, the account bank against the branch's — and raises one ValidationError
    naming each field at fault.
    """
    filing_date = accepted_at.astimezone(CHINA).date()
    if reference is None:
        reference = load_reference()
    errors = Errors("FilingInput")
    _check_ages(errors, data, filing_date)
    district = reference.districts.get(data.district_code)
    if district is not None:
        try:
            check_account_bank(data.bank_code, branch_bank, district, reference)
        except PydanticCustomError as error:
            errors.add(("bank_code",), error, data.bank_code)
    errors.raise_any()
    # `data` is valid and the date the server's: nothing to validate again.
    return AcceptedFiling.model_construct(
        data.model_fields_set | {"filing_date"}, **dict(data), filing_date=filing_date
    )


def application_of(stored: Mapping[str, Any]) -> dict[str, Any]:
    """A stored filing as its client sent it (normalised), without what the server stamped:
    what an idempotent replay is compared with."""
    return {key: value for key, value in stored.items() if key in FilingInput.model_fields}


def check_account_bank(
    code: str, branch_bank: str, district: District, reference: ReferenceData
) -> str:
    """`code` if a branch of `branch_bank` in `district` may open the basic account there:
    at its own bank, or at one the district's policy opens to every branch."""
    others = district.policy.account_banks_any_branch
    if code == branch_bank or code in others:
        return code
    bank_zh, bank_en = _bank_names(code, reference)
    branch_zh, branch_en = _bank_names(branch_bank, reference)
    also = [_bank_names(other, reference) for other in others if other != branch_bank]
    also_zh = also_en = ""
    if also:
        also_zh = f"（{district.name_zh}也可开在{'、'.join(zh for zh, _ in also)}）"
        also_en = f" (in {district.name_en} also at {', '.join(en for _, en in also)})"
    raise fail(
        "account_bank_not_branch",
        bank_zh=bank_zh,
        bank_en=bank_en,
        branch_bank_zh=branch_zh,
        branch_bank_en=branch_en,
        also_zh=also_zh,
        also_en=also_en,
    )


def _bank_names(code: str, reference: ReferenceData) -> tuple[str, str]:
    bank = reference.banks.get(code)
    return (bank.name_zh, bank.name_en) if bank is not None else (code, code)


def supplemented(
    stored: Mapping[str, Any],
    material: Material,
    data: Mapping[str, Any],
    *,
    reference: ReferenceData | None = None,
) -> AcceptedFiling:
    """The stored filing with the data a supplement of `material` carries, validated as at
    intake. `data` may set only the fields the material carries (`carries` in the materials
    catalogue); a ValidationError locates each error within `data`."""
    errors = Errors("FilingInput")
    for key, value in data.items():
        if key not in material.carries:
            error = fail(
                "not_carried_by_material",
                material_zh=material.name_zh,
                material_en=material.name_en,
                fields_zh="、".join(material.carries) or "无",
                fields_en=", ".join(material.carries) or "nothing",
            )
            errors.add((key,), error, value)
    errors.raise_any()
    context = {"reference": reference} if reference is not None else None
    return AcceptedFiling.model_validate({**stored, **data}, context=context)


def _age_on(birth: date, on: date) -> int:
    """Completed years (周岁) on `on`; someone born on 29 February comes of age on 1 March."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _check_ages(errors: Errors, filing: FilingInput, on: date) -> None:
    """Everyone's age on the filing date `on`: the legal representative, the finance officer
    and the shareholders adults, the staff of working age."""
    _check_adult(errors, ("legal_representative",), filing.legal_representative, on)
    if filing.finance_officer is not None:
        _check_adult(errors, ("finance_officer",), filing.finance_officer, on)
    for i, holder in enumerate(filing.shareholders):
        _check_adult(errors, ("shareholders", i), holder, on)
    for i, member in enumerate(filing.staff):
        loc: Loc = ("staff", i, "id_number")
        age = _age_checked(errors, loc, member.id_number, on)
        if age is not None and age < WORKING_AGE:
            error = fail("staff_underage", age=age, on=on.isoformat())
            errors.add(loc, error, member.id_number)


_ADULT_ROLES: dict[str, tuple[str, str]] = {
    "legal_representative": ("法定代表人", "legal representative"),
    "finance_officer": ("财务负责人", "finance officer"),
    "shareholders": ("股东", "shareholder"),
}


def _check_adult(errors: Errors, at: Loc, person: Person, on: date) -> None:
    loc: Loc = (*at, "id_number")
    age = _age_checked(errors, loc, person.id_number, on)
    if age is not None and age < ADULT_AGE:
        role_zh, role_en = _ADULT_ROLES[str(at[0])]
        error = fail("minor", role_zh=role_zh, role_en=role_en, age=age, on=on.isoformat())
        errors.add(loc, error, person.id_number)


def _age_checked(errors: Errors, loc: Loc, id_number: str, on: date) -> int | None:
    """The age on `on` of whoever holds `id_number`; None, with an error, if born after it."""
    birth = birth_date(id_number)
    if birth > on:
        error = fail("birth_after_filing", birth=birth.isoformat(), on=on.isoformat())
        errors.add(loc, error, id_number)
        return None
    return _age_on(birth, on)
