"""Scenario files: the demo loads, every problem names file, line and field, loads generate."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from integrations.agencies import GATEWAYS
from integrations.simulators.engine import (
    AgencyRules,
    AgencySimulator,
    Behaviour,
    Completed,
    Decision,
)
from integrations.simulators.registration import name_rules, trade_name_of
from orchestrator.clock import CHINA
from orchestrator.filings.materials import assess_materials
from orchestrator.reference import load_reference
from orchestrator.tools.scenarios import (
    AGENCIES,
    DEMO_SCENARIO,
    AgencyBehaviour,
    Scenario,
    ScenarioError,
    format_duration,
    load_scenario,
    parse_duration,
    parse_yaml,
)
from tests.factories import resident_id

DEMO_TEXT = DEMO_SCENARIO.read_text(encoding="utf-8")
ABC, SGRCB, CCB = "103458700015", "402458700023", "105458700031"


def write(tmp_path: Path, text: str, name: str = "scenario.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def edited(old: str, new: str, text: str = DEMO_TEXT) -> str:
    """The demo with `old` (which must occur exactly once) replaced by `new`."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the only occurrence of `needle`."""
    assert text.count(needle) == 1, f"{needle!r} occurs {text.count(needle)} times"
    return text[: text.index(needle)].count("\n") + 1


def problems(tmp_path: Path, text: str) -> list[str]:
    """Each line of the `ScenarioError` that loading `text` raises."""
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write(tmp_path, text))
    return str(caught.value).splitlines()


@pytest.fixture(scope="module")
def demo() -> Scenario:
    return load_scenario(DEMO_SCENARIO)


class TestDemo:
    def test_starts_on_a_monday_morning_in_shouguang(self, demo: Scenario) -> None:
        assert demo.clock.start == datetime(2026, 11, 23, 9, 30, tzinfo=CHINA)
        assert demo.clock.start.weekday() == 0
        assert {branch.district_code for branch in demo.branches} == {"370783"}
        assert [officer.district_code for officer in demo.officers] == ["370783"]

    def test_has_three_branches_of_different_partner_banks(self, demo: Scenario) -> None:
        partners = load_reference().districts["370783"].policy.partner_banks
        banks = [branch.bank_code for branch in demo.branches]
        assert len(set(banks)) == 3
        assert set(banks) <= set(partners)
        assert all(1 <= len(branch.clerks) <= 2 for branch in demo.branches)

    def test_six_filings_arrive_in_the_first_scenario_minutes(self, demo: Scenario) -> None:
        scheduled = list(demo.filings_in_order())
        offsets = [filing.offset_seconds for filing in scheduled]
        assert len(scheduled) == 6
        assert offsets == sorted(offsets)
        assert offsets[-1] <= 10 * 60
        for filing in scheduled:
            assert filing.clerk_username in demo.branch(filing.branch_code).usernames
            assert filing.filing.branch_code == filing.branch_code
            assert filing.filing.bank_code == demo.branch(filing.branch_code).bank_code

    def test_shows_the_cases_worth_showing(self, demo: Scenario) -> None:
        filings = [filing.filing for filing in demo.filings_in_order()]
        reference = load_reference()
        assert sum(f.enterprise_type == "one_person_llc" for f in filings) == 1
        assert any(len(f.shareholders) in (2, 3) for f in filings)
        assert sum(f.delivery.method == "branch_pickup" for f in filings) == 1
        supplements = [
            [item.code for item in assess_materials(f, reference).to_supplement] for f in filings
        ]
        assert supplements.count(["housing_fund_authorisation"]) == 1
        assert supplements.count([]) == 5
        assert len({f.industry_code[:2] for f in filings}) >= 5

    def test_names_pass_the_registration_bureau(self, demo: Scenario) -> None:
        rules = name_rules()
        trades = []
        for filing in demo.filings_in_order():
            trade, problem = trade_name_of(filing.filing.company_name.full, rules)
            assert problem is None
            trades.append(trade)
        assert len(set(trades)) == len(trades)
        assert not set(trades) & set(rules.register["370783"])

    def test_is_the_happy_path_and_runs_in_seconds(self, demo: Scenario) -> None:
        config = demo.simulator_config()
        assert set(config.behaviours) == {*AGENCIES, *GATEWAYS}
        for behaviour in config.behaviours.values():
            assert behaviour.transient_error_rate == behaviour.lost_reply_rate == 0
            assert not behaviour.outage
        slowest = {
            name: (b.latency_ms + b.latency_jitter_ms) / 1000
            for name, b in config.behaviours.items()
        }
        # registration → seal → bank account → courier is the critical path.
        critical = sum(slowest[n] for n in ("registration", "seal", "bank_account", "courier"))
        last_arrival = max(f.offset_seconds for f in demo.filings_in_order()) / demo.clock.scale
        assert last_arrival + critical < 10
        registration = demo.agencies.registration.latency
        assert registration.uniform is not None
        assert registration.uniform.min == timedelta(minutes=3)


