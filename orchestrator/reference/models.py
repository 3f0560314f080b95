"""Reference data as typed, immutable models: districts and their policies, industries,
materials, banks, refused name words, enterprise types and organisation forms.

The `*File` models mirror one YAML file each; `ReferenceData` is what the loader builds from
all of them once every file and every cross-file reference has been checked.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, model_validator

from integrations.codes import is_ascii_digits, luhn_check_digit
from integrations.requests import SealKind
from orchestrator.workflow import Graph, of_entries

Step = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,29}$")]
"""A step, by the name `orchestrator.workflow` declares it under (the loader checks it)."""

EnterpriseType = Literal["llc", "one_person_llc"]
ENTERPRISE_TYPES: tuple[EnterpriseType, ...] = get_args(EnterpriseType)

SEAL_KINDS: tuple[SealKind, ...] = get_args(SealKind)

DistrictKind = Literal["county", "county_level_city", "city_district"]
MaterialKind = Literal["essential", "may_be_supplemented"]
ProhibitedCategory = Literal[
    "national_name", "party_state_military", "foreign_country", "public_order", "misleading"
]

DivisionCodeStr = Annotated[str, Field(pattern=r"^[0-9]{2}$")]
RegionCodeStr = Annotated[str, Field(pattern=r"^[0-9]{6}$")]
Text = Annotated[str, Field(min_length=1)]


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# Districts ------------------------------------------------------------------------------


class Region(_Data):
    """A province or a prefecture-level city above a district."""

    code: RegionCodeStr
    name_zh: Text
    short_zh: Text
    name_en: Text


class SealSubsidy(_Data):
    """Seal kinds the district pays for; for every industry unless divisions are listed."""

    kinds: frozenset[SealKind] = Field(min_length=1)
    industry_divisions: frozenset[DivisionCodeStr] | None = None

    def applies_to(self, industry_code: str) -> bool:
        """Whether a firm whose main industry is `industry_code` gets these seals free."""
        return self.industry_divisions is None or industry_code[:2] in self.industry_divisions


class Subsidies(_Data):
    """What a district's budget pays for a new firm, and the budget per calendar month (in
    fen) it pays from: a district that pays for anything states its budget."""

    seals: SealSubsidy | None = None
    courier_free: bool = False
    budget_fen: PositiveInt | None = None

    @model_validator(mode="after")
    def _budget_iff_paying(self) -> Subsidies:
        paying = self.seals is not None or self.courier_free
        if paying and self.budget_fen is None:
            raise ValueError("budget_fen: a district that pays for seals or courier needs one")
        if not paying and self.budget_fen is not None:
            raise ValueError("budget_fen: no seals and no courier to pay for")
        return self

    def free_seals(self, industry_code: str) -> frozenset[SealKind]:
        """Seal kinds free for a firm with this main industry code."""
        if self.seals is None or not self.seals.applies_to(industry_code):
            return frozenset()
        return self.seals.kinds


class Prices(_Data):
    """District prices in integer fen: one per seal kind and one per courier parcel."""

    seals_fen: dict[SealKind, NonNegativeInt]
    parcel_fen: NonNegativeInt

    @model_validator(mode="after")
    def _every_seal_kind_priced(self) -> Prices:
        missing = [kind for kind in SEAL_KINDS if kind not in self.seals_fen]
        if missing:
            raise ValueError(f"seals_fen lacks a price for {', '.join(missing)}")
        return self


class GraphStep(_Data):
    """One step of a graph (`graphs` in `districts.yaml`) and the steps it waits for."""

    step: Step
    needs: tuple[Step, ...] = ()


GraphName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]

# A working time as `orchestrator.calendar.parse_duration` reads it (3d, 0.5d, 4h, 30m, 1d4h).
Budget = Annotated[
    str,
    Field(
        min_length=2, pattern=r"^(?:[0-9]+(?:\.[0-9]+)?d)?(?:[0-9]+(?:\.[0-9]+)?h)?(?:[0-9]+m)?$"
    ),
]


class DistrictPolicy(_Data):
    """SLA target, step graph, partner banks, subsidies and prices of one district.

    `graph` names the graph of steps its filings run (`graphs` in `districts.yaml`), stamped
    on each filing at acceptance. A branch opens the basic account at its own bank;
    `account_banks_any_branch` lists the partner banks at which any branch of the district
    may open it as well.
    """

    sla_working_days: float = Field(gt=0)
    graph: GraphName = "standard"
    partner_banks: tuple[str, ...] = Field(min_length=1)
    account_banks_any_branch: tuple[str, ...] = ()
    subsidies: Subsidies = Subsidies()
    prices: Prices
    # Working time each step may take here, where it differs from `step_budgets` of the
    # file: what the tracker predicts with until it has seen enough of the step done.
    step_budgets: dict[Step, Budget] = {}

    @model_validator(mode="after")
    def _banks_unique(self) -> DistrictPolicy:
        if len(set(self.partner_banks)) != len(self.partner_banks):
            raise ValueError("partner_banks lists a bank twice")
        if len(set(self.account_banks_any_branch)) != len(self.account_banks_any_branch):
            raise ValueError("account_banks_any_branch lists a bank twice")
        strangers = [b for b in self.account_banks_any_branch if b not in self.partner_banks]
        if strangers:
            raise ValueError(
                f"account_banks_any_branch names {', '.join(strangers)}, not a partner bank"
            )
        return self


class District(_Data):
    """A county-level division (GB/T 2260) where OneStop takes filings."""

    code: RegionCodeStr
    name_zh: Text
    short_zh: Text
    name_en: Text
    kind: DistrictKind
    province: Region
    city: Region
    policy: DistrictPolicy

    @model_validator(mode="after")
    def _codes_nest(self) -> District:
        # GB/T 2260: digits 1–2 are the province, 3–4 the city, 5–6 the county.
        if self.province.code != self.code[:2] + "0000":
            raise ValueError(f"province code {self.province.code} does not contain {self.code}")
        if self.city.code != self.code[:4] + "00":
            raise ValueError(f"city code {self.city.code} does not contain {self.code}")
        return self

    @property
    def own_name_regions(self) -> tuple[str, ...]:
        """How the district itself may head a company name (a city district with its city)."""
        if self.kind == "city_district":
            return (
                self.city.name_zh + self.name_zh,
                self.city.short_zh + self.short_zh,
            )
        return (self.name_zh, self.short_zh)

    @property
    def name_regions(self) -> tuple[str, ...]:
        """Every administrative division (行政区划) a company name here may start with."""
        return (
            *self.own_name_regions,
            self.city.name_zh,
            self.city.short_zh,
            self.province.name_zh,
            self.province.short_zh,
        )

    def mentioned_in(self, text: str) -> bool:
        """Whether `text` (an address) names this district."""
        return self.name_zh in text or self.short_zh in text


class DistrictsFile(_Data):
    """`districts.yaml`."""

    version: Text
    graphs: dict[GraphName, tuple[GraphStep, ...]] = Field(min_length=1)
    # The working time each step may take, unless a district's policy says otherwise.
    step_budgets: dict[Step, Budget] = Field(min_length=1)
    districts: tuple[District, ...] = Field(min_length=1)


# Industries -----------------------------------------------------------------------------


class IndustrySection(_Data):
    """A GB/T 4754-2017 section (门类) with its divisions (大类: code → Chinese name)."""

    code: Annotated[str, Field(pattern=r"^[A-T]$")]
    name_zh: Text
    name_en: Text
    enterprise_eligible: bool = True
    divisions: dict[DivisionCodeStr, Text] = Field(min_length=1)


class IndustryDivision(_Data):
    """A GB/T 4754-2017 division (大类) with its section."""

    code: DivisionCodeStr
    name_zh: Text
    section_code: str
    section_name_zh: str
    section_name_en: str
    enterprise_eligible: bool


class IndustriesFile(_Data):
    """`industries.yaml`."""

    version: Text
    standard: Text
    sections: tuple[IndustrySection, ...] = Field(min_length=1)


# Materials ------------------------------------------------------------------------------


class Material(_Data):
    """One entry of the materials catalogue.

    `carries` names the filing's fields whose data the material holds (the finance officer
    for the tax material, the staff for the roster): what a supplement of it may set.
    """

    code: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    name_zh: Text
    name_en: Text
    kind: MaterialKind
    needed_by: tuple[Step, ...] = Field(min_length=1)
    supplement_deadline_working_days: PositiveInt | None = None
    generated: bool = False
    carries: tuple[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")], ...] = ()

    @model_validator(mode="after")
    def _deadline_iff_supplementable(self) -> Material:
        if self.kind == "may_be_supplemented" and self.supplement_deadline_working_days is None:
            raise ValueError("a may_be_supplemented material needs a supplement deadline")
        if self.kind == "essential" and self.supplement_deadline_working_days is not None:
            raise ValueError("an essential material has no supplement deadline")
        if self.generated and self.kind != "essential":
            raise ValueError("only an essential material can be generated from the filing")
        if self.carries and self.kind != "may_be_supplemented":
            raise ValueError("only a may_be_supplemented material carries fields to supplement")
        return self


class MaterialsFile(_Data):
    """`materials.yaml`."""

    version: Text
    materials: tuple[Material, ...] = Field(min_length=1)


# Banks ----------------------------------------------------------------------------------


class AccountNumberFormat(_Data):
    """How a bank's basic-account numbers look: all digits, fixed length, optional Luhn digit."""

    length: int = Field(ge=8, le=32)
    prefix: Annotated[str, Field(pattern=r"^[0-9]*$")] = ""
    luhn: bool = False

    @model_validator(mode="after")
    def _prefix_fits(self) -> AccountNumberFormat:
        if len(self.prefix) >= self.length:
            raise ValueError("the prefix must be shorter than the account number")
        return self

    def matches(self, account_number: str) -> bool:
        """Whether `account_number` follows this format."""
        if len(account_number) != self.length or not is_ascii_digits(account_number):
            return False
        if not account_number.startswith(self.prefix):
            return False
        return not self.luhn or luhn_check_digit(account_number[:-1]) == account_number[-1]


