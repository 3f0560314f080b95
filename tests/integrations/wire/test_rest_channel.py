"""The adapters' side of the REST/JSON wire format, against canned replies (pytest-httpx).

The REST agencies: registration, medical insurance, housing fund and courier (the SOAP ones
are in `test_soap_channel.py`)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest_httpx import HTTPXMock, IteratorStream

from integrations.base import (
    AgencyDocument,
    BlockedError,
    Done,
    Pending,
    RejectedError,
    TransientError,
)
from integrations.codes import gb32100_check_char
from integrations.http_replies import MAX_BODY_BYTES
from integrations.registration import RegistrationAdapter
from integrations.rest import RestChannel
from tests.integrations.agency_factories import (
    Adapters,
    courier_request,
    housing_fund_request,
    registration_request,
    shareholder,
)
from tests.integrations.wire import (
    BASE,
    EITHER_CALL,
    KEY,
    NETWORK_FAILURES,
    Call,
    assert_nothing_else_escapes,
    submit,
)

# The agencies that speak REST/JSON in life (the others move to SOAP).
REST_AGENCIES = ["registration", "medical_insurance", "housing_fund", "courier"]

_BODY17 = "91370783MA3C0DE00"
USCC = _BODY17 + gb32100_check_char(_BODY17)
PDF = b"%PDF-1.4 a licence as the bureau sends it"


def url(agency: str, key: str | None = None) -> str:
    base = f"{BASE}/{agency}/v1/requests"
    return base if key is None else f"{base}/{key}"


def sent_json(httpx_mock: HTTPXMock) -> dict[str, Any]:
    request = httpx_mock.get_request()
    assert request is not None
    body: dict[str, Any] = json.loads(request.content)
    return body


class TestRequestShape:
    def test_submit_posts_json_with_the_idempotency_key(
        self, adapters: Adapters, httpx_mock: HTTPXMock
    ) -> None:
        httpx_mock.add_response(
            method="POST",
            url=url("registration"),
            match_headers={"Idempotency-Key": KEY, "Content-Type": "application/json"},
            json={
                "status": "done",
                "result": {
                    "uscc": USCC,
                    "licence_no": "L1",
                    "licence_pdf": base64.b64encode(PDF).decode(),
                },
            },
        )
        request = registration_request(registered_capital_fen=123_456_789)
        outcome = adapters["registration"].submit(request, idempotency_key=KEY)
        licence = AgencyDocument("licence", "application/pdf", PDF, reference="L1")
        assert outcome == Done(result={"credit_code": USCC, "licence_id": "L1", "licence": licence})
        body = sent_json(httpx_mock)
        assert body["enterprise_name"] == request.company_name
        assert body["region_code"] == request.district_code
        assert body["registered_capital_yuan"] == "1234567.89"
        assert body["application_date"] == "2025-03-03"
        assert body["legal_representative"] == {
            "name": request.legal_representative.name,
            "cert_no": request.legal_representative.id_number,
            "phone": request.legal_representative.mobile,
        }
        assert [i["share_ratio"] for i in body["investors"]] == [60.0, 40.0]

    def test_status_gets_the_key_url_encoded(
        self, adapters: Adapters, httpx_mock: HTTPXMock
    ) -> None:
        httpx_mock.add_response(
            method="GET",
            url=url("medical_insurance", "filing%3A42%2Fmedical%20step"),
            status_code=202,
            json={"status": "processing", "retry_after": 1.5},
        )
        assert adapters["medical_insurance"].status("filing:42/medical step") == Pending(
            retry_after=1.5
        )

    def test_housing_rate_travels_as_a_fraction(
        self, adapters: Adapters, httpx_mock: HTTPXMock
    ) -> None:
        httpx_mock.add_response(
            json={"status": "done", "result": {"unit_account_no": "G1", "depositor_count": 3}}
        )
        outcome = adapters["housing_fund"].submit(
            housing_fund_request(contribution_rate_percent=7.5), idempotency_key=KEY
        )
        assert sent_json(httpx_mock)["deposit_rate"] == "0.075000"
        assert outcome == Done(result={"unit_account": "G1", "enrolled": 3})

    def test_courier_pending_carries_the_waybill(
        self, adapters: Adapters, httpx_mock: HTTPXMock
    ) -> None:
        httpx_mock.add_response(
            status_code=202,
            json={
                "status": "processing",
                "retry_after": 3,
                "progress": {"waybill_no": "EA123456785CN", "state": "COLLECTED"},
            },
        )
        outcome = adapters["courier"].submit(courier_request(), idempotency_key=KEY)
        assert outcome == Pending(retry_after=3, ticket="EA123456785CN")
        assert sent_json(httpx_mock)["consignee"]["phone"] == "13905361234"


class TestRequestsThatCannotBeSent:
    def test_a_share_that_is_not_a_number_is_rejected_before_sending(
        self, adapters: Adapters, httpx_mock: HTTPXMock
    ) -> None:
        request = registration_request(shareholders=(shareholder("张伟", float("nan")),))
        with pytest.raises(RejectedError) as caught:
            adapters["registration"].submit(request, idempotency_key=KEY)
        assert caught.value.code == "invalid_request"
        assert httpx_mock.get_requests() == []

    def test_an_infinite_rate_is_rejected_before_sending(
        self, adapters: Adapters, httpx_mock: HTTPXMock
    ) -> None:
        request = housing_fund_request(contribution_rate_percent=float("inf"))
        with pytest.raises(RejectedError):
            adapters["housing_fund"].submit(request, idempotency_key=KEY)
        assert httpx_mock.get_requests() == []


class TestAgencyAnswers:
    def test_rejection_carries_code_and_message(
        self, adapters: Adapters, httpx_mock: HTTPXMock
    ) -> None:
        httpx_mock.add_response(
            status_code=422,
            json={"status": "rejected", "code": "name_conflict", "message": "字号「鑫达」已登记"},
        )
        with pytest.raises(RejectedError) as caught:
            adapters["registration"].submit(registration_request(), idempotency_key=KEY)
        assert (caught.value.code, caught.value.message) == ("name_conflict", "字号「鑫达」已登记")

    def test_bad_request_is_a_rejection(self, adapters: Adapters, httpx_mock: HTTPXMock) -> None:
        httpx_mock.add_response(
            status_code=400,
            json={"status": "rejected", "code": "malformed_json", "message": "not JSON"},
        )
        with pytest.raises(RejectedError):
            adapters["housing_fund"].submit(housing_fund_request(), idempotency_key=KEY)

    def test_blocked_names_the_materials(self, adapters: Adapters, httpx_mock: HTTPXMock) -> None:
        httpx_mock.add_response(
            status_code=409,
            json={
                "status": "blocked",
                "code": "material_missing",
                "message": "缺少参保职工花名册",
                "materials": ["staff_roster"],
            },
        )
        with pytest.raises(BlockedError) as caught:
            submit(adapters, "medical_insurance")
        assert caught.value.code == "material_missing"
        assert caught.value.materials == ("staff_roster",)

    def test_unknown_key_on_status_is_none(self, adapters: Adapters, httpx_mock: HTTPXMock) -> None:
        httpx_mock.add_response(status_code=404, json={"status": "unknown", "message": "?"})
        assert adapters["courier"].status(KEY) is None

    def test_404_on_submit_is_transient(self, adapters: Adapters, httpx_mock: HTTPXMock) -> None:
        httpx_mock.add_response(status_code=404, text="Not Found")
        with pytest.raises(TransientError):
            submit(adapters, "courier")


class CutAfter:
    """A body whose connection drops after its first bytes (the agency or a proxy died).

    Re-iterable, because one case serves many tests.
    """

    def __init__(self, first: bytes) -> None:
        self.first = first

    def __iter__(self) -> Iterator[bytes]:
        yield self.first
        raise httpx.RemoteProtocolError("peer closed connection without sending the whole body")


BAD_REPLIES: dict[str, dict[str, Any]] = {
    "500": {"status_code": 500, "text": "Internal Server Error"},
    "502": {"status_code": 502, "html": "<html>Bad Gateway</html>"},
    "503": {"status_code": 503, "json": {"status": "unavailable"}},
    "504": {"status_code": 504},
    "408": {"status_code": 408, "text": "Request Timeout"},
    "429": {"status_code": 429, "json": {"status": "slow down"}},
    "401": {"status_code": 401, "json": {"status": "rejected", "code": "x", "message": "y"}},
    "301": {"status_code": 301, "headers": {"Location": "http://elsewhere.test/"}},
    "truncated json": {
        "content": b'{"status": "do',
        "headers": {"Content-Type": "application/json"},
    },
    "not utf-8": {"content": b"\xff\xfe{}", "headers": {"Content-Type": "application/json"}},
    "absurdly nested json": {
        "content": b"[" * 200_000 + b"]" * 200_000,
        "headers": {"Content-Type": "application/json"},
    },
    "cut mid-body": {
        "stream": IteratorStream(CutAfter(b'{"status": "done", "res')),
        "headers": {"Content-Type": "application/json", "Content-Length": "400"},
    },
    "html": {"html": "<html><body>maintenance</body></html>"},
    "json as text/plain": {
        "content": b'{"status": "done", "result": {}}',
        "headers": {"Content-Type": "text/plain"},
    },
    "no content type": {"content": b'{"status": "done", "result": {}}'},
    "json list": {"json": [1, 2, 3]},
    "unknown status": {"json": {"status": "maybe"}},
    "done without result": {"json": {"status": "done"}},
    "processing on 200": {"json": {"status": "processing", "retry_after": 1}},
    "done on 202": {"status_code": 202, "json": {"status": "done", "result": {}}},
    "negative retry_after": {
        "status_code": 202,
        "json": {"status": "processing", "retry_after": -1},
    },
    "rejected without code": {"status_code": 422, "json": {"status": "rejected"}},
    "blocked without materials": {
        "status_code": 409,
        "json": {"status": "blocked", "code": "c", "message": "m"},
    },
    "result of the wrong shape": {"json": {"status": "done", "result": {"nothing": "useful"}}},
    "declared oversized": {
        "content": b" " * (MAX_BODY_BYTES + 1),
        "headers": {"Content-Type": "application/json"},
    },
    "streamed oversized": {
        "stream": IteratorStream([b" " * 65536] * 17 + [b"{}"]),
        "headers": {"Content-Type": "application/json"},
    },
}


class TestTransientMapping:
    @EITHER_CALL
    @pytest.mark.parametrize("case", list(BAD_REPLIES))
    @pytest.mark.parametrize("agency", REST_AGENCIES)
    def test_bad_replies_are_transient(
        self, call: Call, case: str, agency: str, adapters: Adapters, httpx_mock: HTTPXMock
    ) -> None:
        httpx_mock.add_response(**BAD_REPLIES[case])
        with pytest.raises(TransientError):
            call(adapters, agency)

    def test_an_invalid_credit_code_from_the_bureau_is_transient(
        self, adapters: Adapters, httpx_mock: HTTPXMock
    ) -> None:
        httpx_mock.add_response(
            json={
                "status": "done",
                "result": {
                    "uscc": USCC[:-1] + "0",
                    "licence_no": "L",
                    "licence_pdf": base64.b64encode(PDF).decode(),
                },
            }
        )
        with pytest.raises(TransientError):
            submit(adapters, "registration")

    def test_json_with_a_charset_is_fine(self, adapters: Adapters, httpx_mock: HTTPXMock) -> None:
        httpx_mock.add_response(
            content=json.dumps(
                {"status": "done", "result": {"unit_code": "S1", "insured_count": 3}}
            ).encode(),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        outcome = submit(adapters, "medical_insurance")
        assert outcome == Done(result={"unit_account": "S1", "enrolled": 3})

    @NETWORK_FAILURES
    @pytest.mark.parametrize("agency", REST_AGENCIES)
    def test_network_failures_are_transient(
        self,
        exception: Exception,
        code: str,
        agency: str,
        adapters: Adapters,
        httpx_mock: HTTPXMock,
    ) -> None:
        httpx_mock.add_exception(exception)
        with pytest.raises(TransientError) as caught:
            submit(adapters, agency)
        assert caught.value.code == code
        httpx_mock.add_exception(exception)
        with pytest.raises(TransientError):
            adapters[agency].status(KEY)  # asking what happened may time out too


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_statuses = st.sampled_from(["done", "processing", "rejected", "blocked", "unknown"])
_bodies = _json_values | st.fixed_dictionaries(
    {"status": _statuses},
    optional={
        "result": _json_values,
        "retry_after": _json_values,
        "code": _json_values,
        "message": _json_values,
        "materials": _json_values,
        "progress": _json_values,
    },
)


class TestNothingElseEscapes:
    @settings(max_examples=300, deadline=None)
    @given(
        status_code=st.sampled_from([200, 202, 204, 400, 404, 409, 422, 500]),
        body=_bodies,
    )
    def test_any_reply_is_an_outcome_or_an_agency_error(
        self, status_code: int, body: object
    ) -> None:
        def reply(request: httpx.Request) -> httpx.Response:
            return httpx.Response(
                status_code,
                content=json.dumps(body).encode(),  # NaN and Infinity included
                headers={"Content-Type": "application/json"},
            )

        transport = httpx.MockTransport(reply)
        adapter = RegistrationAdapter(
            RestChannel(BASE, "registration", timeout=1, transport=transport)
        )
        assert_nothing_else_escapes(adapter, registration_request())