# One edit of the demo, the one problem it makes: at the line holding `needle`, the field at
# `loc`, saying `says`.
ONE_PROBLEM = [
    pytest.param(
        'industry_code: "0141"',
        'filing_date: 2040-06-18\n      industry_code: "0141"',
        "2040-06-18",
        "filings.0.data.filing_date",
        "not allowed",
        id="a-filing-that-sets-its-own-date",
    ),
    pytest.param(
        "    bank_code: CCB\n",
        "    bank_code: CCB\n    colour: blue\n",
        "colour",
        "branches.2.colour",
        "This field is not allowed",
        id="an-unknown-key",
    ),
    pytest.param(
        "seed: 20261123\n",
        "seed: 20261123\nseed: 7\n",
        "seed: 7",
        "seed",
        "",
        id="a-key-given-twice",
    ),
    pytest.param(
        "at: 1m30s",
        "at: 90 seconds",
        "90 seconds",
        "filings.1.at",
        "invalid duration",
        id="a-bad-duration",
    ),
    pytest.param(
        "registration: {latency: {uniform: {min: 3m, max: 6m}}}",
        "registration: {latency: {uniform: {min: 3m, max: 6 min}}}",
        "max: 6 min",
        "agencies.registration.latency.uniform.max",
        "",
        id="a-bad-latency-inside-a-distribution",
    ),
    pytest.param(
        'recipient: 韩雪\n        mobile: "18766301925"',
        'recipient: 韩雪\n        mobile: "12345"',
        "12345",
        "filings.2.data.delivery.mobile",  # the union's tag is not shown as a field
        "",
        id="a-union-tag-is-not-shown-as-a-field",
    ),
]