class Bank(_Data):
    """A partner bank."""

    code: Annotated[str, Field(pattern=r"^[A-Z]{2,10}$")]
    name_zh: Text
    name_en: Text
    cnaps_code: Annotated[str, Field(pattern=r"^[0-9]{3}$")]
    account_number: AccountNumberFormat


class BanksFile(_Data):
    """`banks.yaml`."""

    version: Text
    banks: tuple[Bank, ...] = Field(min_length=1)


# Company names --------------------------------------------------------------------------


class Reason(_Data):
    """Why a word is refused, in Chinese and English."""

    reason_zh: Text
    reason_en: Text


class ProhibitedWordEntry(_Data):
    """One line of `prohibited_words.yaml`; the reason defaults to its category's."""

    word: Annotated[str, Field(min_length=2)]
    category: ProhibitedCategory
    allowed_within: tuple[str, ...] = ()
    reason_zh: str | None = None
    reason_en: str | None = None

    @model_validator(mode="after")
    def _allowed_within_contains_word(self) -> ProhibitedWordEntry:
        for longer in self.allowed_within:
            if self.word not in longer or longer == self.word:
                raise ValueError(f"allowed_within entry {longer!r} must contain {self.word!r}")
        if (self.reason_zh is None) != (self.reason_en is None):
            raise ValueError("give both reason_zh and reason_en, or neither")
        return self


