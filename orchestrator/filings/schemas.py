"""What a bank clerk enters once (`FilingInput`), checked field by field in Chinese and English.

Each field is normalised once, by its annotated type (`orchestrator.filings.fields`:
`Code`, `ResidentId`, `Mobile`, `PersonName`...), and stored as normalised. What depends on
when and where a filing is accepted — ages on the filing date the server stamps, the
account bank against the filing branch's — is checked by `accept`, which makes the
`AcceptedFiling` a filing stores; a 容缺 supplement sets only what its material carries
(`supplemented`).

Every refusal is a stable code listed in `orchestrator.filings.messages`, raised and
reported as every validation error is (`orchestrator.validation`: "中文 / English",
`FieldError`s for the API's 422).

Rules that need reference data take it from the validation context
(`FilingInput.model_validate(data, context={"reference": ref})`) or else from the cached
`load_reference()`. Rules that span fields are checked on the later field, so each error
lands on the field the clerk must change (`company_name.region` outside the district) and
errors in unrelated fields are reported together. Such a rule is skipped while a field it
depends on is itself invalid; that field's own error is reported instead.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Annotated, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from integrations.registration_form import MAX_REGISTERED_CAPITAL_FEN
from integrations.requests import SealKind, TaxpayerType
from orchestrator.filings.fields import (
    TYPED_TEXT,
    Code,
    Mobile,
    PersonName,
    ResidentId,
    Text,
)
from orchestrator.filings.materials import assess_material_codes
from orchestrator.reference import (
    SEAL_KINDS,
    District,
    EnterpriseType,
    ReferenceData,
    reference_from,
)
from orchestrator.validation import Errors, Loc, fail, register_tagged_union

__all__ = [
    "BranchPickup",
    "CompanyName",
    "Courier",
    "Delivery",
    "DeliveryMethod",
    "FilingInput",
    "Person",
    "Shareholder",
    "StaffMember",
    "check_partner_bank",
]

SHARES_TOLERANCE = 0.01

# Bounds on the lists of one filing, far above any real filing's: one request may not make
# the agencies, the database and the receipt carry more than a filing can mean. The legal
# bound on shareholders (per enterprise type) is reference data, checked besides.
MAX_SCOPE_ITEMS = 100
MAX_PEOPLE = 500  # shareholders, staff
MAX_LISTED_CODES = 32  # seals, materials: a short list, with room for a form's repeats


def _district(info: ValidationInfo) -> District | None:
    code = info.data.get("district_code")
    return reference_from(info).districts.get(code) if isinstance(code, str) else None


_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
_BRANCH_CODE = re.compile(r"[0-9A-Za-z-]{1,32}")
_INDUSTRY_CODE = re.compile(r"[0-9]{2,4}")


def check_partner_bank(code: str, district: District | None, reference: ReferenceData) -> str:
    """`code` if it names a known bank that partners `district`; a field error otherwise."""
    bank = reference.banks.get(code)
    if bank is None:
        raise fail("bank_unknown", code=code)
    if district is not None and code not in district.policy.partner_banks:
        raise fail(
            "bank_not_partner",
            bank_zh=bank.name_zh,
            bank_en=bank.name_en,
            district_zh=district.name_zh,
            district_en=district.name_en,
            partners=", ".join(district.policy.partner_banks),
        )
    return code


class _Input(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Person(_Input):
    """A natural person named in the filing."""

    name: PersonName
    id_number: ResidentId
    mobile: Mobile


class Shareholder(Person):
    """A natural-person shareholder and their share of the registered capital, in percent."""

    share_percent: float = Field(gt=0, le=100)


class StaffMember(_Input):
    """An employee to enrol in social insurance, medical insurance and the housing fund."""

    name: PersonName
    id_number: ResidentId


class CompanyName(_Input):
    """行政区划 + 字号 + 行业或经营特点 + 组织形式, e.g. 寿光市 + 禾丰 + 农业科技 + 有限公司."""

    region: Annotated[str, Field(min_length=1, max_length=20), TYPED_TEXT]
    trade_name: Annotated[str, Field(min_length=1, max_length=20), TYPED_TEXT]
    industry_term: Annotated[str, Field(min_length=1, max_length=30), TYPED_TEXT]
    organisation_form: Annotated[str, Field(min_length=1, max_length=10), TYPED_TEXT]

    @property
    def full(self) -> str:
        """The name as registered: 寿光市禾丰农业科技有限公司."""
        return self.region + self.trade_name + self.industry_term + self.organisation_form

    def __str__(self) -> str:
        return self.full

    @field_validator("trade_name", "industry_term")
    @classmethod
    def _two_han_or_more(cls, value: str, info: ValidationInfo) -> str:
        # The clerk's two free-text parts follow one rule; each has its own message.
        if len(value) < 2 or not _HAN.fullmatch(value):
            raise fail(f"{info.field_name}_invalid")
        return value

    @field_validator("organisation_form")
    @classmethod
    def _form_offered(cls, value: str, info: ValidationInfo) -> str:
        forms = reference_from(info).organisation_forms
        form = forms.get(value)
        if form is None:
            offered = [f for f, entry in forms.items() if entry.enterprise_types]
            raise fail("organisation_form_unknown", forms="、".join(offered))
        if not form.enterprise_types:
            raise fail("organisation_form_not_offered", form=form.form, form_en=form.name_en)
        return value

    @model_validator(mode="after")
    def _no_prohibited_word(self, info: ValidationInfo) -> CompanyName:
        # Region and form come from closed lists; the clerk's free text is the middle.
        middle = self.trade_name + self.industry_term
        split = len(self.trade_name)
        errors = Errors("FilingInput")
        seen: set[str] = set()
        for at, word in reference_from(info).prohibited_words_in(middle):
            if word.word in seen:
                continue
            seen.add(word.word)
            end = at + len(word.word)
            loc: Loc = (
                ("trade_name",) if end <= split else ("industry_term",) if at >= split else ()
            )
            error = fail(
                "prohibited_word",
                word=word.word,
                category=word.category,
                reason_zh=word.reason_zh,
                reason_en=word.reason_en,
            )
            errors.add(loc, error, self.full)
        errors.raise_any()
        return self


DeliveryMethod = Literal["branch_pickup", "courier"]


class BranchPickup(_Input):
    """The client collects the licence original and the seals at the branch."""

    method: Literal["branch_pickup"]


class Courier(_Input):
    """The licence original and the seals are couriered (EMS) to the recipient."""

    method: Literal["courier"]
    recipient: PersonName
    mobile: Mobile
    address: Text


Delivery = Annotated[BranchPickup | Courier, Field(discriminator="method")]


# The filing -----------------------------------------------------------------------------


class FilingInput(_Input):
    """Everything a clerk enters once to open a limited liability company.

    The filing date is not among it: the server stamps it on acceptance (`accept`), and the
    rules that depend on it are checked then. Field order matters: a rule spanning fields
    is checked on the later one, reading the earlier ones from `info.data` (e.g. the bank
    against the district).
    """

    district_code: Code
    industry_code: Code
    enterprise_type: EnterpriseType
    company_name: CompanyName
    registered_capital_fen: int = Field(
        gt=0, json_schema_extra={"maximum": MAX_REGISTERED_CAPITAL_FEN}
    )
    business_scope: tuple[Text, ...] = Field(min_length=1, max_length=MAX_SCOPE_ITEMS)
    address: Text
    legal_representative: Person
    shareholders: tuple[Shareholder, ...] = Field(min_length=1, max_length=MAX_PEOPLE)
    finance_officer: Person | None = None
    seals: tuple[SealKind, ...] = Field(min_length=1, max_length=MAX_LISTED_CODES)
    bank_code: Code
    branch_code: Code
    taxpayer_type: TaxpayerType
    staff: tuple[StaffMember, ...] = Field(default=(), max_length=MAX_PEOPLE)
    housing_fund_rate_percent: float = Field(ge=5, le=12)
    delivery: Delivery
    # Checked when left out too: a filing that lists no materials lacks the essential ones.
    materials: tuple[Code, ...] = Field(
        default=(), max_length=MAX_LISTED_CODES, validate_default=True
    )

    @field_validator("district_code")
    @classmethod
    def _district_known(cls, value: str, info: ValidationInfo) -> str:
        if value not in reference_from(info).districts:
            raise fail("district_unknown", code=value)
        return value

    @field_validator("industry_code")
    @classmethod
    def _industry_known(cls, value: str, info: ValidationInfo) -> str:
        if not _INDUSTRY_CODE.fullmatch(value):
            raise fail("industry_code_format")
        division = reference_from(info).industry_division(value)
        if division is None:
            raise fail("industry_unknown", code=value)
        if not division.enterprise_eligible:
            raise fail(
                "industry_not_for_enterprises",
                division=division.code,
                division_zh=division.name_zh,
                section=division.section_code,
                section_zh=division.section_name_zh,
                section_en=division.section_name_en,
            )
        return value

    @field_validator("registered_capital_fen")
    @classmethod
    def _capital_fits_the_registration_form(cls, value: int) -> int:
        if value > MAX_REGISTERED_CAPITAL_FEN:
            most = MAX_REGISTERED_CAPITAL_FEN
            raise fail("capital_too_large", max_yuan=f"{most // 100:,}.{most % 100:02d}")
        return value

    @field_validator("company_name")
    @classmethod
    def _name_fits_filing(cls, value: CompanyName, info: ValidationInfo) -> CompanyName:
        errors = Errors("FilingInput")
        district = _district(info)
        if district is not None:
            example = district.own_name_regions[0]
            if value.region not in district.name_regions:
                code = (
                    "region_needs_city"
                    if value.region in (district.name_zh, district.short_zh)
                    else "region_not_of_district"
                )
                errors.add(("region",), fail(code, region=value.region, example=example), value)
            if value.trade_name in {*district.name_regions, district.name_zh, district.short_zh}:
                errors.add(
                    ("trade_name",),
                    fail("trade_name_is_region", trade_name=value.trade_name),
                    value,
                )
        enterprise_type = info.data.get("enterprise_type")
        form = reference_from(info).organisation_forms.get(value.organisation_form)
        if (
            enterprise_type is not None
            and form is not None
            and enterprise_type not in form.enterprise_types
        ):
            kind = reference_from(info).enterprise_types[enterprise_type]
            error = fail(
                "organisation_form_mismatch",
                form=form.form,
                type_zh=kind.name_zh,
                type_en=kind.name_en,
            )
            errors.add(("organisation_form",), error, value)
        errors.raise_any()
        return value

    @field_validator("business_scope")
    @classmethod
    def _scope_once_each(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(value))

    @field_validator("address")
    @classmethod
    def _address_in_district(cls, value: str, info: ValidationInfo) -> str:
        district = _district(info)
        if district is not None and not district.mentioned_in(value):
            raise fail(
                "address_not_in_district",
                district_zh=district.name_zh,
                district_en=district.name_en,
            )
        return value

    @field_validator("shareholders")
    @classmethod
    def _shareholders_consistent(
        cls, value: tuple[Shareholder, ...], info: ValidationInfo
    ) -> tuple[Shareholder, ...]:
        errors = Errors("FilingInput")
        _check_unique_people(errors, value)
        enterprise_type = info.data.get("enterprise_type")
        if enterprise_type is not None:
            kind = reference_from(info).enterprise_types[enterprise_type]
            count = len(value)
            if count < kind.min_shareholders:
                hint_zh, hint_en = ("", "")
                if count == 1 and "one_person_llc" in reference_from(info).enterprise_types:
                    hint_zh = "；只有一名股东请选择一人有限责任公司"
                    hint_en = "; with a single shareholder choose one_person_llc"
                error = fail(
                    "too_few_shareholders",
                    type_zh=kind.name_zh,
                    type_en=kind.name_en,
                    min=kind.min_shareholders,
                    count=count,
                    hint_zh=hint_zh,
                    hint_en=hint_en,
                )
                errors.add((), error, count)
            elif count > kind.max_shareholders:
                error = fail(
                    "too_many_shareholders",
                    type_zh=kind.name_zh,
                    type_en=kind.name_en,
                    max=kind.max_shareholders,
                    count=count,
                )
                errors.add((), error, count)
        total = math.fsum(holder.share_percent for holder in value)
        if abs(total - 100) > SHARES_TOLERANCE + 1e-9:
            errors.add((), fail("shares_total", total=f"{total:.2f}"), total)
        errors.raise_any()
        return value

    @field_validator("seals")
    @classmethod
    def _seals_with_official(cls, value: tuple[SealKind, ...]) -> tuple[SealKind, ...]:
        if "official" not in value:
            raise fail("official_seal_required")
        return tuple(kind for kind in SEAL_KINDS if kind in value)  # canonical order, no repeats

    @field_validator("bank_code")
    @classmethod
    def _bank_partners_district(cls, value: str, info: ValidationInfo) -> str:
        return check_partner_bank(value, _district(info), reference_from(info))

    @field_validator("branch_code")
    @classmethod
    def _branch_code_format(cls, value: str) -> str:
        if not _BRANCH_CODE.fullmatch(value):
            raise fail("branch_code_format")
        return value

    @field_validator("staff")
    @classmethod
    def _staff_once_each(cls, value: tuple[StaffMember, ...]) -> tuple[StaffMember, ...]:
        errors = Errors("FilingInput")
        _check_unique_people(errors, value)
        errors.raise_any()
        return value

    @field_validator("materials")
    @classmethod
    def _materials_known_and_essentials_present(
        cls, value: tuple[str, ...], info: ValidationInfo
    ) -> tuple[str, ...]:
        reference = reference_from(info)
        errors = Errors("FilingInput")
        provided: list[str] = []
        for i, code in enumerate(value):
            if code not in reference.materials:
                errors.add((i,), fail("material_unknown", code=code), code)
            elif code not in provided:
                provided.append(code)
        missing = assess_material_codes(provided, reference).missing_essential
        if missing:
            error = fail(
                "essential_material_missing",
                codes=", ".join(m.code for m in missing),
                names_zh="、".join(m.name_zh for m in missing),
                names_en="; ".join(m.name_en for m in missing),
            )
            errors.add((), error, value)
        errors.raise_any()
        return tuple(provided)


def _check_unique_people(errors: Errors, people: Sequence[Person | StaffMember]) -> None:
    seen: set[str] = set()
    for i, person in enumerate(people):
        if person.id_number in seen:
            errors.add(
                (i, "id_number"),
                fail("duplicate_person", id_number=person.id_number),
                person.id_number,
            )
        seen.add(person.id_number)


# Delivery's tag (branch_pickup, courier) names no field of the clerk's form.
register_tagged_union("delivery", get_args(DeliveryMethod))