class TestProblemsNameFileLineAndField:
    @pytest.mark.parametrize(("old", "new", "needle", "loc", "says"), ONE_PROBLEM)
    def test_one_edit_one_problem_at_its_line_and_field(
        self, tmp_path: Path, old: str, new: str, needle: str, loc: str, says: str
    ) -> None:
        text = edited(old, new)
        (problem,) = problems(tmp_path, text)
        assert f"scenario.yaml:{line_of(text, needle)}: {loc}: " in problem
        assert says in problem

    def test_a_bad_resident_id_deep_inside_a_filing(self, tmp_path: Path) -> None:
        text = edited('id_number: "370783198109032647"', 'id_number: "370783198109032648"')
        (problem,) = problems(tmp_path, text)
        line = line_of(text, "370783198109032648")
        assert problem.startswith(
            f"{tmp_path / 'scenario.yaml'}:{line}: filings.0.data.shareholders.1.id_number: "
        )
        assert "身份证号码校验码不符" in problem
        assert "check character does not match" in problem

    def test_an_unknown_branch(self, tmp_path: Path) -> None:
        text = edited(
            f'branch: "{CCB}"\n    clerk: ccb.chenjing\n    at: 3m',
            'branch: "999"\n    clerk: ccb.chenjing\n    at: 3m',
        )
        (problem,) = problems(tmp_path, text)
        line = line_of(text, '"999"')
        assert f"scenario.yaml:{line}: filings.2.branch: " in problem
        assert "999" in problem and "no branch" in problem

    def test_a_clerk_of_another_branch(self, tmp_path: Path) -> None:
        text = edited("clerk: abc.wangpeng", "clerk: ccb.chenjing")
        (problem,) = problems(tmp_path, text)
        line = line_of(text, "at: 4m30s") - 1
        assert f"scenario.yaml:{line}: filings.3.clerk: " in problem
        assert "not on the staff of branch" in problem

    def test_a_filing_in_another_district(self, tmp_path: Path) -> None:
        text = edited(
            'industry_code: "6210"', 'district_code: "370811"\n      industry_code: "6210"'
        )
        found = problems(tmp_path, text)
        line = line_of(text, '"370811"')
        assert any(f":{line}: filings.3.data.district_code: " in p for p in found), found
        assert any("differs from 370783" in p for p in found)

    def test_ages_are_taken_on_the_day_the_filing_arrives(self, tmp_path: Path) -> None:
        adult_tomorrow = resident_id(date(2008, 11, 24))  # the demo starts on 2026-11-23
        representative = 'legal_representative: {name: 王建华, id_number: "370783197804121735"'
        text = edited(representative, representative.replace("370783197804121735", adult_tomorrow))
        (problem,) = problems(tmp_path, text)
        line = line_of(text, adult_tomorrow)
        assert f":{line}: filings.0.data.legal_representative.id_number: " in problem
        assert "aged 17 on 2026-11-23" in problem
        next_day = edited("at: 0s", "at: 15h", text)
        assert load_scenario(write(tmp_path, next_day))

    def test_an_account_bank_not_the_filing_branchs(self, tmp_path: Path) -> None:
        bank = 'bank_code: "CCB"'
        text = edited('industry_code: "0141"', bank + '\n      industry_code: "0141"')
        (problem,) = problems(tmp_path, text)
        assert f":{line_of(text, bank)}: filings.0.data.bank_code: " in problem
        assert "filing branch's bank" in problem
        # Shouguang's rural commercial bank takes accounts filed at any partner branch.
        allowed = edited('"CCB"', '"SGRCB"', text)
        assert load_scenario(write(tmp_path, allowed))

    def test_a_yaml_syntax_error(self, tmp_path: Path) -> None:
        text = edited("  scale: 600 ", "  scale: [600 ")
        (problem,) = problems(tmp_path, text)
        assert re.match(r".*scenario\.yaml:\d+: YAML 语法错误 / YAML syntax error: ", problem)
        reported = int(problem.split(":")[1])
        assert reported >= line_of(text, "scale: [600")

    def test_several_problems_at_once_by_line(self, tmp_path: Path) -> None:
        text = edited("at: 1m30s", "at: soon", edited("role: branch_manager", "role: boss"))
        found = problems(tmp_path, text)
        assert len(found) == 2
        assert "branches.1.staff.1.role" in found[0]
        assert "filings.1.at" in found[1]

    def test_a_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(ScenarioError, match=r"nowhere\.yaml: .*cannot be read"):
            load_scenario(tmp_path / "nowhere.yaml")


ARRIVALS = f"""
arrivals:
  - count: 25
    at: 10m
    rate_per_hour: 60
    branches: ["{ABC}", "{SGRCB}"]
    based_on: 0
    template:
      taxpayer_type: general
"""


