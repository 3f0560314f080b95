"""What a bank clerk enters once (`FilingInput`), checked field by field in Chinese and English.

Each field is normalised once, by its annotated type (`Code`, `ResidentId`, `Mobile`,
`PersonName`...), and stored as normalised. What depends on when and where a filing is
accepted — ages on the filing date the server stamps, the account bank against the filing
branch's — is checked by `accept`, which makes the `AcceptedFiling` a filing stores; a 容缺
supplement sets only what its material carries (`supplemented`).

Every refusal is a stable code listed in `ERROR_MESSAGES`, raised and reported as every
validation error is (`orchestrator.validation`: "中文 / English", `FieldError`s for the
API's 422).

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
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from integrations.codes import USCC_ALPHABET, gb11643_check_char, gb32100_check_char
from integrations.registration_form import MAX_REGISTERED_CAPITAL_FEN
from integrations.requests import SealKind, TaxpayerType
from orchestrator.clock import CHINA
from orchestrator.reference import (
    SEAL_KINDS,
    District,
    EnterpriseType,
    Material,
    ReferenceData,
    Step,
    load_reference,
    reference_from,
)
from orchestrator.validation import Errors, Loc, fail, register

__all__ = [
    "ERROR_MESSAGES",
    "AcceptedFiling",
    "BranchPickup",
    "Code",
    "CompanyName",
    "Courier",
    "CreditCode",
    "Delivery",
    "DeliveryMethod",
    "FilingInput",
    "MaterialAssessment",
    "MaterialRef",
    "Mobile",
    "Person",
    "PersonName",
    "ResidentId",
    "Shareholder",
    "StaffMember",
    "SupplementItem",
    "accept",
    "application_of",
    "assess_material_codes",
    "assess_materials",
    "check_account_bank",
    "check_partner_bank",
    "supplemented",
]

ADULT_AGE = 18
WORKING_AGE = 16  # Labour Law: nobody under 16 may be employed
SHARES_TOLERANCE = 0.01

# Bounds on the lists of one filing, far above any real filing's: one request may not make
# the agencies, the database and the receipt carry more than a filing can mean. The legal
# bound on shareholders (per enterprise type) is reference data, checked besides.
MAX_SCOPE_ITEMS = 100
MAX_PEOPLE = 500  # shareholders, staff
MAX_LISTED_CODES = 32  # seals, materials: a short list, with room for a form's repeats

ERROR_MESSAGES: dict[str, tuple[str, str]] = {
    # code: (Chinese, English); {placeholders} come from the error's ctx.
    "district_unknown": (
        "OneStop尚未开通行政区划代码“{code}”（GB/T 2260）",
        "District code {code} (GB/T 2260) is not served by OneStop",
    ),
    "industry_code_format": (
        "行业代码须为2至4位数字（GB/T 4754-2017），如“7511”",
        "An industry code is 2 to 4 digits (GB/T 4754-2017), e.g. 7511",
    ),
    "industry_unknown": (
        "行业代码“{code}”不属于GB/T 4754-2017的任何大类",
        "Industry code {code} belongs to no GB/T 4754-2017 division",
    ),
    "industry_not_for_enterprises": (
        "“{division_zh}”属于门类{section}“{section_zh}”，不能作为企业的主营行业",
        "Division {division} is in section {section} ({section_en}), "
        "which cannot be a company's main industry",
    ),
    "region_not_of_district": (
        "名称中的行政区划“{region}”须为本地、所属市或省的名称，如“{example}”",
        "The administrative division {region} must be the district's, its city's or its "
        "province's name, e.g. {example}",
    ),
    "region_needs_city": (
        "市辖区名称须冠以所属市的名称，如“{example}”",
        "A city district's name must follow its city's name, e.g. {example}",
    ),
    "trade_name_invalid": (
        "字号须由两个以上汉字组成",
        "The trade name (字号) must be two or more Chinese characters",
    ),
    "trade_name_is_region": (
        "字号不能使用行政区划名称“{trade_name}”",
        "The trade name may not be the administrative division name {trade_name}",
    ),
    "industry_term_invalid": (
        "行业或经营特点须为两个以上汉字，如“农业科技”",
        "The industry or business feature must be two or more Chinese characters, e.g. 农业科技",
    ),
    "organisation_form_unknown": (
        "组织形式须为以下之一：{forms}",
        "The organisation form must be one of: {forms}",
    ),
    "organisation_form_not_offered": (
        "OneStop只开办有限责任公司，不能使用组织形式“{form}”",
        "OneStop opens limited liability companies only; {form} ({form_en}) is not available",
    ),
    "organisation_form_mismatch": (
        "组织形式“{form}”不适用于{type_zh}",
        "The organisation form {form} does not fit a {type_en}",
    ),
    "prohibited_word": (
        "名称含禁用词“{word}”：{reason_zh}",
        "The name contains the refused word {word}: {reason_en}",
    ),
    "id_number_format": (
        "居民身份证号码须为18位：17位数字加1位校验码（数字或X）",
        "A resident ID number has 18 characters: 17 digits and a check character (digit or X)",
    ),
    "id_number_check_char": (
        "身份证号码校验码不符（GB 11643），请核对号码",
        "The check character does not match (GB 11643); please re-check the number",
    ),
    "id_number_birth_date": (
        "身份证号码中的出生日期{birth}不存在",
        "The birth date in the ID number ({birth}) is not a real date",
    ),
    "birth_after_filing": (
        "身份证号码中的出生日期{birth}晚于填报日期{on}",
        "The birth date in the ID number ({birth}) is after the filing date {on}",
    ),
    "minor": (
        "{role_zh}须年满18周岁（填报日{on}时为{age}周岁）",
        "The {role_en} must be 18 or older (aged {age} on {on})",
    ),
    "staff_underage": (
        "参保员工须年满16周岁（填报日{on}时为{age}周岁）",
        "Staff must be 16 or older (aged {age} on {on})",
    ),
    "mobile_format": (
        "手机号码须为11位中国大陆号码（以1开头，第二位为3至9）",
        "A mobile number is an 11-digit mainland China number (1, then 3–9, then 9 digits)",
    ),
    "duplicate_person": (
        "身份证号码{id_number}重复出现",
        "Resident ID number {id_number} appears more than once",
    ),
    "too_few_shareholders": (
        "{type_zh}至少须有{min}名股东（现有{count}名）{hint_zh}",
        "A {type_en} needs at least {min} shareholders (there are {count}){hint_en}",
    ),
    "too_many_shareholders": (
        "{type_zh}最多{max}名股东（现有{count}名）",
        "A {type_en} has at most {max} shareholder(s) (there are {count})",
    ),
    "shares_total": (
        "股东出资比例合计须为100%（现为{total}%）",
        "Shareholders' shares must add up to 100% (they add up to {total}%)",
    ),
    "address_not_in_district": (
        "住所须位于{district_zh}，地址中应写明“{district_zh}”",
        "The address must be in {district_en} and name it ({district_zh})",
    ),
    "official_seal_required": (
        "须刻制公章",
        "The official seal (公章) is required",
    ),
    "bank_unknown": (
        "未知的银行代码“{code}”",
        "Unknown bank code {code}",
    ),
    "bank_not_partner": (
        "{bank_zh}不是{district_zh}的合作银行，可选：{partners}",
        "{bank_en} is not a partner bank in {district_en}; choose one of: {partners}",
    ),
    "branch_code_format": (
        "网点代码须为1至32位字母、数字或连字符",
        "A branch code is 1 to 32 letters, digits or hyphens",
    ),
    "material_unknown": (
        "材料目录中没有“{code}”",
        "Unknown material {code}: it is not in the materials catalogue",
    ),
    "capital_too_large": (
        "注册资本最多为{max_yuan}元（登记申请表所能填写的上限）",
        "The registered capital can be at most {max_yuan} yuan, the most the registration "
        "form holds",
    ),
    "text_unprintable": (
        "不能含有控制字符或无法显示的字符（第{position}个字符）",
        "Must not contain control or unprintable characters (character {position})",
    ),
    "digit_not_ascii": (
        "数字须为0至9（“{char}”是其他文字的数字）",
        "Digits must be 0 to 9 ({char} is a digit of another script)",
    ),
    "account_bank_not_branch": (
        "基本存款账户须开在受理网点所属的{branch_bank_zh}，不能开在{bank_zh}{also_zh}",
        "The basic account must be opened at the filing branch's bank, {branch_bank_en}, "
        "not at {bank_en}{also_en}",
    ),
    "not_carried_by_material": (
        "补正“{material_zh}”只能填写：{fields_zh}",
        "A supplement of {material_en} may set only: {fields_en}",
    ),
    "essential_material_missing": (
        "缺少必备材料，不能受理：{names_zh}",
        "Essential materials are missing, the filing cannot be accepted: {names_en}",
    ),
    "credit_code_format": (
        "统一社会信用代码须为18位数字或大写字母（不含I、O、Z、S、V）",
        "A unified social credit code is 18 digits or capital letters (no I, O, Z, S, V)",
    ),
    "credit_code_check_char": (
        "统一社会信用代码校验码不符（GB 32100）",
        "The check character of the unified social credit code does not match (GB 32100)",
    ),
}


def _district(info: ValidationInfo) -> District | None:
    code = info.data.get("district_code")
    return reference_from(info).districts.get(code) if isinstance(code, str) else None


# Field types ----------------------------------------------------------------------------
#
# Everything a person types is normalised here, once, by the annotated type of its kind, and
# stored as normalised: so the same person typed twice is one person, whatever the keyboard.
# Codes and numbers (`Code`: IDs, mobiles, district, industry, bank, branch and material
# codes) are NFKC-normalised, which turns the full-width digits and letters of a Chinese
# keyboard (１２３, ＡＢＣ) into ASCII; their digits must then be 0-9 ([0-9] in every pattern,
# never \d, which also takes other scripts' digits such as Arabic-Indic ٣). Names and free
# text (`PersonName`, `_Text`, the parts of a company name) are NFC only: NFKC would turn a
# name's full-width （） into ASCII ones, NFC keeps what was typed and only composes it the
# one canonical way.

_ID_NUMBER = re.compile(r"[0-9]{17}[0-9X]")
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
_BRANCH_CODE = re.compile(r"[0-9A-Za-z-]{1,32}")
_INDUSTRY_CODE = re.compile(r"[0-9]{2,4}")

# The one use of \d: in a str pattern it is any script's decimal digit, and this finds the
# digits that are not 0-9.
_OTHER_DIGIT = re.compile(r"(?![0-9])\d")

_MAX_CODE_LENGTH = 64  # past any code or number we take: a longer text is none of them


def _code(value: Any) -> Any:
    """A typed code or number in NFKC (full-width → ASCII), trimmed, its digits 0-9 only;
    input that is not text as it is, for the string schema to refuse."""
    if not isinstance(value, str):
        return value
    if not value.isascii():  # NFKC leaves ASCII as it is
        value = unicodedata.normalize("NFKC", value)
        # What NFKC leaves outside 0-9 is another script's digit, which no agency registers.
        if (digit := _OTHER_DIGIT.search(value)) is not None:
            raise fail("digit_not_ascii", char=digit.group())
    return value.strip()


# Control characters, lone surrogates and U+FFFE/U+FFFF: nothing a keyboard types into a
# name or an address, and nothing XML can carry, so a SOAP agency could never be sent them.
# (Unassigned code points are let through: this Python's Unicode tables may predate the
# newest CJK extension, and a rare character in a real name is no typo.)
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _text(value: Any) -> Any:
    """Typed text in NFC (full-width punctuation kept), trimmed, with no control or
    unprintable character; other input as it is."""
    if not isinstance(value, str):
        return value
    if (bad := _UNPRINTABLE.search(value)) is not None:
        raise fail("text_unprintable", position=bad.start() + 1)
    return unicodedata.normalize("NFC", value).strip()


def _birth_date(id_number: str) -> date:
    return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def _check_resident_id(value: str) -> str:
    number = value.upper()
    if not _ID_NUMBER.fullmatch(number):
        raise fail("id_number_format")
    if gb11643_check_char(number[:17]) != number[17]:
        raise fail("id_number_check_char")
    try:
        birth = _birth_date(number)
    except ValueError:
        raise fail("id_number_birth_date", birth=number[6:14]) from None
    if birth.year < 1900:
        raise fail("id_number_birth_date", birth=number[6:14])
    return number


def _check_mobile(value: str) -> str:
    if not _MOBILE.fullmatch(value):
        raise fail("mobile_format")
    return value


def _check_credit_code(value: str) -> str:
    code = value.upper()
    if len(code) != 18 or any(ch not in USCC_ALPHABET for ch in code):
        raise fail("credit_code_format")
    if gb32100_check_char(code[:17]) != code[17]:
        raise fail("credit_code_check_char")
    return code


_NFKC = BeforeValidator(_code)
_NFC = BeforeValidator(_text)

# A before-validator placed after the constraints runs first and leaves them to the string
# schema itself: lengths are counted on the normalised text, with the usual error codes.
Code = Annotated[str, Field(max_length=_MAX_CODE_LENGTH), _NFKC]
"""A code or number as typed: NFKC-normalised and trimmed, its digits 0-9 only."""
ResidentId = Annotated[Code, AfterValidator(_check_resident_id)]
"""An 18-character resident ID number (GB 11643) with a right check character and real birth
date; a lower-case x is normalised to X."""
Mobile = Annotated[Code, AfterValidator(_check_mobile)]
"""A mainland China mobile number, 11 digits: 1, then 3-9, then 9 more."""
CreditCode = Annotated[Code, AfterValidator(_check_credit_code)]
"""A unified social credit code (GB 32100) with a right check character, upper-cased."""
PersonName = Annotated[str, Field(min_length=1, max_length=50), _NFC]
"""A person's name as typed, in NFC."""
_Text = Annotated[str, Field(min_length=1, max_length=200), _NFC]
"""Free text as typed (an address, an item of business scope), in NFC."""


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

    region: Annotated[str, Field(min_length=1, max_length=20), _NFC]
    trade_name: Annotated[str, Field(min_length=1, max_length=20), _NFC]
    industry_term: Annotated[str, Field(min_length=1, max_length=30), _NFC]
    organisation_form: Annotated[str, Field(min_length=1, max_length=10), _NFC]

    @property
    def full(self) -> str:
        """The name as registered: 寿光市禾丰农业科技有限公司."""
        return self.region + self.trade_name + self.industry_term + self.organisation_form

    def __str__(self) -> str:
        return self.full

    @field_validator("trade_name")
    @classmethod
    def _trade_name_is_two_han(cls, value: str) -> str:
        if len(value) < 2 or not _HAN.fullmatch(value):
            raise fail("trade_name_invalid")
        return value

    @field_validator("industry_term")
    @classmethod
    def _industry_term_is_han(cls, value: str) -> str:
        if len(value) < 2 or not _HAN.fullmatch(value):
            raise fail("industry_term_invalid")
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
    address: _Text


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
    business_scope: tuple[_Text, ...] = Field(min_length=1, max_length=MAX_SCOPE_ITEMS)
    address: _Text
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
    birth = _birth_date(id_number)
    if birth > on:
        error = fail("birth_after_filing", birth=birth.isoformat(), on=on.isoformat())
        errors.add(loc, error, id_number)
        return None
    return _age_on(birth, on)


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