class ProhibitedWordsFile(_Data):
    """`prohibited_words.yaml`."""

    version: Text
    categories: dict[ProhibitedCategory, Reason]
    words: tuple[ProhibitedWordEntry, ...] = Field(min_length=1)


class ProhibitedWord(_Data):
    """A word refused in company names, with the reason shown to the clerk."""

    word: str
    category: ProhibitedCategory
    reason_zh: str
    reason_en: str
    allowed_within: tuple[str, ...] = ()

    def occurs_in(self, text: str) -> list[int]:
        """Start offsets of the word in `text`, except inside an allowed longer word."""
        found: list[int] = []
        start = text.find(self.word)
        while start != -1:
            if not any(self._inside(text, start, longer) for longer in self.allowed_within):
                found.append(start)
            start = text.find(self.word, start + 1)
        return found

    def _inside(self, text: str, start: int, longer: str) -> bool:
        offset = longer.find(self.word)
        while offset != -1:
            begin = start - offset
            if begin >= 0 and text[begin : begin + len(longer)] == longer:
                return True
            offset = longer.find(self.word, offset + 1)
        return False


class EnterpriseTypeInfo(_Data):
    """An enterprise type OneStop opens, with its shareholder bounds."""

    code: EnterpriseType
    name_zh: Text
    name_en: Text
    min_shareholders: PositiveInt
    max_shareholders: PositiveInt

    @model_validator(mode="after")
    def _bounds_ordered(self) -> EnterpriseTypeInfo:
        if self.min_shareholders > self.max_shareholders:
            raise ValueError("min_shareholders exceeds max_shareholders")
        return self