class TestArrivals:
    def test_generate_count_filings_at_the_rate(self, tmp_path: Path) -> None:
        scenario = load_scenario(write(tmp_path, DEMO_TEXT + ARRIVALS))
        generated = scenario.arrivals[0].generated
        assert len(generated) == 25
        assert [f.offset_seconds for f in generated] == [600 + 60 * n for n in range(25)]
        assert all(f.filing.taxpayer_type == "general" for f in generated)
        assert len(list(scenario.filings_in_order())) == 31

    def test_names_are_unique_and_valid(self, tmp_path: Path) -> None:
        scenario = load_scenario(write(tmp_path, DEMO_TEXT + ARRIVALS))
        names = [f.filing.company_name for f in scenario.filings_in_order()]
        assert len({name.full for name in names}) == len(names)
        assert len({name.trade_name for name in names}) == len(names)
        rules = name_rules()
        generated = [f.filing.company_name for f in scenario.arrivals[0].generated]
        for name in generated:
            assert name.region == "寿光市" and name.industry_term == "蔬菜种植"
            trade, problem = trade_name_of(name.full, rules)
            assert problem is None and trade == name.trade_name
            assert trade not in rules.register["370783"]

    def test_names_stay_unique_past_the_word_list(self, tmp_path: Path) -> None:
        text = DEMO_TEXT + ARRIVALS.replace("count: 25", "count: 450").replace(
            "rate_per_hour: 60", "every: 10s"
        )
        generated = load_scenario(write(tmp_path, text)).arrivals[0].generated
        trades = [f.filing.company_name.trade_name for f in generated]
        assert len(set(trades)) == 450
        assert all(re.fullmatch(r"[\u4e00-\u9fff]{2,4}", trade) for trade in trades)
        assert generated[-1].offset_seconds == 600 + 449 * 10

    def test_branches_and_their_clerks_take_turns(self, tmp_path: Path) -> None:
        scenario = load_scenario(write(tmp_path, DEMO_TEXT + ARRIVALS))
        generated = scenario.arrivals[0].generated
        assert [f.branch_code for f in generated[:4]] == [ABC, SGRCB, ABC, SGRCB]
        assert [f.clerk_username for f in generated[:5:2]] == [
            "abc.zhangli",
            "abc.wangpeng",
            "abc.zhangli",
        ]
        # SGRCB's branch manager does not file: its only clerk takes every one.
        assert {f.clerk_username for f in generated[1::2]} == {"sgrcb.liuyang"}
        assert {f.filing.bank_code for f in generated[1::2]} == {"SGRCB"}

    def test_a_generated_filing_is_checked_on_the_day_it_arrives(self, tmp_path: Path) -> None:
        # Three arrivals an hour apart; the legal representative turns 18 on the second day.
        adult_tomorrow = resident_id(date(2008, 11, 24))
        arrivals = ARRIVALS.replace("count: 25", "count: 3").replace(
            "rate_per_hour: 60", "every: 1h"
        ) + (
            f'      legal_representative: {{name: 王建华, id_number: "{adult_tomorrow}", '
            'mobile: "13953612781"}\n'
        )
        late = DEMO_TEXT + arrivals.replace("at: 10m", "at: 15h")  # from 00:30 the next day
        assert len(load_scenario(write(tmp_path, late)).arrivals[0].generated) == 3
        early = DEMO_TEXT + arrivals.replace("at: 10m", "at: 14h")  # 23:30, then the next day
        (problem,) = problems(tmp_path, early)
        line = line_of(early, adult_tomorrow)
        assert f":{line}: arrivals.0.template.legal_representative.id_number: " in problem
        assert "2026-11-23" in problem

    def test_a_bad_template_is_reported_at_the_template(self, tmp_path: Path) -> None:
        text = DEMO_TEXT + ARRIVALS.replace("taxpayer_type: general", "taxpayer_type: huge")
        (problem,) = problems(tmp_path, text)
        assert f":{line_of(text, 'huge')}: arrivals.0.template.taxpayer_type: " in problem

    def test_an_unknown_branch_and_a_missing_base(self, tmp_path: Path) -> None:
        text = DEMO_TEXT + ARRIVALS.replace(f'"{SGRCB}"', '"nope"').replace(
            "based_on: 0", "based_on: 9"
        )
        found = problems(tmp_path, text)
        assert any(f":{line_of(text, 'nope')}: arrivals.0.branches.1: " in p for p in found)
        assert any(f":{line_of(text, 'based_on: 9')}: arrivals.0.based_on: " in p for p in found)

    def test_exactly_one_rate(self, tmp_path: Path) -> None:
        text = DEMO_TEXT + ARRIVALS.replace("rate_per_hour: 60", "rate_per_hour: 60\n    every: 1m")
        (problem,) = problems(tmp_path, text)
        assert f":{line_of(text, 'count: 25')}: arrivals.0: " in problem


class ReadyRules(AgencyRules):
    """An agency that always acts: only its timing matters here."""

    name = "ready"

    def decide(self, payload: object) -> Decision:
        return Completed(result={})


