"""The SMS gateway: the adapter and the simulated gateway, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from integrations.base import RejectedError, TransientError
from integrations.simulators.app import SimulatorConfig
from integrations.sms import SmsGateway, TextMessage, build_sms_gateway
from tests.integrations.agency_factories import new_key
from tests.integrations.conftest import SimControl
from tests.integrations.test_simulators import served

MOBILE = "13912345678"


@pytest.fixture(scope="session")
def gateway(simulator_server: Any) -> Iterator[SmsGateway]:
    built = build_sms_gateway(simulator_server.base_url, timeout=5.0)
    yield built
    built.close()


def received(sim: SimControl, to: str | None = None) -> list[dict[str, Any]]:
    """What the simulated gateway sent (the control endpoint, which no outage hides)."""
    response = sim.http.get("/_sim/sms/messages", params={} if to is None else {"to": to})
    response.raise_for_status()
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


class TestSend:
    def test_sends_the_text_and_the_gateway_records_it(
        self, sim: SimControl, gateway: SmsGateway
    ) -> None:
        sent = gateway.send(TextMessage(to=MOBILE, text="你好"), idempotency_key=new_key())
        assert sent.message_id.startswith("SM") and sent.state == "delivered"
        [message] = received(sim)
        assert message["to"] == MOBILE and message["text"] == "你好"
        assert message["message_id"] == sent.message_id

    def test_the_same_key_twice_is_one_text(self, sim: SimControl, gateway: SmsGateway) -> None:
        key = new_key()
        first = gateway.send(TextMessage(to=MOBILE, text="一"), idempotency_key=key)
        again = gateway.send(TextMessage(to=MOBILE, text="一"), idempotency_key=key)
        assert again == first
        assert len(received(sim)) == 1
        assert sim.effects("sms") == {key: 1}

    def test_two_keys_are_two_texts(self, sim: SimControl, gateway: SmsGateway) -> None:
        gateway.send(TextMessage(to=MOBILE, text="一"), idempotency_key=new_key())
        gateway.send(TextMessage(to="13700000000", text="二"), idempotency_key=new_key())
        assert [m["text"] for m in received(sim)] == ["一", "二"]
        assert [m["text"] for m in received(sim, to="13700000000")] == ["二"]

    def test_status_tells_what_became_of_a_key(self, sim: SimControl, gateway: SmsGateway) -> None:
        key = new_key()
        assert gateway.status(key) is None
        sent = gateway.send(TextMessage(to=MOBILE, text="一"), idempotency_key=key)
        assert gateway.status(key) == sent


class TestNumbers:
    @pytest.mark.parametrize(
        "number", ["12345678901", "1381234567", "138123456789", "+8613812345678"]
    )
    def test_the_adapter_refuses_what_is_no_mobile(self, number: str) -> None:
        with pytest.raises(ValidationError):
            TextMessage(to=number, text="x")

    @pytest.mark.parametrize("number", ["12345678901", "1381234567", "１３８１２３４５６７８"])
    def test_the_gateway_refuses_what_is_no_mobile_and_sends_nothing(
        self, sim: SimControl, number: str
    ) -> None:
        response = sim.http.post(
            "/sms/v1/requests",
            json={"to": number, "text": "x"},
            headers={"Idempotency-Key": new_key()},
        )
        assert response.status_code == 422
        assert response.json()["code"] == "invalid_number"
        assert received(sim) == []

    def test_a_refusal_reaches_the_adapter_as_rejected(self, gateway: SmsGateway) -> None:
        # Past the adapter's own check (as a gateway with stricter rules would refuse).
        message = TextMessage.model_construct(to="12345678901", text="x")
        with pytest.raises(RejectedError) as refused:
            gateway.send(message, idempotency_key=new_key())
        assert refused.value.code == "invalid_number"


class TestFaults:
    def test_an_outage_is_transient_and_sends_nothing(
        self, sim: SimControl, gateway: SmsGateway
    ) -> None:
        sim.behave("sms", outage=True)
        with pytest.raises(TransientError):
            gateway.send(TextMessage(to=MOBILE, text="x"), idempotency_key=new_key())
        assert received(sim) == []  # the control endpoint answers through the outage
        assert sim.http.get("/sms/v1/messages").status_code == 503  # the gateway's own does not

    def test_a_lost_reply_then_a_resend_is_one_text(
        self, sim: SimControl, gateway: SmsGateway
    ) -> None:
        key = new_key()
        sim.behave("sms", lost_reply_rate=1.0, lost_reply_mode="http_500")
        with pytest.raises(TransientError):
            gateway.send(TextMessage(to=MOBILE, text="x"), idempotency_key=key)
        sim.behave("sms")
        gateway.send(TextMessage(to=MOBILE, text="x"), idempotency_key=key)
        assert len(received(sim)) == 1

    def test_reset_forgets_what_was_sent(self, sim: SimControl, gateway: SmsGateway) -> None:
        gateway.send(TextMessage(to=MOBILE, text="x"), idempotency_key=new_key())
        sim.reset()
        assert received(sim) == []


class TestServed:
    def test_the_gateway_is_listed_apart_from_the_agencies(self) -> None:
        with served(SimulatorConfig(seed=1)) as http:
            body = http.get("/healthz").json()
            assert body["gateways"] == ["sms"] and "sms" not in body["agencies"]
            assert http.get("/sms/v1/messages").json() == {"messages": []}

    def test_a_config_can_make_it_slow(self) -> None:
        config = SimulatorConfig(seed=1, behaviours={"sms": {"outage": True}})
        with served(config) as http:
            assert http.get("/_sim/sms/behaviour").json()["outage"] is True