class OrganisationForm(_Data):
    """An organisation form (组织形式) ending a company name; no types: not offered."""

    form: Text
    name_en: Text
    enterprise_types: tuple[EnterpriseType, ...] = ()


class EnterpriseTypesFile(_Data):
    """`enterprise_types.yaml`."""

    version: Text
    enterprise_types: tuple[EnterpriseTypeInfo, ...] = Field(min_length=1)
    organisation_forms: tuple[OrganisationForm, ...] = Field(min_length=1)


# All of it ------------------------------------------------------------------------------


class ReferenceData(_Data):
    """Every reference table, indexed by code, checked across files by the loader."""

    versions: dict[str, str]
    graphs: dict[str, tuple[GraphStep, ...]]
    step_budgets: dict[str, str]
    districts: dict[str, District]
    industry_sections: dict[str, IndustrySection]
    industry_divisions: dict[str, IndustryDivision]
    materials: dict[str, Material]
    banks: dict[str, Bank]
    prohibited_words: tuple[ProhibitedWord, ...]
    enterprise_types: dict[EnterpriseType, EnterpriseTypeInfo]
    organisation_forms: dict[str, OrganisationForm]

    def graph_of(self, district_code: str) -> Graph:
        """The graph of steps a filing in this district runs, by the district's policy."""
        entries = self.graphs[self.districts[district_code].policy.graph]
        return of_entries(tuple((entry.step, entry.needs) for entry in entries))

    def step_budget(self, district_code: str, step: str) -> str:
        """The working time `step` may take in the district (its policy's, else the default)."""
        policy = self.districts[district_code].policy
        return policy.step_budgets.get(step) or self.step_budgets[step]

    def industry_division(self, industry_code: str) -> IndustryDivision | None:
        """The division of a 2–4 digit GB/T 4754 code, or None if there is none."""
        if not (2 <= len(industry_code) <= 4 and is_ascii_digits(industry_code)):
            return None
        return self.industry_divisions.get(industry_code[:2])

    def prohibited_words_in(self, text: str) -> list[tuple[int, ProhibitedWord]]:
        """Every refused word in `text` with its offset, in order of appearance."""
        hits = [(at, word) for word in self.prohibited_words for at in word.occurs_in(text)]
        return sorted(hits, key=lambda hit: (hit[0], -len(hit[1].word)))
