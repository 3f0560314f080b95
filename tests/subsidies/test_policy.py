"""What a district's policy makes free for a filing, priced, with its vendor; and the budget
every paying district must state."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from orchestrator.reference import Subsidies, load_reference
from orchestrator.subsidies.policy import COURIER_VENDOR, SEAL_VENDOR, free_items

ALL_SEALS = ["official", "finance", "invoice", "legal_representative"]


def _codes(district: str, industry: str, seals: list[str], couriered: bool) -> list[str]:
    policy = load_reference().districts[district].policy
    items = free_items(policy, industry_code=industry, seals=seals, couriered=couriered)
    return [item.code for item in items]


class TestFreeItems:
    def test_shouguang_pays_every_seal_wanted_and_the_courier(self) -> None:
        assert _codes("370783", "0111", ALL_SEALS, True) == [
            "seal:official", "seal:finance", "seal:invoice", "seal:legal_representative",
            "courier",
        ]  # fmt: skip
        assert _codes("370783", "0111", ["official"], False) == ["seal:official"]

    def test_rencheng_pays_a_three_seal_set_for_encouraged_industries_only(self) -> None:
        assert _codes("370811", "6511", ALL_SEALS, True) == [
            "seal:official", "seal:finance", "seal:legal_representative",
        ]  # fmt: skip
        assert _codes("370811", "0111", ALL_SEALS, True) == []

    def test_weishan_pays_the_parcel_not_a_collection(self) -> None:
        assert _codes("370826", "6511", ALL_SEALS, True) == ["courier"]
        assert _codes("370826", "6511", ALL_SEALS, False) == []

    def test_items_carry_the_district_price_and_their_vendor(self) -> None:
        policy = load_reference().districts["370783"].policy
        items = free_items(policy, industry_code="0111", seals=ALL_SEALS, couriered=True)
        assert sum(item.amount_fen for item in items) == 7400
        assert {item.vendor for item in items} == {SEAL_VENDOR, COURIER_VENDOR}


class TestBudget:
    def test_every_paying_district_states_a_monthly_budget(self) -> None:
        for district in load_reference().districts.values():
            subsidies = district.policy.subsidies
            paying = subsidies.seals is not None or subsidies.courier_free
            assert (subsidies.budget_fen is not None) == paying

    @pytest.mark.parametrize(
        "data",
        [
            {"courier_free": True},  # pays, with no budget
            {"budget_fen": 1000},  # a budget for nothing
            {"courier_free": True, "budget_fen": 0},
        ],
    )
    def test_a_budget_without_subsidies_or_subsidies_without_one_is_refused(
        self, data: dict[str, object]
    ) -> None:
        with pytest.raises(ValidationError):
            Subsidies.model_validate(data)
