"""The shipped scenario files: each loads, says what its name promises, and has a short form."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.reference import load_reference
from orchestrator.tools.scenarios import DEMO_SCENARIO, Scenario, load_scenario
from orchestrator.tools.scenarios.replay import ReplayPlan, spread

SCENARIOS = DEMO_SCENARIO.parent
FILES = sorted(SCENARIOS.glob("*.yaml"))
SHIPPED = ("shouguang-day", "rencheng-3day", "flaky-tax", "lost-replies", "spring-festival-eve")


def scenario(name: str) -> Scenario:
    return load_scenario(SCENARIOS / f"{name}.yaml")


def target(district_code: str) -> float:
    return load_reference().districts[district_code].policy.sla_working_days


class TestEveryFile:
    def test_the_five_scenarios_and_the_demo_ship(self) -> None:
        assert {path.stem for path in FILES} >= {*SHIPPED, "demo"}

    @pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
    def test_loads(self, path: Path) -> None:
        loaded = load_scenario(path)
        assert loaded.name == path.stem or path == DEMO_SCENARIO
        assert list(loaded.filings_in_order())

    @pytest.mark.parametrize("name", SHIPPED)
    def test_has_a_short_form_that_is_shorter(self, name: str) -> None:
        loaded = scenario(name)
        assert loaded.short is not None
        plan = ReplayPlan.of(loaded, short=True)
        assert len(plan.filings) == loaded.short.filings < len(list(loaded.filings_in_order()))
        assert plan.scale == loaded.short.scale > loaded.clock.scale
        assert loaded.clock.back_offices == "working_time"


class TestWhatEachPromises:
    def test_shouguang_day_is_a_working_day_at_59_branches_against_half_a_day(self) -> None:
        day = scenario("shouguang-day")
        assert len(day.branches) == 59
        assert {b.district_code for b in day.branches} == {"370783"}
        filings = list(day.filings_in_order())
        assert {day.clock.at(timedelta(seconds=f.offset_seconds)).date() for f in filings} == {
            day.clock.start.date()
        }
        assert {target(f.filing.district_code) for f in filings} == {0.5}

    def test_rencheng_files_the_3_seal_set_against_3_working_days(self) -> None:
        filings = [f.filing for f in scenario("rencheng-3day").filings_in_order()]
        assert {f.district_code for f in filings} == {"370811"}
        assert {tuple(sorted(f.seals)) for f in filings} == {
            ("finance", "legal_representative", "official")
        }
        assert {target("370811")} == {3}
        # Every one is in an encouraged industry, so the district pays for its seals.
        subsidies = load_reference().districts["370811"].policy.subsidies
        assert all(subsidies.free_seals(f.industry_code) == set(f.seals) for f in filings)

    def test_flaky_tax_is_down_30_minutes_and_faults_5_percent(self) -> None:
        tax = scenario("flaky-tax").agencies.tax
        assert tax.transient_error_rate == 0.05
        (outage,) = tax.outages
        assert outage.end - outage.start == timedelta(minutes=30)

    def test_lost_replies_drop_replies_at_every_agency(self) -> None:
        agencies = scenario("lost-replies").agencies
        assert all(behaviour.lost_reply_rate > 0 for _, behaviour in agencies.items())

    def test_spring_festival_eve_files_on_13_february_2026(self) -> None:
        eve = scenario("spring-festival-eve")
        days = {
            eve.clock.at(timedelta(seconds=f.offset_seconds)).date() for f in eve.filings_in_order()
        }
        assert days == {date(2026, 2, 13)}


class TestReplayPlan:
    def test_the_whole_scenario_by_default(self) -> None:
        day = scenario("shouguang-day")
        plan = ReplayPlan.of(day)
        assert plan.filings == tuple(day.filings_in_order())
        assert plan.scenario is day

    def test_short_keeps_the_first_and_the_last_arrival_and_rescales_behaviour(self) -> None:
        day = scenario("shouguang-day")
        plan = ReplayPlan.of(day, short=True)
        every = list(day.filings_in_order())
        assert plan.filings[0] == every[0] and plan.filings[-1] == every[-1]
        assert plan.last_arrival() == day.clock.at(timedelta(seconds=every[-1].offset_seconds))
        ratio = plan.scale / day.clock.scale
        slow = day.simulator_config().behaviours["seal"].latency_ms
        fast = plan.scenario.simulator_config().behaviours["seal"].latency_ms
        assert fast == pytest.approx(slow / ratio)

    def test_options_override_the_short_form(self) -> None:
        plan = ReplayPlan.of(scenario("flaky-tax"), short=True, max_filings=3, scale=100)
        assert (len(plan.filings), plan.scale) == (3, 100)


class TestSpread:
    @given(n=st.integers(0, 200), count=st.integers(1, 250))
    def test_keeps_order_ends_and_count(self, n: int, count: int) -> None:
        items = list(range(n))
        kept = spread(items, count)
        assert len(kept) == min(n, count)
        assert list(kept) == sorted(set(kept))
        if n and count > 1:
            assert kept[0] == 0 and kept[-1] == n - 1


class TestClockYear:
    def test_a_year_without_a_holiday_schedule_plays_on_its_provisional_calendar(
        self, tmp_path: Path
    ) -> None:
        text = DEMO_SCENARIO.read_text(encoding="utf-8")
        old = "start: 2026-11-23T09:30:00+08:00"
        assert text.count(old) == 1
        path = tmp_path / "scenario.yaml"
        path.write_text(text.replace(old, "start: 2031-11-24T09:30:00+08:00"), encoding="utf-8")
        assert load_scenario(path).clock.start.year == 2031
