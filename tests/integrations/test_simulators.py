"""The simulated agencies on their own: wire format, control endpoints, engine, rules, server."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from integrations.agencies import AGENCIES
from integrations.registration import RegistrationAdapter
from integrations.simulators.app import SimulatorConfig, create_app
from integrations.simulators.courier import s10_check_digit
from integrations.simulators.engine import (
    AgencyRules,
    AgencySimulator,
    Behaviour,
    Blocked,
    Completed,
    Decision,
    Refused,
)
from integrations.simulators.registration import gb11714_check_char, name_rules, trade_name_of
from integrations.simulators.server import serve_in_thread
from tests.integrations.agency_factories import new_key, registration_request
from tests.integrations.conftest import SimControl

SIMULATORS = Path(__file__).resolve().parents[2] / "integrations" / "simulators"


@contextmanager
def served(config: SimulatorConfig) -> Iterator[httpx.Client]:
    """A client to a simulator app of its own, served for the block."""
    server = serve_in_thread(create_app(config))
    try:
        with httpx.Client(base_url=server.base_url, timeout=5) as client:
            yield client
    finally:
        server.stop()


def registration_payload() -> dict[str, Any]:
    """A valid registration payload in the bureau's own format."""
    adapter = RegistrationAdapter.__new__(RegistrationAdapter)  # only its mapping is used
    return adapter.to_agency(registration_request())


def register(
    http: httpx.Client, key: str | None, change: dict[str, Any] | None = None
) -> httpx.Response:
    """POST a registration in the bureau's format, `change` applied, under `key` (if any)."""
    headers = {} if key is None else {"Idempotency-Key": key}
    return http.post(
        "/registration/v1/requests",
        json={**registration_payload(), **(change or {})},
        headers=headers,
    )