# The filing as accepted -----------------------------------------------------------------


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


# Materials ------------------------------------------------------------------------------


class _Output(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MaterialRef(_Output):
    """A catalogue material, named for the clerk."""

    code: str
    name_zh: str
    name_en: str


class SupplementItem(MaterialRef):
    """A missing may-be-supplemented material (容缺): what it blocks and by when to supply it."""

    blocks: tuple[Step, ...]
    deadline_working_days: int


class MaterialAssessment(_Output):
    """Essential materials missing (the filing is refused) and those to supplement (容缺)."""

    missing_essential: tuple[MaterialRef, ...] = ()
    to_supplement: tuple[SupplementItem, ...] = ()

    @property
    def acceptable(self) -> bool:
        """Whether the filing can be accepted (no essential material missing)."""
        return not self.missing_essential

    @property
    def blocked_steps(self) -> frozenset[Step]:
        """Steps that wait for a supplement."""
        return frozenset(step for item in self.to_supplement for step in item.blocks)


def assess_material_codes(provided: Iterable[str], reference: ReferenceData) -> MaterialAssessment:
    """What is missing from the catalogue, given the codes of the materials provided."""
    have = set(provided)
    missing: list[MaterialRef] = []
    supplement: list[SupplementItem] = []
    for material in reference.materials.values():
        if material.code in have or material.generated:
            continue
        if material.kind == "essential":
            missing.append(
                MaterialRef(code=material.code, name_zh=material.name_zh, name_en=material.name_en)
            )
        else:
            supplement.append(
                SupplementItem(
                    code=material.code,
                    name_zh=material.name_zh,
                    name_en=material.name_en,
                    blocks=material.needed_by,
                    deadline_working_days=material.supplement_deadline_working_days or 0,
                )
            )
    return MaterialAssessment(missing_essential=tuple(missing), to_supplement=tuple(supplement))


def assess_materials(filing: FilingInput, reference: ReferenceData) -> MaterialAssessment:
    """The filing's missing essential and may-be-supplemented (容缺) materials."""
    return assess_material_codes(filing.materials, reference)


register(ERROR_MESSAGES, tagged_unions={"delivery": get_args(DeliveryMethod)})
