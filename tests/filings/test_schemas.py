"""FilingInput: what a clerk may enter, and the reason, per field and in two languages, when not."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from integrations.codes import gb11643_check_char, gb32100_check_char
from integrations.registration_form import MAX_REGISTERED_CAPITAL_FEN
from orchestrator.clock import CHINA
from orchestrator.filings.acceptance import AcceptedFiling, accept, application_of, supplemented
from orchestrator.filings.fields import CreditCode, Mobile, ResidentId
from orchestrator.filings.materials import assess_material_codes, assess_materials
from orchestrator.filings.messages import ERROR_MESSAGES
from orchestrator.filings.schemas import (
    MAX_LISTED_CODES,
    MAX_PEOPLE,
    MAX_SCOPE_ITEMS,
    BranchPickup,
    FilingInput,
)
from orchestrator.reference import load_reference
from orchestrator.validation import FieldError, field_errors, field_errors_from_dicts
from tests.factories import (
    ALL_MATERIALS,
    ESSENTIAL_MATERIALS,
    FILING_DATE,
    FULL_WIDTH,
    credit_code,
    filing_input,
    filing_input_for,
    resident_id,
)

_HAN = re.compile(r"[\u4e00-\u9fff]")


def valid(payload: dict[str, Any], **context: Any) -> FilingInput:
    return FilingInput.model_validate(payload, context=context or None)


def errors_of(payload: dict[str, Any], **context: Any) -> list[FieldError]:
    with pytest.raises(ValidationError) as raised:
        FilingInput.model_validate(payload, context=context or None)
    return field_errors(raised.value)


def refused(payload: dict[str, Any], field: str, code: str, **context: Any) -> FieldError:
    """The error on `field` with `code`, after checking it speaks both languages."""
    return _one_of(errors_of(payload, **context), field, code)


def accepted(
    payload: dict[str, Any], *, on: date = FILING_DATE, branch_bank: str = "ABC"
) -> AcceptedFiling:
    """The filing as a branch of `branch_bank` accepts it on `on`, in office hours."""
    return accept(valid(payload), accepted_at=in_office_hours(on), branch_bank=branch_bank)


def in_office_hours(on: date) -> datetime:
    return datetime.combine(on, time(10), tzinfo=CHINA)


def refused_on_acceptance(
    payload: dict[str, Any],
    field: str,
    code: str,
    *,
    on: date = FILING_DATE,
    branch_bank: str = "ABC",
) -> FieldError:
    """The error on `field` with `code` when a valid filing is accepted on `on`."""
    with pytest.raises(ValidationError) as raised:
        accepted(payload, on=on, branch_bank=branch_bank)
    return _one_of(field_errors(raised.value), field, code)


def _one_of(errors: list[FieldError], field: str, code: str) -> FieldError:
    matching = [e for e in errors if e.field == field and e.code == code]
    assert matching, f"no {code} on {field}; got {[(e.field, e.code) for e in errors]}"
    error = matching[0]
    assert _HAN.search(error.message_zh), error.message_zh
    assert error.message_en and not _HAN.fullmatch(error.message_en)
    assert error.message_en != error.message_zh
    assert "{" not in error.message_zh + error.message_en, "unfilled placeholder"
    return error


def born_years_before(years: int, *, days: int = 0, on: date = FILING_DATE) -> date:
    """The birth date of someone who turns `years` old `days` days after `on`."""
    return on.replace(year=on.year - years) + timedelta(days=days)


class TestFactory:
    def test_the_default_payload_is_a_valid_filing(self) -> None:
        filing = valid(filing_input())
        assert filing.company_name.full == "寿光市禾丰农业科技有限公司"
        assert filing.district_code == "370783"

    def test_the_payload_is_plain_json(self) -> None:
        assert json.loads(json.dumps(filing_input(), ensure_ascii=False)) == filing_input()

    @pytest.mark.parametrize("code", ["370811", "370826", "430181", "330205", "330282", "330225"])
    def test_the_filing_moves_to_every_district(self, code: str) -> None:
        assert valid(filing_input_for(code)).district_code == code

    def test_nested_overrides_reach_into_objects_and_lists(self) -> None:
        payload = filing_input(shareholders__1__name="赵敏", company_name__trade_name="瑞泽")
        assert payload["shareholders"][1]["name"] == "赵敏"
        assert payload["company_name"]["trade_name"] == "瑞泽"

    def test_a_validated_filing_survives_a_json_round_trip(self) -> None:
        filing = valid(filing_input())
        assert FilingInput.model_validate_json(filing.model_dump_json()) == filing

    def test_the_factory_makes_valid_credit_codes(self) -> None:
        assert TypeAdapter(CreditCode).validate_python(credit_code(42)) == credit_code(42)


class TestDistrict:
    @pytest.mark.parametrize("code", ["110101", "999999", "3707", "abcdef", ""])
    def test_rejects_a_district_onestop_does_not_serve(self, code: str) -> None:
        refused(filing_input(district_code=code), "district_code", "district_unknown")

    def test_rejects_a_district_given_as_a_number(self) -> None:
        refused(filing_input(district_code=370783), "district_code", "string_type")


class TestIndustry:
    @pytest.mark.parametrize("code", ["75", "751", "7511", "0111"])
    def test_accepts_a_division_or_a_finer_code(self, code: str) -> None:
        assert valid(filing_input(industry_code=code)).industry_code == code

    @pytest.mark.parametrize("code", ["98", "9911", "00"])
    def test_rejects_a_code_of_no_division(self, code: str) -> None:
        error = refused(filing_input(industry_code=code), "industry_code", "industry_unknown")
        assert code in error.message_zh and code in error.message_en

    @pytest.mark.parametrize("code", ["7", "75111", "7a", "M75", ""])
    def test_rejects_a_malformed_code(self, code: str) -> None:
        refused(filing_input(industry_code=code), "industry_code", "industry_code_format")

    @pytest.mark.parametrize("code", ["9211", "91", "97"])
    def test_rejects_public_bodies_and_international_organisations(self, code: str) -> None:
        refused(filing_input(industry_code=code), "industry_code", "industry_not_for_enterprises")


class TestCompanyName:
    def test_the_full_name_joins_its_four_parts(self) -> None:
        name = valid(filing_input()).company_name
        assert (name.region, name.trade_name, name.industry_term, name.organisation_form) == (
            "寿光市",
            "禾丰",
            "农业科技",
            "有限公司",
        )
        assert str(name) == name.full == "寿光市禾丰农业科技有限公司"

    @pytest.mark.parametrize("word", ["中国", "中华", "全国", "国家", "国际"])
    def test_rejects_national_words_without_approval(self, word: str) -> None:
        payload = filing_input(company_name__trade_name=f"禾丰{word}")
        error = refused(payload, "company_name.trade_name", "prohibited_word")
        assert word in error.message_zh and "国务院" in error.message_zh
        assert "State Council" in error.message_en

    @pytest.mark.parametrize(
        ("trade_name", "word"),
        [
            ("解放军", "解放军"),
            ("国务院", "国务院"),
            ("美国", "美国"),
            ("日本", "日本"),
            ("赌博", "赌博"),
            ("禾丰国营", "国营"),
        ],
    )
    def test_rejects_state_bodies_foreign_countries_and_misleading_words(
        self, trade_name: str, word: str
    ) -> None:
        payload = filing_input(company_name__trade_name=trade_name)
        error = refused(payload, "company_name.trade_name", "prohibited_word")
        assert word in error.message_zh

    def test_rejects_a_prohibited_word_in_the_industry_term(self) -> None:
        payload = filing_input(company_name__industry_term="国际贸易")
        refused(payload, "company_name.industry_term", "prohibited_word")

    def test_rejects_a_prohibited_word_across_trade_name_and_industry_term(self) -> None:
        payload = filing_input(
            company_name__trade_name="禾中", company_name__industry_term="国科技"
        )
        refused(payload, "company_name", "prohibited_word")

    @pytest.mark.parametrize(
        ("trade_name", "industry_term"),
        [("禾丰", "中央空调工程"), ("精英", "国贸物流"), ("禾丰", "荷兰豆种植")],
    )
    def test_accepts_a_harmless_word_that_contains_a_refused_one(
        self, trade_name: str, industry_term: str
    ) -> None:
        payload = filing_input(
            company_name__trade_name=trade_name, company_name__industry_term=industry_term
        )
        assert valid(payload).company_name.industry_term == industry_term

    @pytest.mark.parametrize("trade_name", ["禾", "HF", "禾丰1", "禾 丰", "Hé丰"])
    def test_rejects_a_trade_name_that_is_not_two_or_more_chinese_characters(
        self, trade_name: str
    ) -> None:
        payload = filing_input(company_name__trade_name=trade_name)
        refused(payload, "company_name.trade_name", "trade_name_invalid")

    def test_rejects_a_trade_name_that_is_the_district(self) -> None:
        payload = filing_input(company_name__trade_name="寿光")
        refused(payload, "company_name.trade_name", "trade_name_is_region")

    @pytest.mark.parametrize("term", ["科", "IT", "农业2"])
    def test_rejects_an_industry_term_that_is_not_chinese(self, term: str) -> None:
        payload = filing_input(company_name__industry_term=term)
        refused(payload, "company_name.industry_term", "industry_term_invalid")

    @pytest.mark.parametrize("region", ["寿光市", "寿光", "潍坊市", "潍坊", "山东省", "山东"])
    def test_accepts_the_district_its_city_or_its_province_first(self, region: str) -> None:
        assert valid(filing_input(company_name__region=region)).company_name.region == region

    @pytest.mark.parametrize("region", ["北京市", "济宁市", "任城区", "Shouguang"])
    def test_rejects_an_administrative_division_of_elsewhere(self, region: str) -> None:
        payload = filing_input(company_name__region=region)
        error = refused(payload, "company_name.region", "region_not_of_district")
        assert "寿光市" in error.message_zh

    def test_a_city_district_must_be_preceded_by_its_city(self) -> None:
        payload = filing_input_for("370811", company_name__region="任城区")
        error = refused(payload, "company_name.region", "region_needs_city")
        assert "济宁市任城区" in error.message_zh and "济宁市任城区" in error.message_en
        accepted = filing_input_for("370811", company_name__region="济宁市任城区")
        assert valid(accepted).company_name.full == "济宁市任城区禾丰农业科技有限公司"

    @pytest.mark.parametrize("form", ["有限公司", "有限责任公司"])
    def test_accepts_the_llc_organisation_forms(self, form: str) -> None:
        payload = filing_input(company_name__organisation_form=form)
        assert valid(payload).company_name.full.endswith(form)

    def test_refuses_a_joint_stock_company(self) -> None:
        payload = filing_input(company_name__organisation_form="股份有限公司")
        error = refused(payload, "company_name.organisation_form", "organisation_form_not_offered")
        assert "股份有限公司" in error.message_zh

    @pytest.mark.parametrize("form", ["集团", "公司", "合伙企业", "Ltd."])
    def test_rejects_an_unknown_organisation_form(self, form: str) -> None:
        payload = filing_input(company_name__organisation_form=form)
        error = refused(payload, "company_name.organisation_form", "organisation_form_unknown")
        assert "有限公司" in error.message_zh

    @pytest.mark.parametrize("part", ["region", "trade_name", "industry_term", "organisation_form"])
    def test_every_part_is_required(self, part: str) -> None:
        payload = filing_input()
        del payload["company_name"][part]
        refused(payload, f"company_name.{part}", "missing")

    def test_a_plain_string_is_not_a_structured_name(self) -> None:
        refused(
            filing_input(company_name="寿光市禾丰农业科技有限公司"), "company_name", "model_type"
        )


class TestEnterpriseType:
    def test_rejects_an_unknown_type(self) -> None:
        error = refused(
            filing_input(enterprise_type="partnership"), "enterprise_type", "literal_error"
        )
        assert "one_person_llc" in error.message_en

    def test_a_one_person_llc_has_exactly_one_shareholder(self) -> None:
        payload = filing_input(enterprise_type="one_person_llc")
        refused(payload, "shareholders", "too_many_shareholders")
        single = filing_input(enterprise_type="one_person_llc")
        single["shareholders"] = [dict(single["shareholders"][0], share_percent=100)]
        assert len(valid(single).shareholders) == 1

    def test_an_llc_with_one_shareholder_is_pointed_to_the_one_person_type(self) -> None:
        payload = filing_input()
        payload["shareholders"] = [dict(payload["shareholders"][0], share_percent=100)]
        error = refused(payload, "shareholders", "too_few_shareholders")
        assert "一人有限责任公司" in error.message_zh and "one_person_llc" in error.message_en

    def test_an_llc_has_at_most_fifty_shareholders(self) -> None:
        payload = filing_input()
        payload["shareholders"] = [
            {
                "name": f"股东{i}",
                "id_number": resident_id(date(1980, 1, 1), sequence=i),
                "mobile": f"139{i:08d}",
                "share_percent": 2,
            }
            for i in range(51)
        ]
        refused(payload, "shareholders", "too_many_shareholders")


class TestRegisteredCapital:
    @pytest.mark.parametrize("capital", [0, -100])
    def test_must_be_positive(self, capital: int) -> None:
        refused(
            filing_input(registered_capital_fen=capital), "registered_capital_fen", "greater_than"
        )

    def test_is_whole_fen(self) -> None:
        refused(
            filing_input(registered_capital_fen=100.5), "registered_capital_fen", "int_from_float"
        )

    def test_is_a_number(self) -> None:
        refused(
            filing_input(registered_capital_fen="一百万"), "registered_capital_fen", "int_parsing"
        )

    def test_is_required(self) -> None:
        payload = filing_input()
        del payload["registered_capital_fen"]
        refused(payload, "registered_capital_fen", "missing")


class TestBusinessScope:
    def test_needs_at_least_one_item(self) -> None:
        refused(filing_input(business_scope=[]), "business_scope", "too_short")

    def test_rejects_a_blank_item(self) -> None:
        payload = filing_input(business_scope=["蔬菜种植", "  "])
        refused(payload, "business_scope.1", "string_too_short")

    def test_trims_and_drops_repeated_items(self) -> None:
        payload = filing_input(business_scope=[" 蔬菜种植 ", "蔬菜种植", "花卉种植"])
        assert valid(payload).business_scope == ("蔬菜种植", "花卉种植")


class TestAddress:
    def test_is_required(self) -> None:
        refused(filing_input(address=" "), "address", "string_too_short")

    def test_must_be_in_the_district(self) -> None:
        error = refused(
            filing_input(address="山东省潍坊市奎文区胜利东街1号"),
            "address",
            "address_not_in_district",
        )
        assert "寿光市" in error.message_zh and "Shouguang" in error.message_en

    def test_may_name_the_district_by_its_short_name(self) -> None:
        assert valid(filing_input(address="山东寿光圣城街道1号")).address == "山东寿光圣城街道1号"


class TestUnprintableText:
    """A name, address or scope item with a control character could never reach a SOAP
    agency (XML cannot carry it): its step would retry for ever. It is refused at intake."""

    FIELDS = (
        "legal_representative__name",
        "address",
        "company_name__trade_name",
        "business_scope__0",
        "delivery__recipient",
    )

    @pytest.mark.parametrize("field", FIELDS)
    @given(char=st.sampled_from(["\x00", "\t", "\n", "\x1b", "\x7f", "\x85", "\ud800", "\uffff"]))
    def test_is_refused_naming_the_field(self, field: str, char: str) -> None:
        payload = filing_input()
        value = payload
        for part in field.split("__"):
            value = value[int(part)] if isinstance(value, list) else value[part]
        error = refused(
            filing_input(**{field: value[:1] + char + value[1:]}),
            field.replace("__", "."),
            "text_unprintable",
        )
        assert "第2个字符" in error.message_zh and "character 2" in error.message_en

    def test_a_full_width_space_and_rare_characters_are_typed_text(self) -> None:
        # U+3000 is what a Chinese keyboard types as a space; U+31350 (CJK Extension H) may
        # be unassigned in this Python's tables, and is still a character of a real name.
        assert valid(
            filing_input(legal_representative__name="王\u3000\U00031350")
        ).legal_representative.name


class TestResidentId:
    @pytest.mark.parametrize(
        "field", ["legal_representative", "shareholders.1", "staff.0", "finance_officer"]
    )
    def test_rejects_a_wrong_check_character_wherever_a_person_appears(self, field: str) -> None:
        good = resident_id(date(1985, 3, 14))
        wrong = good[:17] + ("0" if good[17] != "0" else "1")
        payload = filing_input(**{field.replace(".", "__") + "__id_number": wrong})
        error = refused(payload, f"{field}.id_number", "id_number_check_char")
        assert "GB 11643" in error.message_zh and "GB 11643" in error.message_en

    @pytest.mark.parametrize(
        "number",
        ["37078319850314131", "3707831985031413100", "37078319850314131Y", "3707831985O3141311"],
    )
    def test_rejects_a_malformed_number(self, number: str) -> None:
        payload = filing_input(legal_representative__id_number=number)
        refused(payload, "legal_representative.id_number", "id_number_format")

    @pytest.mark.parametrize("birth", ["19850230", "19851301", "18991231", "19850000"])
    def test_rejects_a_birth_date_that_does_not_exist(self, birth: str) -> None:
        body = f"370783{birth}131"
        payload = filing_input(legal_representative__id_number=body + gb11643_check_char(body))
        error = refused(payload, "legal_representative.id_number", "id_number_birth_date")
        assert birth in error.message_zh

    def test_accepts_a_lower_case_x_and_stores_it_upper_case(self) -> None:
        sequence = next(
            s for s in range(1000) if resident_id(date(1985, 3, 14), sequence=s).endswith("X")
        )
        number = resident_id(date(1985, 3, 14), sequence=sequence)
        payload = filing_input(legal_representative__id_number=number.lower())
        assert valid(payload).legal_representative.id_number == number


_ID_BODIES = st.builds(
    lambda region, birth, sequence: f"{region:06d}{birth:%Y%m%d}{sequence:03d}",
    st.integers(min_value=110000, max_value=829999),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)),
    st.integers(min_value=0, max_value=999),
)


class TestResidentIdCheckCharacter:
    @given(body=_ID_BODIES)
    def test_any_valid_body_with_its_computed_check_character_is_accepted(self, body: str) -> None:
        number = body + gb11643_check_char(body)
        assert TypeAdapter(ResidentId).validate_python(number) == number

    @given(body=_ID_BODIES, check=st.sampled_from("0123456789X"))
    def test_any_other_check_character_is_refused(self, body: str, check: str) -> None:
        if check == gb11643_check_char(body):
            return
        with pytest.raises(ValidationError) as raised:
            TypeAdapter(ResidentId).validate_python(body + check)
        assert [e.code for e in field_errors(raised.value)] == ["id_number_check_char"]


class TestAge:
    """Ages are taken on the filing date, which the server stamps when it accepts a filing."""

    def test_refuses_a_legal_representative_one_day_short_of_eighteen(self) -> None:
        number = resident_id(born_years_before(18, days=1))
        error = refused_on_acceptance(
            filing_input(legal_representative__id_number=number),
            "legal_representative.id_number",
            "minor",
        )
        assert "18" in error.message_zh and "17" in error.message_en

    def test_accepts_a_legal_representative_on_the_eighteenth_birthday(self) -> None:
        number = resident_id(born_years_before(18))
        assert accepted(filing_input(legal_representative__id_number=number))

    def test_someone_born_on_29_february_comes_of_age_on_1_march(self) -> None:
        payload = filing_input(legal_representative__id_number=resident_id(date(2004, 2, 29)))
        on_28th = date(2022, 2, 28)
        refused_on_acceptance(payload, "legal_representative.id_number", "minor", on=on_28th)
        assert accepted(payload, on=date(2022, 3, 1))

    def test_age_is_taken_on_the_filing_date(self) -> None:
        payload = filing_input(legal_representative__id_number=resident_id(date(2007, 9, 1)))
        refused_on_acceptance(payload, "legal_representative.id_number", "minor")
        assert accepted(payload, on=date(2025, 9, 1)).filing_date == date(2025, 9, 1)

    def test_refuses_a_minor_shareholder(self) -> None:
        payload = filing_input(shareholders__1__id_number=resident_id(date(2010, 5, 5)))
        error = refused_on_acceptance(payload, "shareholders.1.id_number", "minor")
        assert "股东" in error.message_zh and "shareholder" in error.message_en

    def test_refuses_a_minor_finance_officer(self) -> None:
        payload = filing_input(finance_officer__id_number=resident_id(date(2010, 5, 5)))
        refused_on_acceptance(payload, "finance_officer.id_number", "minor")

    def test_refuses_a_birth_date_after_the_filing_date(self) -> None:
        number = resident_id(FILING_DATE + timedelta(days=1))
        refused_on_acceptance(
            filing_input(legal_representative__id_number=number),
            "legal_representative.id_number",
            "birth_after_filing",
        )

    def test_refuses_staff_under_sixteen(self) -> None:
        payload = filing_input(staff__1__id_number=resident_id(born_years_before(16, days=1)))
        refused_on_acceptance(payload, "staff.1.id_number", "staff_underage")

    def test_accepts_staff_of_sixteen(self) -> None:
        payload = filing_input(staff__1__id_number=resident_id(born_years_before(16)))
        assert accepted(payload)

    def test_reports_every_person_under_age_together(self) -> None:
        payload = filing_input(
            shareholders__1__id_number=resident_id(date(2010, 5, 5)),
            staff__0__id_number=resident_id(date(2012, 1, 9)),
        )
        with pytest.raises(ValidationError) as raised:
            accepted(payload)
        assert {(e.field, e.code) for e in field_errors(raised.value)} == {
            ("shareholders.1.id_number", "minor"),
            ("staff.0.id_number", "staff_underage"),
        }

    def test_a_stored_filing_is_held_to_its_own_filing_date(self) -> None:
        stored = accepted(filing_input()).model_dump(mode="json")
        stored["legal_representative"]["id_number"] = resident_id(date(2010, 1, 1))
        with pytest.raises(ValidationError) as raised:
            AcceptedFiling.model_validate(stored)
        assert [(e.field, e.code) for e in field_errors(raised.value)] == [
            ("legal_representative.id_number", "minor")
        ]


class TestMobile:
    @pytest.mark.parametrize(
        "mobile", ["12805361234", "1380536123", "138053612345", "1380536123a", "+8613805361234", ""]
    )
    @pytest.mark.parametrize(
        "field", ["legal_representative.mobile", "shareholders.0.mobile", "delivery.mobile"]
    )
    def test_rejects_a_number_that_is_not_a_mainland_mobile(self, field: str, mobile: str) -> None:
        payload = filing_input(**{field.replace(".", "__"): mobile})
        refused(payload, field, "mobile_format")

    @pytest.mark.parametrize("mobile", ["13000000000", "19999999999", " 15965432108 "])
    def test_accepts_mainland_mobiles(self, mobile: str) -> None:
        assert valid(filing_input(legal_representative__mobile=mobile))


class TestShareholders:
    @pytest.mark.parametrize(("first", "second"), [(60, 30), (60, 50), (99.9, 0.05)])
    def test_shares_must_add_up_to_100(self, first: float, second: float) -> None:
        payload = filing_input(
            shareholders__0__share_percent=first, shareholders__1__share_percent=second
        )
        error = refused(payload, "shareholders", "shares_total")
        assert f"{first + second:.2f}" in error.message_en

    @pytest.mark.parametrize(("first", "second"), [(33.33, 66.67), (66.665, 33.33), (60.005, 40)])
    def test_shares_may_be_off_by_a_hundredth(self, first: float, second: float) -> None:
        payload = filing_input(
            shareholders__0__share_percent=first, shareholders__1__share_percent=second
        )
        assert valid(payload)

    @pytest.mark.parametrize("share", [0, -10])
    def test_each_share_is_positive(self, share: float) -> None:
        payload = filing_input(shareholders__1__share_percent=share)
        refused(payload, "shareholders.1.share_percent", "greater_than")

    def test_needs_a_shareholder(self) -> None:
        refused(filing_input(shareholders=[]), "shareholders", "too_short")

    def test_rejects_the_same_person_twice(self) -> None:
        payload = filing_input()
        payload["shareholders"][1]["id_number"] = payload["shareholders"][0]["id_number"]
        refused(payload, "shareholders.1.id_number", "duplicate_person")

    def test_rejects_a_shareholder_without_a_mobile(self) -> None:
        payload = filing_input()
        del payload["shareholders"][0]["mobile"]
        refused(payload, "shareholders.0.mobile", "missing")


class TestSeals:
    def test_the_official_seal_is_required(self) -> None:
        error = refused(
            filing_input(seals=["finance", "invoice"]), "seals", "official_seal_required"
        )
        assert "公章" in error.message_zh

    def test_at_least_one_seal(self) -> None:
        refused(filing_input(seals=[]), "seals", "too_short")

    def test_rejects_an_unknown_seal_kind(self) -> None:
        refused(filing_input(seals=["official", "contract"]), "seals.1", "literal_error")

    def test_keeps_each_kind_once_in_canonical_order(self) -> None:
        payload = filing_input(seals=["legal_representative", "official", "official"])
        assert valid(payload).seals == ("official", "legal_representative")


class TestBank:
    def test_rejects_an_unknown_bank(self) -> None:
        refused(filing_input(bank_code="HSBC"), "bank_code", "bank_unknown")

    def test_rejects_a_bank_that_is_not_a_partner_of_the_district(self) -> None:
        payload = filing_input_for("370826", bank_code="BOC")
        error = refused(payload, "bank_code", "bank_not_partner")
        assert "微山县" in error.message_zh and "ABC" in error.message_en

    def test_accepts_the_local_rural_commercial_bank_where_it_partners(self) -> None:
        assert valid(filing_input(bank_code="SGRCB")).bank_code == "SGRCB"

    @pytest.mark.parametrize("branch", ["", "寿光支行", "A" * 33, "103 458"])
    def test_rejects_a_malformed_branch_code(self, branch: str) -> None:
        refused(filing_input(branch_code=branch), "branch_code", "branch_code_format")


class TestTaxpayerType:
    @pytest.mark.parametrize("kind", ["small_scale", "general"])
    def test_accepts_the_two_types(self, kind: str) -> None:
        assert valid(filing_input(taxpayer_type=kind)).taxpayer_type == kind

    def test_rejects_another(self) -> None:
        refused(filing_input(taxpayer_type="individual"), "taxpayer_type", "literal_error")


class TestStaff:
    def test_may_be_empty(self) -> None:
        assert valid(filing_input(staff=[])).staff == ()

    def test_rejects_the_same_person_twice(self) -> None:
        payload = filing_input()
        payload["staff"][1]["id_number"] = payload["staff"][0]["id_number"]
        refused(payload, "staff.1.id_number", "duplicate_person")

    def test_each_needs_a_name(self) -> None:
        refused(filing_input(staff__0__name=""), "staff.0.name", "string_too_short")


class TestHousingFundRate:
    @pytest.mark.parametrize("rate", [5, 7.5, 12])
    def test_accepts_five_to_twelve_percent(self, rate: float) -> None:
        assert valid(filing_input(housing_fund_rate_percent=rate)).housing_fund_rate_percent == rate

    def test_rejects_less_than_five(self) -> None:
        error = refused(
            filing_input(housing_fund_rate_percent=4.9),
            "housing_fund_rate_percent",
            "greater_than_equal",
        )
        assert "5" in error.message_zh and "5" in error.message_en

    def test_rejects_more_than_twelve(self) -> None:
        refused(
            filing_input(housing_fund_rate_percent=12.5),
            "housing_fund_rate_percent",
            "less_than_equal",
        )


class TestDelivery:
    def test_accepts_branch_pickup_alone(self) -> None:
        filing = valid(filing_input(delivery={"method": "branch_pickup"}))
        assert isinstance(filing.delivery, BranchPickup)

    @pytest.mark.parametrize("missing", ["recipient", "mobile", "address"])
    def test_a_courier_needs_recipient_mobile_and_address(self, missing: str) -> None:
        payload = filing_input()
        del payload["delivery"][missing]
        # The union's tag (courier) is left out of the path: the form knows delivery.mobile.
        refused(payload, f"delivery.{missing}", "missing")

    def test_rejects_an_unknown_method(self) -> None:
        error = refused(filing_input(delivery={"method": "drone"}), "delivery", "union_tag_invalid")
        assert "courier" in error.message_en

    def test_rejects_a_delivery_without_method(self) -> None:
        refused(filing_input(delivery={"recipient": "王建国"}), "delivery", "union_tag_not_found")

    def test_branch_pickup_takes_no_address(self) -> None:
        payload = filing_input(delivery={"method": "branch_pickup", "address": "寿光市"})
        refused(payload, "delivery.address", "extra_forbidden")


class TestMaterials:
    def test_refuses_a_filing_without_its_essential_materials_naming_them(self) -> None:
        payload = filing_input(materials=["articles_of_association", "identity_documents"])
        error = refused(payload, "materials", "essential_material_missing")
        assert "住所使用证明" in error.message_zh and "授权委托书" in error.message_zh
        assert "Proof of address" in error.message_en
        assert "Articles of association" not in error.message_en

    def test_refuses_a_filing_that_lists_no_materials_at_all(self) -> None:
        payload = filing_input()
        del payload["materials"]
        error = refused(payload, "materials", "essential_material_missing")
        assert "公司章程" in error.message_zh and "Articles of association" in error.message_en

    def test_rejects_an_unknown_material(self) -> None:
        payload = filing_input(materials=[*ALL_MATERIALS, "birth_certificate"])
        refused(payload, f"materials.{len(ALL_MATERIALS)}", "material_unknown")

    def test_reports_unknown_and_missing_materials_together(self) -> None:
        errors = errors_of(filing_input(materials=["birth_certificate"]))
        assert {(e.field, e.code) for e in errors} == {
            ("materials.0", "material_unknown"),
            ("materials", "essential_material_missing"),
        }

    def test_the_generated_application_need_not_be_listed(self) -> None:
        assert valid(filing_input(materials=list(ESSENTIAL_MATERIALS)))

    def test_lists_each_material_once(self) -> None:
        payload = filing_input(materials=[*ESSENTIAL_MATERIALS, *ESSENTIAL_MATERIALS])
        assert valid(payload).materials == ESSENTIAL_MATERIALS

    def test_nothing_to_supplement_when_everything_is_provided(self) -> None:
        assessment = assess_materials(valid(filing_input()), load_reference())
        assert assessment.acceptable
        assert assessment.to_supplement == ()
        assert assessment.blocked_steps == frozenset()

    def test_missing_non_essential_materials_are_accepted_for_supplement(self) -> None:
        filing = valid(filing_input(materials=list(ESSENTIAL_MATERIALS)))
        assessment = assess_materials(filing, load_reference())
        assert assessment.acceptable
        assert [
            (item.code, item.blocks, item.deadline_working_days)
            for item in assessment.to_supplement
        ] == [
            ("finance_tax_agents", ("tax",), 5),
            ("staff_roster", ("social_insurance", "medical_insurance"), 5),
            ("housing_fund_authorisation", ("housing_fund",), 5),
        ]
        assert all(item.name_zh and item.name_en for item in assessment.to_supplement)

    def test_a_missing_roster_blocks_only_the_insurance_steps(self) -> None:
        materials = [m for m in ALL_MATERIALS if m != "staff_roster"]
        assessment = assess_materials(valid(filing_input(materials=materials)), load_reference())
        assert assessment.blocked_steps == {"social_insurance", "medical_insurance"}

    def test_the_assessment_names_missing_essentials_for_the_refusal(self) -> None:
        assessment = assess_material_codes(["articles_of_association"], load_reference())
        assert not assessment.acceptable
        assert [m.code for m in assessment.missing_essential] == [
            "identity_documents",
            "proof_of_address",
            "branch_mandate",
        ]


class TestReferenceFromContext:
    def test_validation_uses_the_reference_given_in_the_context(self) -> None:
        shipped = load_reference()
        shouguang = shipped.districts["370783"]
        policy = shouguang.policy.model_copy(update={"partner_banks": ("SGRCB",)})
        narrowed = shipped.model_copy(
            update={
                "districts": shipped.districts
                | {"370783": shouguang.model_copy(update={"policy": policy})}
            }
        )
        refused(filing_input(), "bank_code", "bank_not_partner", reference=narrowed)
        assert valid(filing_input(bank_code="SGRCB"), reference=narrowed)


class TestCreditCode:
    def test_accepts_a_code_with_its_check_character(self) -> None:
        body = "91370783MA3C12345"
        code = body + gb32100_check_char(body)
        assert TypeAdapter(CreditCode).validate_python(code.lower()) == code

    def test_rejects_a_wrong_check_character(self) -> None:
        code = credit_code(7)
        wrong = code[:17] + ("1" if code[17] != "1" else "2")
        with pytest.raises(ValidationError) as raised:
            TypeAdapter(CreditCode).validate_python(wrong)
        (error,) = field_errors(raised.value)
        assert error.code == "credit_code_check_char" and "GB 32100" in error.message_en

    @pytest.mark.parametrize(
        "code", ["91370783MA3C1234", "91370783MA3C12345IX", "91370783MA3CI2345X"]
    )
    def test_rejects_a_malformed_code(self, code: str) -> None:
        with pytest.raises(ValidationError) as raised:
            TypeAdapter(CreditCode).validate_python(code)
        assert [e.code for e in field_errors(raised.value)] == ["credit_code_format"]


# Decimal digits of other scripts that NFKC leaves as they are (Arabic-Indic ٣, Devanagari ३).
_FOREIGN_DIGITS = st.characters(categories=["Nd"]).filter(
    lambda char: not unicodedata.normalize("NFKC", char).isascii()
)


def outcome(adapter: TypeAdapter[str], value: str) -> tuple[str, ...]:
    """What validating `value` gives: ("ok", the value) or ("refused", error codes...)."""
    try:
        return ("ok", adapter.validate_python(value))
    except ValidationError as exc:
        return ("refused", *(e.code for e in field_errors(exc)))


class TestNormalisation:
    """Codes and numbers are NFKC-normalised and then take the digits 0-9 only; names and
    free text are NFC only. Values are stored normalised."""

    def test_a_resident_id_in_full_width_digits_is_stored_in_ascii(self) -> None:
        number = resident_id(date(1985, 3, 14), sequence=131)
        payload = filing_input(legal_representative__id_number=number.translate(FULL_WIDTH))
        assert valid(payload).legal_representative.id_number == number

    def test_a_full_width_lower_case_x_is_stored_as_x(self) -> None:
        sequence = next(
            s for s in range(1000) if resident_id(date(1985, 3, 14), sequence=s).endswith("X")
        )
        number = resident_id(date(1985, 3, 14), sequence=sequence)
        typed = number.lower().translate(FULL_WIDTH)
        assert typed.endswith("ｘ")
        assert TypeAdapter(ResidentId).validate_python(typed) == number

    @pytest.mark.parametrize(
        "field", ["legal_representative.mobile", "shareholders.1.mobile", "delivery.mobile"]
    )
    def test_a_mobile_in_full_width_digits_is_stored_in_ascii(self, field: str) -> None:
        payload = filing_input(**{field.replace(".", "__"): "１３８０５３６１２３４"})
        stored = valid(payload).model_dump(mode="json")
        *path, last = field.split(".")
        for part in path:
            stored = stored[int(part)] if isinstance(stored, list) else stored[part]
        assert stored[last] == "13805361234"

    @pytest.mark.parametrize(
        ("override", "typed", "stored"),
        [
            ("district_code", "３７０７８３", "370783"),
            ("industry_code", "７５１１", "7511"),
            ("bank_code", "ＡＢＣ", "ABC"),
            ("branch_code", "１０３４５８０００１２３", "103458000123"),
        ],
    )
    def test_codes_in_full_width_are_stored_in_ascii(
        self, override: str, typed: str, stored: str
    ) -> None:
        assert getattr(valid(filing_input(**{override: typed})), override) == stored

    def test_material_codes_in_full_width_letters_are_stored_in_ascii(self) -> None:
        typed = [code.upper().translate(str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ_",
                                                      "ａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ＿"))
                 for code in ALL_MATERIALS]  # fmt: skip
        assert valid(filing_input(materials=typed)).materials == ALL_MATERIALS

    @pytest.mark.parametrize(
        "field",
        [
            "legal_representative.id_number",
            "shareholders.0.id_number",
            "finance_officer.id_number",
            "staff.1.id_number",
        ],
    )
    @pytest.mark.parametrize("digits", ["٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹", "०१२३४५६७८९"])
    def test_a_resident_id_in_another_scripts_digits_is_refused(
        self, field: str, digits: str
    ) -> None:
        number = resident_id(date(1985, 3, 14)).translate(str.maketrans("0123456789", digits))
        payload = filing_input(**{field.replace(".", "__"): number})
        error = refused(payload, field, "digit_not_ascii")
        assert "0" in error.message_zh and "9" in error.message_en

    @pytest.mark.parametrize(
        ("override", "typed", "field"),
        [
            ("legal_representative__mobile", "١٣٨٠٥٣٦١٢٣٤", "legal_representative.mobile"),
            ("delivery__mobile", "13805361٢34", "delivery.mobile"),
            ("district_code", "٣٧٠٧٨٣", "district_code"),
            ("industry_code", "٧٥١١", "industry_code"),
            ("branch_code", "103458000١٢٣", "branch_code"),
        ],
    )
    def test_another_scripts_digits_are_refused_in_any_code(
        self, override: str, typed: str, field: str
    ) -> None:
        refused(filing_input(**{override: typed}), field, "digit_not_ascii")

    def test_the_same_shareholder_in_ascii_and_full_width_digits_is_one_person(self) -> None:
        payload = filing_input()
        first = payload["shareholders"][0]["id_number"]
        payload["shareholders"][1]["id_number"] = first.translate(FULL_WIDTH)
        error = refused(payload, "shareholders.1.id_number", "duplicate_person")
        assert first in error.message_zh

    def test_the_same_employee_in_ascii_and_full_width_digits_is_one_person(self) -> None:
        payload = filing_input()
        payload["staff"][0]["id_number"] = payload["staff"][1]["id_number"].translate(FULL_WIDTH)
        refused(payload, "staff.1.id_number", "duplicate_person")

    def test_free_text_keeps_its_full_width_punctuation(self) -> None:
        scope = "道路货物运输（不含危险货物）"
        address = "山东省寿光市圣城街道农圣东街１２９９号（东门）"
        filing = valid(filing_input(business_scope=[scope], address=address))
        assert filing.business_scope == (scope,) and filing.address == address

    def test_names_are_composed_the_one_canonical_way(self) -> None:
        decomposed = "Zoe\u0308"  # e and a combining diaeresis: NFC makes it one ë
        payload = filing_input(staff__0__name=decomposed, legal_representative__name="王\uf9d1")
        filing = valid(payload)
        assert filing.staff[0].name == "Zoë"
        assert filing.legal_representative.name == "王六"  # a compatibility ideograph's own

    @given(digits=st.text(alphabet="0123456789", max_size=20))
    def test_full_width_digits_normalise_to_their_ascii_form(self, digits: str) -> None:
        assert unicodedata.normalize("NFKC", digits.translate(FULL_WIDTH)) == digits

    @given(
        number=st.one_of(
            _ID_BODIES.map(lambda body: body + gb11643_check_char(body)),
            st.text(alphabet="0123456789X", min_size=16, max_size=19),
        )
    )
    def test_a_resident_id_in_full_width_validates_as_its_ascii_form(self, number: str) -> None:
        adapter = TypeAdapter(ResidentId)
        assert outcome(adapter, number.translate(FULL_WIDTH)) == outcome(adapter, number)

    @given(
        number=st.one_of(
            st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
            st.text(alphabet="0123456789", min_size=9, max_size=13),
        )
    )
    def test_a_mobile_in_full_width_validates_as_its_ascii_form(self, number: str) -> None:
        adapter = TypeAdapter(Mobile)
        assert outcome(adapter, number.translate(FULL_WIDTH)) == outcome(adapter, number)

    @given(
        body=_ID_BODIES,
        position=st.integers(min_value=0, max_value=16),
        digit=_FOREIGN_DIGITS,
    )
    def test_one_digit_of_another_script_refuses_a_resident_id(
        self, body: str, position: int, digit: str
    ) -> None:
        number = body + gb11643_check_char(body)
        typed = number[:position] + digit + number[position + 1 :]
        assert outcome(TypeAdapter(ResidentId), typed) == ("refused", "digit_not_ascii")


def _unbounded(schema: dict[str, Any], defs: dict[str, Any], path: str) -> Iterator[str]:
    """Paths in a JSON schema whose strings, lists or numbers have no upper bound."""
    if "$ref" in schema:
        yield from _unbounded(defs[schema["$ref"].rsplit("/", 1)[-1]], defs, path)
        return
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, ()):
            yield from _unbounded(option, defs, path)
    kind = schema.get("type")
    if "enum" in schema or "const" in schema:
        return
    if kind == "string" and "maxLength" not in schema:
        yield path
    if kind == "array":
        if "maxItems" not in schema:
            yield path
        yield from _unbounded(schema.get("items", {}), defs, f"{path}[]")
    if kind in ("integer", "number") and not {"maximum", "exclusiveMaximum"} & set(schema):
        yield path
    for name, field in schema.get("properties", {}).items():
        yield from _unbounded(field, defs, f"{path}.{name}" if path else name)


class TestBounds:
    def test_every_string_list_and_number_of_a_filing_has_an_upper_bound(self) -> None:
        schema = FilingInput.model_json_schema()
        assert list(_unbounded(schema, schema.get("$defs", {}), "")) == []

    def test_the_capital_may_be_what_the_registration_form_holds(self) -> None:
        payload = filing_input(registered_capital_fen=MAX_REGISTERED_CAPITAL_FEN)
        assert valid(payload).registered_capital_fen == MAX_REGISTERED_CAPITAL_FEN

    @pytest.mark.parametrize("capital", [MAX_REGISTERED_CAPITAL_FEN + 1, 10**30])
    def test_refuses_a_capital_the_registration_form_cannot_hold(self, capital: int) -> None:
        payload = filing_input(registered_capital_fen=capital)
        error = refused(payload, "registered_capital_fen", "capital_too_large")
        assert "9,999,999,999,999.99" in error.message_zh + error.message_en

    def test_refuses_more_staff_than_a_filing_takes(self) -> None:
        staff = [
            {"name": f"员工{i}", "id_number": resident_id(date(1990, 1, 1), sequence=i % 1000)}
            for i in range(MAX_PEOPLE + 1)
        ]
        error = refused(filing_input(staff=staff), "staff", "too_long")
        assert str(MAX_PEOPLE) in error.message_zh

    def test_refuses_more_shareholders_than_a_filing_takes(self) -> None:
        holder = filing_input()["shareholders"][0]
        refused(filing_input(shareholders=[holder] * (MAX_PEOPLE + 1)), "shareholders", "too_long")

    def test_refuses_more_business_scope_items_than_a_filing_takes(self) -> None:
        scope = [f"经营项目{i}" for i in range(MAX_SCOPE_ITEMS + 1)]
        refused(filing_input(business_scope=scope), "business_scope", "too_long")

    @pytest.mark.parametrize("field", ["seals", "materials"])
    def test_refuses_a_list_of_codes_longer_than_a_form_can_mean(self, field: str) -> None:
        items = filing_input()[field] * MAX_LISTED_CODES
        refused(filing_input(**{field: items}), field, "too_long")

    def test_refuses_a_code_longer_than_any_code(self) -> None:
        refused(filing_input(bank_code="A" * 65), "bank_code", "string_too_long")


class TestFilingDate:
    def test_a_client_may_not_set_the_filing_date(self) -> None:
        refused(filing_input(filing_date="2040-06-18"), "filing_date", "extra_forbidden")

    def test_the_filing_date_is_the_day_of_acceptance_in_china(self) -> None:
        evening_in_utc = datetime(2026, 12, 6, 17, 30, tzinfo=UTC)  # 01:30 on the 7th in China
        filing = accept(valid(filing_input()), accepted_at=evening_in_utc, branch_bank="ABC")
        assert filing.filing_date == date(2026, 12, 7)

    def test_the_accepted_filing_carries_the_date_it_was_accepted_on(self) -> None:
        filing = accepted(filing_input(), on=date(2026, 12, 7))
        assert filing.filing_date == date(2026, 12, 7)
        assert filing.model_dump(mode="json")["filing_date"] == "2026-12-07"
        assert AcceptedFiling.model_validate_json(filing.model_dump_json()) == filing

    def test_the_application_of_a_stored_filing_leaves_out_what_the_server_stamped(
        self,
    ) -> None:
        sent = valid(filing_input())
        at = in_office_hours(FILING_DATE)
        stored = accept(sent, accepted_at=at, branch_bank="ABC").model_dump(mode="json")
        assert application_of(stored) == sent.model_dump(mode="json")


class TestAccountBank:
    """The basic account is opened at the filing branch's bank, or at a bank the district's
    policy opens to every branch."""

    def test_the_branchs_own_bank(self) -> None:
        assert accepted(filing_input(bank_code="CCB"), branch_bank="CCB").bank_code == "CCB"

    def test_refuses_another_partner_bank_naming_the_branchs(self) -> None:
        error = refused_on_acceptance(
            filing_input(bank_code="CCB"), "bank_code", "account_bank_not_branch"
        )
        assert "中国农业银行" in error.message_zh and "中国建设银行" in error.message_zh
        assert "Agricultural Bank of China" in error.message_en
        assert "寿光农商银行" in error.message_zh  # what Shouguang allows besides

    def test_a_bank_the_district_opens_to_every_branch(self) -> None:
        assert "SGRCB" in load_reference().districts["370783"].policy.account_banks_any_branch
        assert accepted(filing_input(bank_code="SGRCB"), branch_bank="ABC").bank_code == "SGRCB"

    def test_a_district_without_such_banks_holds_to_the_branchs(self) -> None:
        payload = filing_input_for("370811", bank_code="CCB")
        error = refused_on_acceptance(
            payload, "bank_code", "account_bank_not_branch", branch_bank="ABC"
        )
        assert "也可" not in error.message_zh and "also" not in error.message_en

    def test_reports_the_bank_and_the_ages_together(self) -> None:
        payload = filing_input(
            bank_code="CCB", legal_representative__id_number=resident_id(date(2010, 1, 1))
        )
        with pytest.raises(ValidationError) as raised:
            accepted(payload)
        assert {e.field for e in field_errors(raised.value)} == {
            "bank_code",
            "legal_representative.id_number",
        }


def _stored(**overrides: Any) -> dict[str, Any]:
    """A filing as stored, accepted on FILING_DATE, its roster and tax details to supplement."""
    materials = [m for m in ALL_MATERIALS if m not in ("staff_roster", "finance_tax_agents")]
    payload = filing_input(materials=materials, staff=[], finance_officer=None) | overrides
    return accepted(payload).model_dump(mode="json")


class TestSupplemented:
    """A 容缺 supplement sets only the fields its material carries, validated as at intake."""

    def roster(self) -> Any:
        return load_reference().materials["staff_roster"]

    def test_sets_the_fields_its_material_carries(self) -> None:
        stored = _stored()
        staff = filing_input()["staff"]
        filing = supplemented(stored, self.roster(), {"staff": staff})
        assert [member.name for member in filing.staff] == ["张伟", "陈静"]
        after = filing.model_dump(mode="json")
        assert {k: v for k, v in after.items() if k != "staff"} == {
            k: v for k, v in stored.items() if k != "staff"
        }

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("finance_officer", filing_input()["finance_officer"]),  # another material's
            ("address", "山东省寿光市文圣街1号"),  # no material's
            ("filing_date", "2040-06-18"),  # the server's
        ],
    )
    def test_refuses_a_field_its_material_does_not_carry(self, field: str, value: Any) -> None:
        with pytest.raises(ValidationError) as raised:
            supplemented(_stored(), self.roster(), {"staff": [], field: value})
        error = _one_of(field_errors(raised.value), field, "not_carried_by_material")
        assert "员工花名册" in error.message_zh and "staff" in error.message_en

    def test_a_material_that_carries_nothing_takes_no_data(self) -> None:
        authorisation = load_reference().materials["housing_fund_authorisation"]
        with pytest.raises(ValidationError) as raised:
            supplemented(_stored(), authorisation, {"staff": []})
        error = _one_of(field_errors(raised.value), "staff", "not_carried_by_material")
        assert "nothing" in error.message_en

    def test_checks_ages_on_the_filing_date(self) -> None:
        young = resident_id(born_years_before(16, days=1))
        with pytest.raises(ValidationError) as raised:
            supplemented(
                _stored(), self.roster(), {"staff": [{"name": "张伟", "id_number": young}]}
            )
        _one_of(field_errors(raised.value), "staff.0.id_number", "staff_underage")

    def test_normalises_as_at_intake_and_sees_one_person_once(self) -> None:
        number = filing_input()["staff"][0]["id_number"]
        staff = [{"name": "张伟", "id_number": number.translate(FULL_WIDTH)}]
        filing = supplemented(_stored(), self.roster(), {"staff": staff})
        assert filing.staff[0].id_number == number
        twice = [*staff, {"name": "张伟", "id_number": number}]
        with pytest.raises(ValidationError) as raised:
            supplemented(_stored(), self.roster(), {"staff": twice})
        _one_of(field_errors(raised.value), "staff.1.id_number", "duplicate_person")

    def test_every_field_a_material_carries_is_one_a_filing_may_leave_to_it(self) -> None:
        fields = FilingInput.model_fields
        carried = [f for m in load_reference().materials.values() for f in m.carries]
        assert carried == ["finance_officer", "staff"]
        for field in carried:
            assert field in fields and not fields[field].is_required(), field


class TestFieldErrors:
    def test_each_error_has_field_code_and_both_languages(self) -> None:
        payload = filing_input(shareholders__1__id_number="123")
        (error,) = errors_of(payload)
        assert error.model_dump() == {
            "field": "shareholders.1.id_number",
            "code": "id_number_format",
            "message_zh": ERROR_MESSAGES["id_number_format"][0],
            "message_en": ERROR_MESSAGES["id_number_format"][1],
        }

    def test_reports_independent_errors_together(self) -> None:
        payload = filing_input(
            district_code="000000",
            registered_capital_fen=0,
            seals=["finance"],
            housing_fund_rate_percent=20,
        )
        assert {e.field for e in errors_of(payload)} == {
            "district_code",
            "registered_capital_fen",
            "seals",
            "housing_fund_rate_percent",
        }

    def test_translates_a_missing_field(self) -> None:
        payload = filing_input()
        del payload["address"]
        error = refused(payload, "address", "missing")
        assert (error.message_zh, error.message_en) == ("必填项", "This field is required")

    def test_translates_an_unexpected_field(self) -> None:
        refused(filing_input(nickname="老王"), "nickname", "extra_forbidden")

    def test_translates_a_wrong_type(self) -> None:
        refused(
            filing_input(housing_fund_rate_percent="high"),
            "housing_fund_rate_percent",
            "float_parsing",
        )
        refused(filing_input(staff="张伟"), "staff", "tuple_type")

    def test_translates_a_too_long_text(self) -> None:
        error = refused(filing_input(address="寿光市" + "路" * 300), "address", "string_too_long")
        assert "200" in error.message_zh and "200" in error.message_en

    def test_translates_an_unknown_error_type_with_a_fallback(self) -> None:
        (error,) = field_errors_from_dicts(
            [{"type": "mystery", "loc": ("a", 0), "msg": "Something odd", "input": 1}]
        )
        assert error == FieldError(
            field="a.0",
            code="mystery",
            message_zh="输入无效（Something odd）",
            message_en="Something odd",
        )

    def test_strips_a_prefix_such_as_fastapis_body(self) -> None:
        (error,) = field_errors_from_dicts(
            [{"type": "missing", "loc": ("body", "address"), "msg": "Field required"}],
            strip_prefix=("body",),
        )
        assert error.field == "address"

    def test_a_non_object_payload_is_an_error_on_the_whole_filing(self) -> None:
        with pytest.raises(ValidationError) as raised:
            FilingInput.model_validate(["not", "a", "filing"])
        (error,) = field_errors(raised.value)
        assert (error.field, error.code) == ("", "model_type")

    @pytest.mark.parametrize("code", sorted(ERROR_MESSAGES))
    def test_every_code_speaks_chinese_and_english(self, code: str) -> None:
        zh, en = ERROR_MESSAGES[code]
        assert _HAN.search(zh)
        assert en and not en[0].islower()
        assert " / " not in zh + en  # the separator of the combined pydantic message
        for template in (zh, en):
            template.format_map(defaultdict(str))  # well-formed placeholders
