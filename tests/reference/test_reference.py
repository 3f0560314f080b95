"""Reference data: what ships in the repo, and how the loader treats a bad file."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from integrations.codes import luhn_check_digit
from orchestrator.reference import (
    DATA_DIR,
    SEAL_KINDS,
    ReferenceData,
    ReferenceDataError,
    load_reference,
    read_reference,
)
from orchestrator.workflow import by_name


@pytest.fixture(scope="module")
def ref() -> ReferenceData:
    return load_reference()


class TestShippedData:
    def test_loads_once_per_process(self) -> None:
        assert load_reference() is load_reference()

    def test_every_file_carries_a_version(self, ref: ReferenceData) -> None:
        assert set(ref.versions) == {
            "districts.yaml",
            "industries.yaml",
            "materials.yaml",
            "banks.yaml",
            "prohibited_words.yaml",
            "enterprise_types.yaml",
        }
        assert all(ref.versions.values())

    def test_reading_the_shipped_directory_gives_the_same_data(self, ref: ReferenceData) -> None:
        assert read_reference(DATA_DIR) == ref


class TestDistricts:
    @pytest.mark.parametrize(
        ("code", "name_zh", "city_zh", "province_zh"),
        [
            ("370783", "寿光市", "潍坊市", "山东省"),
            ("370811", "任城区", "济宁市", "山东省"),
            ("370826", "微山县", "济宁市", "山东省"),
            ("430181", "浏阳市", "长沙市", "湖南省"),
            ("330205", "江北区", "宁波市", "浙江省"),
            ("330282", "慈溪市", "宁波市", "浙江省"),
            ("330225", "象山县", "宁波市", "浙江省"),
        ],
    )
    def test_seeds_the_places_of_the_domain_brief(
        self, ref: ReferenceData, code: str, name_zh: str, city_zh: str, province_zh: str
    ) -> None:
        district = ref.districts[code]
        assert (district.name_zh, district.city.name_zh, district.province.name_zh) == (
            name_zh,
            city_zh,
            province_zh,
        )
        assert district.name_en
        assert district.policy.sla_working_days > 0
        assert district.policy.partner_banks

    def test_shouguang_promises_half_a_working_day(self, ref: ReferenceData) -> None:
        assert ref.districts["370783"].policy.sla_working_days == 0.5

    def test_shouguang_pays_four_seals_and_the_courier_for_every_firm(
        self, ref: ReferenceData
    ) -> None:
        subsidies = ref.districts["370783"].policy.subsidies
        assert subsidies.free_seals("0111") == frozenset(SEAL_KINDS)
        assert subsidies.free_seals("9011") == frozenset(SEAL_KINDS)
        assert subsidies.courier_free

    def test_shouguang_saving_per_firm_is_about_74_yuan(self, ref: ReferenceData) -> None:
        prices = ref.districts["370783"].policy.prices
        assert sum(prices.seals_fen.values()) + prices.parcel_fen == 7400

    def test_shouguang_partners_with_a_local_rural_commercial_bank(
        self, ref: ReferenceData
    ) -> None:
        assert "SGRCB" in ref.districts["370783"].policy.partner_banks

    def test_shouguang_opens_its_rural_bank_to_accounts_filed_at_any_branch(
        self, ref: ReferenceData
    ) -> None:
        assert ref.districts["370783"].policy.account_banks_any_branch == ("SGRCB",)
        others = [d for code, d in ref.districts.items() if code != "370783"]
        assert all(d.policy.account_banks_any_branch == () for d in others)

    def test_rencheng_promises_three_working_days(self, ref: ReferenceData) -> None:
        assert ref.districts["370811"].policy.sla_working_days == 3

    @pytest.mark.parametrize("industry_code", ["65", "6511", "3911", "5411", "8514", "72"])
    def test_rencheng_frees_a_seal_set_for_encouraged_industries(
        self, ref: ReferenceData, industry_code: str
    ) -> None:
        subsidies = ref.districts["370811"].policy.subsidies
        assert subsidies.free_seals(industry_code) == {
            "official",
            "finance",
            "legal_representative",
        }
        assert not subsidies.courier_free

    @pytest.mark.parametrize("industry_code", ["01", "0111", "4711", "7011"])
    def test_rencheng_charges_other_industries(
        self, ref: ReferenceData, industry_code: str
    ) -> None:
        assert ref.districts["370811"].policy.subsidies.free_seals(industry_code) == frozenset()

    def test_weishan_pays_the_courier_but_not_the_seals(self, ref: ReferenceData) -> None:
        subsidies = ref.districts["370826"].policy.subsidies
        assert subsidies.courier_free
        assert subsidies.free_seals("6511") == frozenset()

    def test_weishan_partners_with_the_banks_of_the_e_licence_agreement(
        self, ref: ReferenceData
    ) -> None:
        assert set(ref.districts["370826"].policy.partner_banks) == {"ABC", "CCB", "ICBC"}

    def test_every_district_prices_each_seal_kind_and_a_parcel_in_fen(
        self, ref: ReferenceData
    ) -> None:
        for district in ref.districts.values():
            prices = district.policy.prices
            assert set(prices.seals_fen) == set(SEAL_KINDS)
            assert all(isinstance(fen, int) and fen > 0 for fen in prices.seals_fen.values())
            assert isinstance(prices.parcel_fen, int)

    def test_every_partner_bank_is_a_known_bank(self, ref: ReferenceData) -> None:
        for district in ref.districts.values():
            assert set(district.policy.partner_banks) <= set(ref.banks)

    def test_codes_nest_in_their_province_and_city(self, ref: ReferenceData) -> None:
        for code, district in ref.districts.items():
            assert district.province.code == code[:2] + "0000"
            assert district.city.code == code[:4] + "00"

    def test_a_city_district_heads_a_company_name_with_its_city(self, ref: ReferenceData) -> None:
        rencheng = ref.districts["370811"]
        assert rencheng.own_name_regions == ("济宁市任城区", "济宁任城")
        assert "任城区" not in rencheng.name_regions
        assert {"济宁市", "济宁", "山东省", "山东"} <= set(rencheng.name_regions)

    def test_a_county_level_city_heads_a_company_name_alone(self, ref: ReferenceData) -> None:
        assert ref.districts["370783"].own_name_regions == ("寿光市", "寿光")


class TestIndustries:
    def test_has_the_twenty_sections_a_to_t(self, ref: ReferenceData) -> None:
        assert list(ref.industry_sections) == [chr(c) for c in range(ord("A"), ord("T") + 1)]
        assert all(s.name_zh and s.name_en for s in ref.industry_sections.values())

    def test_has_all_97_divisions_in_order(self, ref: ReferenceData) -> None:
        assert list(ref.industry_divisions) == [f"{n:02d}" for n in range(1, 98)]
        assert all(d.name_zh for d in ref.industry_divisions.values())

    @pytest.mark.parametrize(
        ("code", "division", "section"),
        [("01", "01", "A"), ("751", "75", "M"), ("7511", "75", "M"), ("3911", "39", "C")],
    )
    def test_a_division_or_a_finer_code_resolves_to_its_division(
        self, ref: ReferenceData, code: str, division: str, section: str
    ) -> None:
        found = ref.industry_division(code)
        assert found is not None
        assert (found.code, found.section_code) == (division, section)

    @pytest.mark.parametrize("code", ["", "7", "98", "9911", "75111", "7a", "A75", "٧٥", "７５"])
    def test_an_unknown_or_malformed_code_resolves_to_nothing(
        self, ref: ReferenceData, code: str
    ) -> None:
        assert ref.industry_division(code) is None

    def test_public_administration_and_international_organisations_are_not_for_companies(
        self, ref: ReferenceData
    ) -> None:
        closed = {c for c, d in ref.industry_divisions.items() if not d.enterprise_eligible}
        assert closed == {"91", "92", "93", "94", "95", "96", "97"}


class TestMaterials:
    def test_the_catalogue_follows_the_reference(self, ref: ReferenceData) -> None:
        catalogue = {
            m.code: (m.kind, set(m.needed_by), m.supplement_deadline_working_days)
            for m in ref.materials.values()
        }
        assert catalogue == {
            "registration_application": ("essential", {"registration"}, None),
            "articles_of_association": ("essential", {"registration"}, None),
            "identity_documents": ("essential", {"registration"}, None),
            "proof_of_address": ("essential", {"registration"}, None),
            "branch_mandate": ("essential", set(by_name()), None),
            "finance_tax_agents": ("may_be_supplemented", {"tax"}, 5),
            "staff_roster": (
                "may_be_supplemented",
                {"social_insurance", "medical_insurance"},
                5,
            ),
            "housing_fund_authorisation": ("may_be_supplemented", {"housing_fund"}, 5),
        }

    def test_only_the_registration_application_is_generated_from_the_filing(
        self, ref: ReferenceData
    ) -> None:
        assert [m.code for m in ref.materials.values() if m.generated] == [
            "registration_application"
        ]

    def test_every_material_is_named_in_both_languages(self, ref: ReferenceData) -> None:
        assert all(m.name_zh and m.name_en for m in ref.materials.values())

    def test_the_tax_details_and_the_roster_carry_their_fields(self, ref: ReferenceData) -> None:
        carried = {m.code: m.carries for m in ref.materials.values() if m.carries}
        assert carried == {"finance_tax_agents": ("finance_officer",), "staff_roster": ("staff",)}


class TestBanks:
    def test_seeds_the_big_five_and_a_rural_commercial_bank(self, ref: ReferenceData) -> None:
        assert set(ref.banks) == {"ABC", "CCB", "ICBC", "BOC", "PSBC", "SGRCB"}
        assert ref.banks["SGRCB"].name_zh == "寿光农商银行"

    def test_each_bank_has_its_own_account_number_format(self, ref: ReferenceData) -> None:
        for bank in ref.banks.values():
            fmt = bank.account_number
            body = fmt.prefix + "7" * (fmt.length - len(fmt.prefix) - 1)
            number = body + (luhn_check_digit(body) if fmt.luhn else "3")
            assert fmt.matches(number), bank.code
            assert not fmt.matches(number + "0")
            assert not fmt.matches("X" + number[1:])
            assert not fmt.matches(number.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")))

    def test_a_luhn_format_refuses_a_wrong_check_digit(self, ref: ReferenceData) -> None:
        fmt = ref.banks["ICBC"].account_number
        body = fmt.prefix + "1" * (fmt.length - len(fmt.prefix) - 1)
        wrong = str((int(luhn_check_digit(body)) + 1) % 10)
        assert fmt.luhn
        assert not fmt.matches(body + wrong)


class TestProhibitedWords:
    @pytest.mark.parametrize("word", ["中国", "中华", "全国", "国家", "国际"])
    def test_refuses_national_words_that_need_approval(self, ref: ReferenceData, word: str) -> None:
        hits = ref.prohibited_words_in(f"禾丰{word}农业")
        assert [(at, w.word, w.category) for at, w in hits] == [(2, word, "national_name")]

    @pytest.mark.parametrize(
        ("text", "word"),
        [
            ("解放军商贸", "解放军"),
            ("美国农业", "美国"),
            ("赌博娱乐", "赌博"),
            ("特供酒业", "特供"),
        ],
    )
    def test_refuses_state_bodies_foreign_countries_and_public_order_words(
        self, ref: ReferenceData, text: str, word: str
    ) -> None:
        assert [w.word for _, w in ref.prohibited_words_in(text)] == [word]

    @pytest.mark.parametrize("text", ["荷兰豆种植", "禾丰中央空调", "精英国贸", "完美国风"])
    def test_a_harmless_longer_word_does_not_trip_a_refusal(
        self, ref: ReferenceData, text: str
    ) -> None:
        assert ref.prohibited_words_in(text) == []

    def test_the_same_word_outside_the_harmless_one_is_still_refused(
        self, ref: ReferenceData
    ) -> None:
        hits = ref.prohibited_words_in("荷兰豆荷兰花卉")
        assert [(at, w.word) for at, w in hits] == [(3, "荷兰")]

    def test_every_word_has_a_reason_in_both_languages(self, ref: ReferenceData) -> None:
        assert all(w.reason_zh and w.reason_en for w in ref.prohibited_words)


class TestEnterpriseTypes:
    def test_opens_llcs_with_two_to_fifty_shareholders(self, ref: ReferenceData) -> None:
        llc = ref.enterprise_types["llc"]
        assert (llc.min_shareholders, llc.max_shareholders) == (2, 50)

    def test_opens_one_person_llcs_with_exactly_one_shareholder(self, ref: ReferenceData) -> None:
        one = ref.enterprise_types["one_person_llc"]
        assert (one.min_shareholders, one.max_shareholders) == (1, 1)

    def test_knows_the_three_organisation_forms_but_offers_only_the_llc_ones(
        self, ref: ReferenceData
    ) -> None:
        offered = {f for f, entry in ref.organisation_forms.items() if entry.enterprise_types}
        assert offered == {"有限公司", "有限责任公司"}
        assert ref.organisation_forms["股份有限公司"].enterprise_types == ()


# The loader on bad files ----------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _copy_data(tmp_path: Path) -> Path:
    for source in DATA_DIR.glob("*.yaml"):
        shutil.copy(source, tmp_path / source.name)
    return tmp_path


def _mutate(directory: Path, file: str, mutation: Mutation) -> None:
    path = directory / file
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    mutation(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _district(data: dict[str, Any], index: int) -> dict[str, Any]:
    district: dict[str, Any] = data["districts"][index]
    return district


class TestLoaderRejectsBadFiles:
    @pytest.mark.parametrize(
        ("file", "mutation", "fragments"),
        [
            pytest.param(
                "districts.yaml",
                lambda d: _district(d, 1)["policy"]["partner_banks"].append("XYZ"),
                ["entry districts[1] (370811)", "partner_banks", "'XYZ'"],
                id="unknown-partner-bank",
            ),
            pytest.param(
                "districts.yaml",
                lambda d: _district(d, 0)["policy"].update(sla_working_days=-1),
                ["entry districts[0] (370783)", "policy.sla_working_days", "greater than 0"],
                id="negative-sla",
            ),
            pytest.param(
                "districts.yaml",
                lambda d: _district(d, 2)["policy"]["prices"]["seals_fen"].pop("invoice"),
                ["entry districts[2] (370826)", "policy.prices", "invoice"],
                id="seal-price-missing",
            ),
            pytest.param(
                "districts.yaml",
                lambda d: _district(d, 0)["policy"]["prices"].update(parcel_fen=12.5),
                ["entry districts[0] (370783)", "policy.prices.parcel_fen"],
                id="price-not-in-whole-fen",
            ),
            pytest.param(
                "districts.yaml",
                lambda d: _district(d, 1)["policy"]["subsidies"]["seals"].update(
                    industry_divisions=["65", "99"]
                ),
                ["entry districts[1] (370811)", "industry_divisions", "'99'"],
                id="subsidy-for-unknown-division",
            ),
            pytest.param(
                "districts.yaml",
                lambda d: _district(d, 0)["policy"]["subsidies"]["seals"].update(kinds=["stamp"]),
                ["entry districts[0] (370783)", "policy.subsidies.seals.kinds"],
                id="unknown-seal-kind",
            ),
            pytest.param(
                "districts.yaml",
                lambda d: _district(d, 0)["province"].update(code="430000"),
                ["entry districts[0] (370783)", "province code 430000"],
                id="province-does-not-contain-district",
            ),
            pytest.param(
                "districts.yaml",
                lambda d: d["districts"].append(dict(_district(d, 0))),
                ["districts: '370783' appears more than once"],
                id="duplicate-district",
            ),
            pytest.param(
                "districts.yaml",
                lambda d: _district(d, 3).pop("kind"),
                ["entry districts[3] (430181)", "kind", "required"],
                id="missing-field",
            ),
            pytest.param(
                "industries.yaml",
                lambda d: d["sections"][0]["divisions"].update({"1": "农业"}),
                ["entry sections[0] (A)", "divisions.1"],
                id="malformed-division-code",
            ),
            pytest.param(
                "industries.yaml",
                lambda d: d["sections"][1]["divisions"].update({"01": "农业"}),
                ["divisions: '01' appears more than once"],
                id="division-in-two-sections",
            ),
            pytest.param(
                "materials.yaml",
                lambda d: d["materials"][5].pop("supplement_deadline_working_days"),
                ["entry materials[5] (finance_tax_agents)", "supplement deadline"],
                id="supplementable-without-deadline",
            ),
            pytest.param(
                "materials.yaml",
                lambda d: d["materials"][1].update(needed_by=["notary"]),
                ["entry materials[1] (articles_of_association)", "unknown step 'notary'"],
                id="unknown-step",
            ),
            pytest.param(
                "districts.yaml",
                lambda d: _district(d, 1)["policy"].update(graph="fastest"),
                ["entry districts[1] (370811)", "no graph 'fastest'"],
                id="unknown-graph",
            ),
            pytest.param(
                "districts.yaml",
                lambda d: d["graphs"]["standard"].insert(1, {"step": "notarise"}),
                ["graphs.standard", "undeclared step 'notarise'"],
                id="graph-with-an-undeclared-step",
            ),
            pytest.param(
                "districts.yaml",
                lambda d: d["graphs"]["standard"][2].update(needs=["registration"]),
                ["graphs.standard", "bank_account", "seal_impressions"],
                id="graph-whose-step-lacks-what-its-request-uses",
            ),
            pytest.param(
                "materials.yaml",
                lambda d: d["materials"][7].update(carries=["staff"]),
                ["entry materials[7] (housing_fund_authorisation)", "'staff'", "staff_roster"],
                id="field-carried-by-two-materials",
            ),
            pytest.param(
                "materials.yaml",
                lambda d: d["materials"][2].update(carries=["legal_representative"]),
                ["entry materials[2] (identity_documents)", "may_be_supplemented"],
                id="essential-material-carries-fields",
            ),
            pytest.param(
                "districts.yaml",
                lambda d: _district(d, 2)["policy"].update(account_banks_any_branch=["BOC"]),
                ["entry districts[2] (370826)", "account_banks_any_branch", "BOC"],
                id="account-bank-not-a-partner",
            ),
            pytest.param(
                "banks.yaml",
                lambda d: d["banks"][0].update(cnaps_code="1030"),
                ["entry banks[0] (ABC)", "cnaps_code"],
                id="malformed-cnaps-code",
            ),
            pytest.param(
                "banks.yaml",
                lambda d: d["banks"][3]["account_number"].update(prefix="123456789012"),
                ["entry banks[3] (BOC)", "account_number", "prefix"],
                id="prefix-longer-than-number",
            ),
            pytest.param(
                "prohibited_words.yaml",
                lambda d: d["words"][0].update(allowed_within=["中华"]),
                ["entry words[0] (中国)", "must contain '中国'"],
                id="allowed-within-without-the-word",
            ),
            pytest.param(
                "prohibited_words.yaml",
                lambda d: d["categories"].pop("misleading"),
                ["entry words[", "(国营)", "no reason"],
                id="category-without-reason",
            ),
            pytest.param(
                "enterprise_types.yaml",
                lambda d: d["enterprise_types"].pop(1),
                ["enterprise_types: no entry for 'one_person_llc'"],
                id="enterprise-type-missing",
            ),
            pytest.param(
                "enterprise_types.yaml",
                lambda d: d["enterprise_types"][0].update(min_shareholders=60),
                ["entry enterprise_types[0] (llc)", "min_shareholders exceeds"],
                id="shareholder-bounds-reversed",
            ),
            pytest.param(
                "banks.yaml",
                lambda d: d.pop("version"),
                ["version", "required"],
                id="unversioned-file",
            ),
        ],
    )
    def test_names_the_file_and_the_entry(
        self, tmp_path: Path, file: str, mutation: Mutation, fragments: list[str]
    ) -> None:
        directory = _copy_data(tmp_path)
        _mutate(directory, file, mutation)
        with pytest.raises(ReferenceDataError) as raised:
            read_reference(directory)
        assert raised.value.file == file
        message = str(raised.value)
        assert file in message
        for fragment in fragments:
            assert fragment in message

    def test_refuses_a_missing_file(self, tmp_path: Path) -> None:
        directory = _copy_data(tmp_path)
        (directory / "banks.yaml").unlink()
        with pytest.raises(ReferenceDataError, match=r"banks\.yaml.*\n.*cannot be read"):
            read_reference(directory)

    def test_refuses_a_file_that_is_not_yaml(self, tmp_path: Path) -> None:
        directory = _copy_data(tmp_path)
        (directory / "materials.yaml").write_text("materials: [unclosed\n", encoding="utf-8")
        with pytest.raises(ReferenceDataError, match=r"materials\.yaml.*\n.*not valid YAML"):
            read_reference(directory)

    def test_refuses_a_file_that_is_not_a_mapping(self, tmp_path: Path) -> None:
        directory = _copy_data(tmp_path)
        (directory / "banks.yaml").write_text("- ABC\n- CCB\n", encoding="utf-8")
        with pytest.raises(ReferenceDataError, match=r"banks\.yaml.*\n.*must be a mapping"):
            read_reference(directory)

    def test_refuses_a_key_repeated_in_one_mapping(self, tmp_path: Path) -> None:
        # PyYAML would keep the second 01 silently and lose a division.
        directory = _copy_data(tmp_path)
        path = directory / "industries.yaml"
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace('"02": 林业', '"01": 林业'), encoding="utf-8")
        with pytest.raises(ReferenceDataError, match=r"industries\.yaml(.|\n)*duplicate key '01'"):
            read_reference(directory)
