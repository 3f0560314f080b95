"""The four REST agencies' adapters against canned replies (pytest-httpx): each one's request
in its own vocabulary, and the agency's refusals and blocks in ours.

The wire-level failures every REST agency shares (5xx, garbage, timeouts, oversized) are in
`test_rest_channel.py`, parametrised over the same agencies.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock, IteratorStream

from integrations.base import BlockedError, Done, Pending, RejectedError, TransientError
from integrations.registration import RegistrationAdapter
from integrations.requests import EnrolmentRequest
from tests.integrations.agency_factories import (
    REQUEST_FACTORIES,
    courier_request,
    housing_fund_request,
    medical_insurance_request,
    registration_request,
    staff,
)
from tests.integrations.wire import (
    BASE,
    KEY,
)
from tests.integrations.wire.test_rest_channel import (
    REST_AGENCIES,
    USCC,
    Adapters,
    CutAfter,
    url,
)

# A final result of each agency, in its own words, and the same in ours.
DONE: dict[str, tuple[dict[str, Any], dict[str, object]]] = {
    "medical_insurance": (
        {"unit_code": "YB370783000123", "insured_count": 3},
        {"unit_account": "YB370783000123", "enrolled": 3},
    ),
    "housing_fund": (
        {"unit_account_no": "GJJ0012345", "depositor_count": 3},
        {"unit_account": "GJJ0012345", "enrolled": 3},
    ),
    "courier": (
        {"waybill_no": "EA123456785CN", "state": "SIGNED"},
        {"waybill": "EA123456785CN", "state": "delivered"},
    ),
}


def sent(httpx_mock: HTTPXMock) -> tuple[httpx.Request, dict[str, Any]]:
    request = httpx_mock.get_request()
    assert request is not None
    body: dict[str, Any] = json.loads(request.content)
    return request, body


class TestRequests:
    @pytest.mark.parametrize("agency", REST_AGENCIES)
    def test_submit_is_one_json_post_under_the_idempotency_key(
        self, agency: str, adapters: Adapters, httpx_mock: HTTPXMock
    ) -> None:
        httpx_mock.add_response(status_code=202, json={"status": "processing", "retry_after": 2})
        outcome = adapters[agency].submit(REQUEST_FACTORIES[agency](), idempotency_key=KEY)
        assert isinstance(outcome, Pending) and outcome.retry_after == 2
        request, _ = sent(httpx_mock)
        assert (request.method, str(request.url)) == ("POST", url(agency))
        assert request.headers["Idempotency-Key"] == KEY
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers["Accept"] == "application/json"

    @pytest.mark.parametrize("agency", REST_AGENCIES)
    def test_status_is_a_get_by_key(
        self, agency: str, adapters: Adapters, httpx_mock: HTTPXMock
    ) -> None:
        httpx_mock.add_response(status_code=202, json={"status": "processing", "retry_after": 1})
        assert adapters[agency].status(KEY) == Pending(retry_after=1)
        request = httpx_mock.get_request()
        assert request is not None and request.method == "GET"
        assert str(request.url) == url(agency, "filing-42%3Astep") and not request.content

    def test_registration_speaks_the_bureaus_words(
        self, adapters: Adapters, httpx_mock: HTTPXMock
    ) -> None:
        httpx_mock.add_response(status_code=202, json={"status": "processing", "retry_after": 1})
        request = registration_request()
        adapters["registration"].submit(request, idempotency_key=KEY)
        _, body = sent(httpx_mock)
        assert set(body) == {
            "region_code", "industry_code", "enterprise_name", "enterprise_type",
            "registered_capital_yuan", "business_scope", "domicile", "legal_representative",
            "investors", "application_date",
        }  # fmt: skip
        assert body["industry_code"] == "0141" and body["domicile"] == request.address
        assert body["business_scope"] == ["蔬菜种植", "农业技术推广"]
        assert body["registered_capital_yuan"] == "1000000.00"
        assert body["investors"][1] == {
            "name": "李娜",
            "cert_no": request.shareholders[1].id_number,
            "phone": "13905361234",
            "share_ratio": 40.0,
        }

    @pytest.mark.parametrize(
        ("agency", "request_", "roster", "terms"),
        [
            pytest.param(
                "medical_insurance",
                medical_insurance_request(staff=staff(2)),
                "insured_persons",
                {},
                id="medical_insurance-the_staff_as_insured_persons",
            ),
            pytest.param(
                "housing_fund",
                housing_fund_request(contribution_rate_percent=12),
                "employees",
                {"deposit_rate": "0.120000"},
                id="housing_fund-the_rate_as_a_fraction",
            ),
        ],
    )
    def test_an_enrolling_agency_receives_the_unit_with_its_staff(
        self,
        agency: str,
        request_: EnrolmentRequest,
        roster: str,
        terms: dict[str, str],
        adapters: Adapters,
        httpx_mock: HTTPXMock,
    ) -> None:
        wire, ours = DONE[agency]
        httpx_mock.add_response(json={"status": "done", "result": wire})
        assert adapters[agency].submit(request_, idempotency_key=KEY) == Done(ours)
        _, body = sent(httpx_mock)
        assert body == {
            "uscc": request_.credit_code,
            "unit_name": request_.company_name,
            "region_code": "370783",
            **terms,
            roster: [{"name": m.name, "cert_no": m.id_number} for m in request_.staff],
        }

    def test_courier_books_the_shipment_for_the_company(
        self, adapters: Adapters, httpx_mock: HTTPXMock
    ) -> None:
        wire, ours = DONE["courier"]
        httpx_mock.add_response(json={"status": "done", "result": wire})
        request = courier_request()
        assert adapters["courier"].submit(request, idempotency_key=KEY) == Done(ours)
        _, body = sent(httpx_mock)
        assert body == {
            "sender_ref": request.credit_code,
            "consignee": {"name": "张伟", "phone": "13905361234", "address": request.address},
            "contents": ["营业执照正本", "公章", "财务专用章"],
            "remark": request.company_name,
        }

    @pytest.mark.parametrize("state", ["COLLECTED", "IN_TRANSIT"])
    def test_courier_states_read_in_our_words(
        self, state: str, adapters: Adapters, httpx_mock: HTTPXMock
    ) -> None:
        httpx_mock.add_response(
            json={"status": "done", "result": {"waybill_no": "EA1", "state": state}}
        )
        outcome = adapters["courier"].status(KEY)
        assert isinstance(outcome, Done)
        assert (
            outcome.result["state"] == {"COLLECTED": "picked_up", "IN_TRANSIT": "in_transit"}[state]
        )

    def test_an_unknown_courier_state_is_transient(
        self, adapters: Adapters, httpx_mock: HTTPXMock
    ) -> None:
        httpx_mock.add_response(
            json={"status": "done", "result": {"waybill_no": "EA1", "state": "LOST_AT_SEA"}}
        )
        with pytest.raises(TransientError) as caught:
            adapters["courier"].status(KEY)
        assert caught.value.code == "unexpected_reply"

    def test_a_licence_that_is_not_a_pdf_is_transient(
        self, adapters: Adapters, httpx_mock: HTTPXMock
    ) -> None:
        for licence in ("PGh0bWw+", "not base64!"):  # "<html>", and garbage
            httpx_mock.add_response(
                json={
                    "status": "done",
                    "result": {"uscc": USCC, "licence_no": "L1", "licence_pdf": licence},
                }
            )
            with pytest.raises(TransientError):
                adapters["registration"].status(KEY)


class TestRefusals:
    @pytest.mark.parametrize("status_code", [400, 422])
    @pytest.mark.parametrize("agency", REST_AGENCIES)
    def test_a_refusal_is_rejected_with_the_agencys_code_and_message(
        self, agency: str, status_code: int, adapters: Adapters, httpx_mock: HTTPXMock
    ) -> None:
        httpx_mock.add_response(
            status_code=status_code,
            json={"status": "rejected", "code": "invalid_data", "message": "单位名称与登记不符"},
        )
        with pytest.raises(RejectedError) as caught:
            adapters[agency].submit(REQUEST_FACTORIES[agency](), idempotency_key=KEY)
        assert (caught.value.code, caught.value.message) == ("invalid_data", "单位名称与登记不符")
        assert caught.value.kind == "rejected"

    @pytest.mark.parametrize(
        ("agency", "theirs", "ours"),
        [
            ("medical_insurance", "staff_roster", "staff_roster"),
            ("housing_fund", "housing_fund_authorisation", "housing_fund_authorisation"),
            ("registration", "articles_of_association", "articles_of_association"),
            ("courier", "consignee_id_copy", "consignee_id_copy"),  # not ours: passed on as is
        ],
    )
    def test_a_block_names_the_materials_in_our_catalogue(
        self, agency: str, theirs: str, ours: str, adapters: Adapters, httpx_mock: HTTPXMock
    ) -> None:
        httpx_mock.add_response(
            status_code=409,
            json={"status": "blocked", "code": "material_missing", "message": "缺件", "materials":
                  [theirs]},
        )  # fmt: skip
        with pytest.raises(BlockedError) as caught:
            adapters[agency].submit(REQUEST_FACTORIES[agency](), idempotency_key=KEY)
        assert caught.value.materials == (ours,) and caught.value.code == "material_missing"

    @pytest.mark.parametrize("agency", REST_AGENCIES)
    def test_a_block_found_by_status_is_a_block_too(
        self, agency: str, adapters: Adapters, httpx_mock: HTTPXMock
    ) -> None:
        httpx_mock.add_response(
            status_code=409,
            json={"status": "blocked", "code": "c", "message": "m", "materials": ["staff_roster"]},
        )
        with pytest.raises(BlockedError):
            adapters[agency].status(KEY)

    @pytest.mark.parametrize("agency", REST_AGENCIES)
    def test_an_unknown_key_is_none_on_status_but_transient_on_submit(
        self, agency: str, adapters: Adapters, httpx_mock: HTTPXMock
    ) -> None:
        httpx_mock.add_response(method="GET", status_code=404, json={"status": "unknown"})
        assert adapters[agency].status(KEY) is None
        httpx_mock.add_response(method="POST", status_code=404, text="no such route")
        with pytest.raises(TransientError):
            adapters[agency].submit(REQUEST_FACTORIES[agency](), idempotency_key=KEY)

    @pytest.mark.parametrize("agency", REST_AGENCIES)
    def test_a_refusal_under_the_wrong_status_code_is_not_believed(
        self, agency: str, adapters: Adapters, httpx_mock: HTTPXMock
    ) -> None:
        # A 200 that says "rejected" is a confused agency or proxy, not a decision on the merits.
        httpx_mock.add_response(json={"status": "rejected", "code": "x", "message": "y"})
        with pytest.raises(TransientError):
            adapters[agency].submit(REQUEST_FACTORIES[agency](), idempotency_key=KEY)

    def test_a_body_cut_mid_way_is_a_connection_failure(
        self, adapters: Adapters, httpx_mock: HTTPXMock
    ) -> None:
        httpx_mock.add_response(
            stream=IteratorStream(CutAfter(b'{"status": "do')),
            headers={"Content-Type": "application/json"},
        )
        with pytest.raises(TransientError) as caught:
            adapters["housing_fund"].status(KEY)
        assert caught.value.code == "connection"


def registration(adapters: Adapters) -> RegistrationAdapter:
    adapter = adapters["registration"]
    assert isinstance(adapter, RegistrationAdapter)
    return adapter


class TestNameCheck:
    """The bureau's name check: a question, not a request (no key, nothing reserved)."""

    def test_the_answer_in_our_words(self, adapters: Adapters, httpx_mock: HTTPXMock) -> None:
        httpx_mock.add_response(
            method="GET",
            url=httpx.URL(
                f"{BASE}/registration/v1/names/check",
                params={"region_code": "370783", "name": "寿光市禾丰农业科技有限公司"},
            ),
            json={"available": False, "code": "name_conflict", "message": "字号「禾丰」已登记"},
        )
        answer = registration(adapters).check_name("370783", "寿光市禾丰农业科技有限公司")
        assert (answer.available, answer.code) == (False, "name_conflict")

    @pytest.mark.parametrize(
        ("status", "body"),
        [(503, {"status": "unavailable"}), (200, {"available": "perhaps"}), (200, ["not", "one"])],
    )
    def test_no_answer_we_can_read_is_transient(
        self, adapters: Adapters, httpx_mock: HTTPXMock, status: int, body: Any
    ) -> None:
        httpx_mock.add_response(method="GET", status_code=status, json=body)
        with pytest.raises(TransientError):
            registration(adapters).check_name("370783", "寿光市禾丰农业科技有限公司")