class TestWireFormat:
    def test_the_bureau_answers_a_name_check_without_acting(self, sim: SimControl) -> None:
        def check(name: str, region_code: str = "370783") -> dict[str, Any]:
            reply = sim.http.get(
                "/registration/v1/names/check", params={"region_code": region_code, "name": name}
            )
            assert reply.status_code == 200
            answer: dict[str, Any] = reply.json()
            return answer

        assert check("寿光市禾润农业科技有限公司")["available"] is True
        assert check("寿光市鑫达农业科技有限公司")["code"] == "name_conflict"
        assert check("寿光市鑫达农业科技有限公司", region_code="370811")["available"] is True
        assert check("寿光市国家农业科技有限公司")["code"] == "prohibited_word"
        assert check("寿光市禾润农业科技")["code"] == "invalid_name"
        assert check("x")["code"] == "invalid_request"
        assert sim.http.get("/_sim/effects").json()["effects"]["registration"] == {}
        assert sim.http.get("/registration/v1/no/such/question").status_code == 404

    def post(self, sim: SimControl, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return sim.http.post("/registration/v1/requests", content=body, headers=headers)

    def test_a_submit_without_idempotency_key_is_refused(self, sim: SimControl) -> None:
        response = register(sim.http, None)
        assert response.status_code == 400
        assert response.json()["code"] == "missing_idempotency_key"

    def test_a_body_that_is_not_json_is_refused(self, sim: SimControl) -> None:
        response = self.post(
            sim, b"{not json", {"Idempotency-Key": "k", "Content-Type": "application/json"}
        )
        assert response.status_code == 400
        assert response.json() == {
            "status": "rejected",
            "code": "malformed_json",
            "message": "the body is not JSON",
        }

    def test_keys_may_hold_any_printable_character(self, sim: SimControl) -> None:
        key = "filing:7/registration #1"
        response = register(sim.http, key)
        assert response.status_code == 200
        found = sim.http.get("/registration/v1/requests/filing%3A7%2Fregistration%20%231")
        assert found.json() == response.json()

    def test_another_content_type_is_refused(self, sim: SimControl) -> None:
        response = self.post(sim, b"a=b", {"Idempotency-Key": "k", "Content-Type": "text/plain"})
        assert response.status_code == 415

    @pytest.mark.parametrize(
        "change",
        [
            {"enterprise_name": None},
            {"region_code": "37078"},
            {"region_code": "٣٧٠٧٨٣"},  # Arabic-Indic digits
            {"registered_capital_yuan": "10000000000000.00"},  # past the form's 13 digits
            {"registered_capital_yuan": "１００.00"},
            {"surprise": "field"},
            {"investors": []},
            {"legal_representative": {"name": "x"}},
        ],
    )
    def test_a_payload_outside_the_format_is_unprocessable_and_not_recorded(
        self, change: dict[str, Any], sim: SimControl
    ) -> None:
        key = new_key()
        response = register(sim.http, key, change)
        assert response.status_code == 422
        assert response.json()["code"] == "invalid_request"
        assert sim.raw_status("registration", key).status_code == 404

    def test_replies_follow_the_documented_shapes(self, sim: SimControl) -> None:
        key = new_key()
        response = register(sim.http, key)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert set(response.json()) == {"status", "result"}
        assert sim.raw_status("registration", key).json() == response.json()
        unknown = sim.raw_status("registration", "nobody")
        assert unknown.status_code == 404 and unknown.json()["status"] == "unknown"

    def test_processing_reply_says_when_to_come_back(self, sim: SimControl) -> None:
        sim.behave("seal", latency_ms=5000, sync_limit_ms=0)
        key = new_key()
        response = register(sim.http, key)
        assert response.status_code == 200  # only the seal engraver was slowed down
        sim.behave("registration", latency_ms=5000, sync_limit_ms=0)
        slow = register(sim.http, new_key())
        assert slow.status_code == 202
        assert slow.json()["status"] == "processing"
        assert 4.5 < slow.json()["retry_after"] <= 5
        assert slow.headers["retry-after"] == "5"


class TestControl:
    def test_effects_report_per_agency_and_key(self, sim: SimControl) -> None:
        key = new_key()
        register(sim.http, key).raise_for_status()
        report = sim.report()
        assert set(report) == {"effects", "duplicates", "subjects", "subject_duplicates"}
        assert report["effects"]["registration"] == {key: 1}
        assert report["effects"]["courier"] == {}
        assert report["duplicates"] == 0

    def test_behaviour_is_replaced_and_reset(self, sim: SimControl) -> None:
        sim.behave("tax", latency_ms=100, outage=True)
        assert sim.http.get("/_sim/tax/behaviour").json()["outage"] is True
        assert sim.http.get("/_sim/tax/behaviour").json()["latency_ms"] == 100
        sim.behave("tax", latency_ms=100)
        assert sim.http.get("/_sim/tax/behaviour").json()["outage"] is False
        sim.reset()
        assert sim.http.get("/_sim/tax/behaviour").json() == Behaviour().model_dump()

    def test_unknown_agency_and_bad_behaviour_are_refused(self, sim: SimControl) -> None:
        assert sim.http.put("/_sim/police/behaviour", json={}).status_code == 404
        bad = sim.http.put("/_sim/tax/behaviour", json={"transient_error_rate": 2})
        assert bad.status_code == 422

    def test_reset_forgets_requests_and_effects(self, sim: SimControl) -> None:
        key = new_key()
        register(sim.http, key).raise_for_status()
        sim.reset()
        assert sim.raw_status("registration", key).status_code == 404
        assert sim.report()["effects"]["registration"] == {}

    def test_healthz(self, sim: SimControl) -> None:
        body = sim.http.get("/healthz").json()
        assert body["status"] == "ok" and body["agencies"] == list(AGENCIES)

    def test_a_config_can_mount_some_agencies_with_their_behaviour(self) -> None:
        config = SimulatorConfig(
            seed=1, agencies=("tax", "courier"), behaviours={"tax": Behaviour(outage=True)}
        )
        with served(config) as client:
            assert client.get("/healthz").json()["agencies"] == ["tax", "courier"]
            outage = client.post("/tax/soap", content=b"<x/>", headers={"Content-Type": "text/xml"})
            assert outage.status_code == 503 and b"soap:Server" in outage.content
            assert client.get("/courier/v1/requests/k").status_code == 404
            assert client.get("/seal/soap?wsdl").status_code == 404
            assert client.get("/tax/v1/requests/k").status_code == 404  # tax speaks SOAP

    def test_the_same_seed_issues_the_same_codes(self) -> None:
        def first_code(seed: int) -> str:
            with served(SimulatorConfig(seed=seed)) as client:
                reply = register(client, "k")
                code: str = reply.json()["result"]["uscc"]
                return code

        assert first_code(5) == first_code(5)
        assert first_code(5) != first_code(6)


class _Counter(AgencyRules):
    """Rules for engine tests: payload {"verdict": "done" | "refuse" | "block"}."""

    name = "counter"

    def decide(self, payload: object) -> Decision:
        verdict = payload["verdict"] if isinstance(payload, dict) else "done"
        if verdict == "refuse":
            return Refused("no", "refused")
        if verdict == "block":
            return Blocked("missing", "blocked", ("paper",))
        return Completed(result={"n": self.rng.random()})


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class TestEngine:
    def make(self, **behaviour: Any) -> tuple[AgencySimulator, FakeClock]:
        clock = FakeClock()
        sim = AgencySimulator(_Counter, behaviour=Behaviour(**behaviour), seed=1, clock=clock)
        return sim, clock

    def test_an_outcome_becomes_visible_after_the_latency(self) -> None:
        sim, clock = self.make(latency_ms=3000)
        record = sim.accept("k", {"verdict": "done"})
        assert not sim.answers_synchronously(record)
        assert sim.view(record).state == "processing"
        assert sim.view(record).retry_after == 3.0
        clock.now += 3
        assert sim.view(record).state == "done"
        assert sim.effects() == {"k": 1}

    def test_a_key_acted_on_keeps_its_first_result(self) -> None:
        sim, _ = self.make()
        first = sim.accept("k", {"verdict": "done"})
        again = sim.accept("k", {"verdict": "refuse"})
        assert again is first and sim.effects() == {"k": 1}

    def test_refusals_and_blocks_leave_the_key_free(self) -> None:
        sim, _ = self.make()
        assert sim.view(sim.accept("k", {"verdict": "block"})).materials == ("paper",)
        assert sim.view(sim.accept("k", {"verdict": "refuse"})).state == "rejected"
        assert sim.view(sim.accept("k", {"verdict": "done"})).state == "done"
        assert sim.effects() == {"k": 1}

    def test_a_refusal_in_progress_is_not_decided_again(self) -> None:
        sim, _ = self.make(latency_ms=1000)
        first = sim.accept("k", {"verdict": "refuse"})
        assert sim.accept("k", {"verdict": "done"}) is first

    def test_fault_dice_are_repeatable_for_a_seed(self) -> None:
        rolls = []
        for _ in range(2):
            sim, _ = self.make(transient_error_rate=0.5, lost_reply_rate=0.5)
            rolls.append([(sim.roll_unavailable(), sim.roll_lost_reply()) for _ in range(50)])
        assert rolls[0] == rolls[1]
        assert {u for u, _ in rolls[0]} == {True, False}
        assert {lost for _, lost in rolls[0]} == {None, "http_500", "drop"}

    def test_rejection_rate_refuses_without_acting(self) -> None:
        sim, _ = self.make(rejection_rate=1.0)
        view = sim.view(sim.accept("k", {"verdict": "done"}))
        assert (view.state, view.code) == ("rejected", "simulated_rejection")
        assert sim.effects() == {}

    def test_reset_starts_the_world_afresh(self) -> None:
        sim, _ = self.make()
        first = sim.view(sim.accept("k", {"verdict": "done"})).result
        sim.reset()
        assert sim.lookup("k") is None and sim.effects() == {}
        assert sim.view(sim.accept("k", {"verdict": "done"})).result == first


class TestCodesAndNames:
    def test_organisation_code_check_char(self) -> None:
        assert gb11714_check_char("D2143569") == "X"

    def test_s10_check_digit(self) -> None:
        assert s10_check_digit("47312482") == "9"  # RA473124829GB, the UPU example

    @pytest.mark.parametrize(
        ("name", "trade"),
        [
            ("寿光市鑫达农业科技有限公司", "鑫达"),
            ("山东瑞禾食品有限公司", "瑞禾"),
            ("济宁市任城区恒通机械有限公司", "恒通"),
            ("宁波甬江供应链管理有限公司", "甬江"),
            ("鑫达（寿光）农业有限公司", "鑫达"),
            ("寿光市金色阳光有限责任公司", "金色阳光"),
            ("浙江海天股份有限公司", "海天"),
        ],
    )
    def test_trade_name_is_read_from_the_name(self, name: str, trade: str) -> None:
        assert trade_name_of(name, name_rules()) == (trade, None)

    @pytest.mark.parametrize("name", ["寿光市鑫达农业科技", "寿光市农业有限公司"])
    def test_malformed_names_are_explained(self, name: str) -> None:
        trade, problem = trade_name_of(name, name_rules())
        assert trade == "" and problem

    def test_every_seeded_register_entry_reads_back_its_trade_name(self) -> None:
        rules = name_rules()
        assert {"370783", "370811", "370826", "430181", "330205", "330282", "330225"} <= set(
            rules.register
        )
        for district in rules.register.values():
            for trade, name in district.items():
                assert trade_name_of(name, rules) == (trade, None)


# What simulators share with the adapters, as they would share a published standard: the
# agencies' names, the national code standards, the registration form's limits, and the
# e-licence format with its signature algorithms.
SHARED_WITH_ADAPTERS = {
    "integrations.agencies",
    "integrations.codes",
    "integrations.e_licence",
    "integrations.registration_form",
    "integrations.signing",
}


class TestBoundaries:
    def test_simulators_import_only_shared_standards_and_their_own_modules(self) -> None:
        for path in SIMULATORS.glob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                elif isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                else:
                    continue
                for name in names:
                    root = name.split(".")[0]
                    if root in {"integrations", "orchestrator", "bank_portal"}:
                        assert name in SHARED_WITH_ADAPTERS or name.startswith(
                            "integrations.simulators"
                        ), f"{path.name} imports {name}"


class TestServer:
    def test_serves_on_an_ephemeral_port_and_stops(self) -> None:
        first = serve_in_thread(create_app(SimulatorConfig(seed=1)))
        second = serve_in_thread(create_app(SimulatorConfig(seed=1)))
        try:
            assert first.base_url != second.base_url
            assert httpx.get(f"{first.base_url}/healthz").status_code == 200
        finally:
            first.stop()
            second.stop()
        first.stop()  # idempotent
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{first.base_url}/healthz")