class TestSimulatorBehaviour:
    def test_latency_is_divided_by_the_scale(self) -> None:
        behaviour = AgencyBehaviour.model_validate({"latency": "45m"})
        assert behaviour.to_simulator_behaviour(600).latency_ms == pytest.approx(4500)
        assert behaviour.to_simulator_behaviour(1).latency_ms == pytest.approx(2_700_000)

    def test_uniform_becomes_base_plus_jitter(self) -> None:
        behaviour = AgencyBehaviour.model_validate(
            {"latency": {"uniform": {"min": "3m", "max": "6m"}}, "transient_error_rate": 0.1}
        )
        converted = behaviour.to_simulator_behaviour(600)
        assert converted.latency_ms == pytest.approx(300)
        assert converted.latency_jitter_ms == pytest.approx(300)
        assert converted.transient_error_rate == 0.1

    def test_lognormal_keeps_its_median_and_tail_drawn_per_request(self) -> None:
        behaviour = AgencyBehaviour.model_validate(
            {"latency": {"lognormal": {"median": "40m", "p95": "3h"}}}
        )
        converted = behaviour.to_simulator_behaviour(600)
        assert converted.latency_ms == pytest.approx(4000)
        assert converted.latency_jitter_ms == 0
        sim = AgencySimulator(ReadyRules, behaviour=converted, seed=3, clock=lambda: 0.0)
        waits = [sim.accept(f"k{n}", {}).ready_at * 1000 for n in range(400)]
        assert sum(w < 4000 for w in waits) == pytest.approx(200, abs=40)
        assert sum(w < 18000 for w in waits) == pytest.approx(380, abs=15)

    def test_outages_switch_at_their_instants(self, tmp_path: Path) -> None:
        outage = "tax: {outages: [{start: 2026-11-23T10:00:00, end: 2026-11-23T10:30:00+08:00}]}"
        text = edited("tax: {latency: {uniform: {min: 2m, max: 4m}}}", outage)
        scenario = load_scenario(write(tmp_path, text))
        assert not scenario.simulator_config().behaviours["tax"].outage
        changes = scenario.behaviour_changes()
        assert [(c.offset_seconds, c.agency, c.behaviour.outage) for c in changes] == [
            (1800.0, "tax", True),
            (3600.0, "tax", False),
        ]
        during = datetime(2026, 11, 23, 10, 10, tzinfo=CHINA)
        assert scenario.simulator_config(at=during).behaviours["tax"].outage

    def test_defaults_are_fast_and_reliable(self) -> None:
        assert AgencyBehaviour().to_simulator_behaviour(600) == Behaviour()


class TestDurations:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("0s", timedelta(0)),
            ("45m", timedelta(minutes=45)),
            ("2h", timedelta(hours=2)),
            ("1h30m", timedelta(hours=1, minutes=30)),
            ("1.5s", timedelta(seconds=1.5)),
            ("300ms", timedelta(milliseconds=300)),
            ("1m0.5s", timedelta(seconds=60.5)),
        ],
    )
    def test_reads_and_writes_back(self, text: str, expected: timedelta) -> None:
        assert parse_duration(text) == expected
        assert parse_duration(format_duration(expected)) == expected

    @pytest.mark.parametrize("text", ["", "45", "m", "1d", "30m2h", "-5m", "5 minutes"])
    def test_refuses(self, text: str) -> None:
        with pytest.raises(ValueError, match="invalid duration"):
            parse_duration(text)


class TestYamlLines:
    def test_every_node_has_its_line(self) -> None:
        doc = parse_yaml("a:\n  b:\n    - x\n    - {c: 1}\n", name="t.yaml")
        assert doc.lines[("a",)] == 1
        assert doc.lines[("a", "b")] == 2
        assert doc.lines[("a", "b", 1, "c")] == 4
        assert doc.locate(("a", "b", 1, "missing")) == ("a.b.1.missing", 4)

    def test_merge_keys_are_followed(self) -> None:
        doc = parse_yaml("base: &b {x: 1}\nthing:\n  <<: *b\n  y: 2\n", name="t.yaml")
        assert doc.data["thing"] == {"x": 1, "y": 2}
        assert doc.line_of(("thing", "x")) == 1
