"""The adapters' side of the SOAP wire format, against canned replies (pytest-httpx).

The SOAP agencies: seal engraving, bank account, tax and social insurance. zeep runs over
httpx, so pytest-httpx sees exactly what zeep sends and answers what a misbehaving agency
would.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from pytest_httpx import HTTPXMock, IteratorStream

from integrations.base import (
    BlockedError,
    Done,
    Pending,
    RejectedError,
    TransientError,
)
from integrations.http_replies import MAX_BODY_BYTES
from integrations.soap import SoapChannel
from integrations.tax import SOAP_SERVICE as TAX_SERVICE
from integrations.tax import TaxAdapter
from tests.integrations.agency_factories import (
    Adapters,
    bank_account_request,
    seal_request,
    social_insurance_request,
    tax_request,
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

SOAP_AGENCIES = ["seal", "bank_account", "tax", "social_insurance"]
NAMESPACES = {
    "seal": "urn:mps:seal-filing:v1",
    "bank_account": "urn:bank:corporate-account:v1",
    "tax": "urn:chinatax:taxpayer-registration:v1",
    "social_insurance": "urn:mohrss:si-unit-registration:v1",
}
REPLY_ELEMENTS = {
    "seal": "SealFilingReply",
    "bank_account": "AccountApplicationReply",
    "tax": "TaxpayerRegistrationReply",
    "social_insurance": "UnitRegistrationReply",
}
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XML = {"Content-Type": "text/xml; charset=utf-8"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
TAX_DONE = (
    "<done><taxpayer_id>91370783MA3C0DE00X</taxpayer_id><taxpayer_category>xgm"
    "</taxpayer_category><invoice_quota><single_limit_yuan>100000</single_limit_yuan>"
    "<monthly_count>25</monthly_count></invoice_quota><ukey_serial>661000000001</ukey_serial>"
    "</done>"
)


def envelope(body: str) -> bytes:
    """A SOAP 1.1 envelope around `body`."""
    return (
        f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP_ENV}">'
        f"<soap:Body>{body}</soap:Body></soap:Envelope>"
    ).encode()


def reply(agency: str, content: str, key: str = KEY) -> bytes:
    """The agency's reply element holding `content` (done, processing or unknown)."""
    name = REPLY_ELEMENTS[agency]
    return envelope(
        f'<{name} xmlns="{NAMESPACES[agency]}"><requestKey>{key}</requestKey>{content}</{name}>'
    )


def answers(httpx_mock: HTTPXMock, agency: str, content: str, key: str = KEY) -> None:
    """The agency will answer with its reply element holding `content`."""
    httpx_mock.add_response(content=reply(agency, content, key), headers=XML)


def soap_fault(code: str, message: str, detail: str = "") -> bytes:
    detail_xml = f"<detail>{detail}</detail>" if detail else ""
    return envelope(
        f"<soap:Fault><faultcode>soap:{code}</faultcode><faultstring>{message}</faultstring>"
        f"{detail_xml}</soap:Fault>"
    )


def refusal(agency: str, code: str, message: str, fields: tuple[str, ...] = ()) -> str:
    named = "".join(f"<field>{path}</field>" for path in fields)
    return (
        f'<Refusal xmlns="{NAMESPACES[agency]}"><code>{code}</code>'
        f"<message>{message}</message>{named}</Refusal>"
    )


def sent(httpx_mock: HTTPXMock) -> etree._Element:
    """The body element of the one envelope that was posted."""
    request = httpx_mock.get_request()
    assert request is not None
    assert request.headers["content-type"].startswith("text/xml")
    root = etree.fromstring(request.content)
    body = root.find(f"{{{SOAP_ENV}}}Body")
    assert body is not None
    return body[0]


def text(element: etree._Element, path: str, agency: str) -> list[str]:
    return [e.text or "" for e in element.iterfind(path, namespaces={"a": NAMESPACES[agency]})]


class TestRequestShape:
    def test_submit_posts_the_request_element_with_the_key(
        self, adapters: Adapters, httpx_mock: HTTPXMock
    ) -> None:
        httpx_mock.add_response(
            method="POST",
            url=f"{BASE}/tax/soap",
            match_headers={
                "SOAPAction": '"urn:chinatax:taxpayer-registration:v1#RegisterTaxpayer"'
            },
            content=reply("tax", TAX_DONE),
            headers=XML,
        )
        request = tax_request(taxpayer_type="small_scale")
        outcome = adapters["tax"].submit(request, idempotency_key=KEY)
        assert outcome == Done(
            result={
                "taxpayer_id": "91370783MA3C0DE00X",
                "taxpayer_type": "small_scale",
                "invoice_quota": 10_000_000,
                "invoice_monthly_count": 25,
                "ukey_serial": "661000000001",
            }
        )
        body = sent(httpx_mock)
        assert etree.QName(body).localname == "TaxpayerRegistrationRequest"
        assert text(body, "a:requestKey", "tax") == [KEY]
        assert text(body, "a:uscc", "tax") == [request.credit_code]
        assert text(body, "a:taxpayer_category", "tax") == ["xgm"]
        assert text(body, "a:finance_officer/a:cert_no", "tax") == [
            request.finance_officer.id_number if request.finance_officer else ""
        ]

    def test_a_missing_finance_officer_is_left_out(
        self, adapters: Adapters, httpx_mock: HTTPXMock
    ) -> None:
        answers(httpx_mock, "tax", TAX_DONE)
        adapters["tax"].submit(tax_request(finance_officer=None), idempotency_key=KEY)
        assert text(sent(httpx_mock), "a:finance_officer", "tax") == []

    def test_status_queries_by_key(self, adapters: Adapters, httpx_mock: HTTPXMock) -> None:
        answers(
            httpx_mock,
            "seal",
            "<processing><retry_after>1.5</retry_after>"
            "<progress><stage>engraving</stage></progress></processing>",
            key="filing:42/seal step",
        )
        assert adapters["seal"].status("filing:42/seal step") == Pending(retry_after=1.5)
        body = sent(httpx_mock)
        assert etree.QName(body).localname == "SealFilingQuery"
        assert text(body, "a:requestKey", "seal") == ["filing:42/seal step"]

    def test_seal_kinds_travel_as_the_engravers_codes_and_impressions_come_back(
        self, adapters: Adapters, httpx_mock: HTTPXMock
    ) -> None:
        image = base64.b64encode(PNG).decode()
        seals = "".join(
            f"<seal><seal_type>{t}</seal_type><seal_name>{n}</seal_name>"
            f"<filing_no>{f}</filing_no><specimen>{image}</specimen></seal>"
            for t, n, f in (("01", "公章", "A1"), ("04", "法定代表人名章", "A4"))
        )
        answers(httpx_mock, "seal", f"<done><uscc>U</uscc>{seals}</done>")
        request = seal_request(seals=("official", "legal_representative"))
        outcome = adapters["seal"].submit(request, idempotency_key=KEY)
        assert text(sent(httpx_mock), "a:seal_type", "seal") == ["01", "04"]
        assert outcome == Done(
            result={
                "seal_codes": {"official": "A1", "legal_representative": "A4"},
                "seal_specimens": {"official": image, "legal_representative": image},
            }
        )

    def test_the_bank_receives_the_reserved_impressions_as_binary(
        self, adapters: Adapters, httpx_mock: HTTPXMock
    ) -> None:
        answers(
            httpx_mock,
            "bank_account",
            "<done><account_no>6222</account_no><bank>ICBC</bank><bank_name>工行</bank_name>"
            "<branch>b</branch><account_type>basic</account_type></done>",
        )
        request = bank_account_request()
        outcome = adapters["bank_account"].submit(request, idempotency_key=KEY)
        assert outcome == Done(result={"account_number": "6222", "bank_code": "ICBC"})
        body = sent(httpx_mock)
        assert text(body, "a:seal_specimen/a:seal_type", "bank_account") == ["02", "04"]
        images = text(body, "a:seal_specimen/a:image", "bank_account")
        assert images == [s.image_base64 for s in request.seal_specimens]
        assert [float(r) for r in text(body, "a:shareholder/a:share_ratio", "bank_account")] == [
            60.0,
            40.0,
        ]

    def test_employees_repeat_in_the_unit_registration(
        self, adapters: Adapters, httpx_mock: HTTPXMock
    ) -> None:
        answers(
            httpx_mock,
            "social_insurance",
            "<done><unit_no>S1</unit_no><insured_count>3</insured_count></done>",
        )
        request = social_insurance_request()
        outcome = adapters["social_insurance"].submit(request, idempotency_key=KEY)
        assert outcome == Done(result={"unit_account": "S1", "enrolled": 3})
        assert text(sent(httpx_mock), "a:employee/a:cert_no", "social_insurance") == [
            m.id_number for m in request.staff
        ]

    def test_a_request_outside_the_schema_is_rejected_before_sending(
        self, adapters: Adapters, httpx_mock: HTTPXMock
    ) -> None:
        # The bank's schema asks for at least one shareholder: zeep will not build the envelope.
        request = bank_account_request().model_copy(update={"shareholders": ()})
        with pytest.raises(RejectedError) as caught:
            adapters["bank_account"].submit(request, idempotency_key=KEY)
        assert caught.value.code == "invalid_request"
        assert httpx_mock.get_requests() == []


class TestAgencyAnswers:
    def test_a_refusal_fault_is_a_rejection_with_code_and_message(
        self, adapters: Adapters, httpx_mock: HTTPXMock
    ) -> None:
        httpx_mock.add_response(
            status_code=500,
            content=soap_fault(
                "Client", "同一种印章只能刻制一枚", refusal("seal", "dup", "同一种印章只能刻制一枚")
            ),
            headers=XML,
        )
        with pytest.raises(RejectedError) as caught:
            adapters["seal"].submit(seal_request(), idempotency_key=KEY)
        assert (caught.value.code, caught.value.message) == ("dup", "同一种印章只能刻制一枚")
        assert caught.value.fields == ()  # a Refusal as before: it names no field

    @EITHER_CALL
    @pytest.mark.parametrize(
        ("agency", "wire", "ours"),
        [
            ("tax", ("finance_officer.cert_no",), ("finance_officer.id_number",)),
            (
                "social_insurance",
                ("employee.0.cert_no", "employee.2.cert_no"),
                ("staff.0.id_number", "staff.2.id_number"),
            ),
            (
                "bank_account",
                ("shareholder.1.name", "shareholder.1.cert_no"),
                ("shareholders.1.name", "shareholders.1.id_number"),
            ),
            ("seal", ("legal_representative.cert_no",), ("legal_representative.id_number",)),
        ],
    )
    def test_a_refusal_s_fields_are_read_as_paths_into_our_request(
        self,
        agency: str,
        wire: tuple[str, ...],
        ours: tuple[str, ...],
        call: Call,
        adapters: Adapters,
        httpx_mock: HTTPXMock,
    ) -> None:
        detail = refusal(agency, "invalid_id_number", "身份证号码无效", wire)
        httpx_mock.add_response(
            status_code=500, content=soap_fault("Client", "无效", detail), headers=XML
        )
        with pytest.raises(RejectedError) as caught:
            call(adapters, agency)
        assert caught.value.code == "invalid_id_number"
        assert caught.value.fields == ours

    def test_a_field_that_is_none_of_ours_or_empty_is_left_out(
        self, adapters: Adapters, httpx_mock: HTTPXMock
    ) -> None:
        detail = refusal("tax", "c", "m", ("no_such_field", " ", "uscc", "finance_officer.x"))
        httpx_mock.add_response(
            status_code=500, content=soap_fault("Client", "m", detail), headers=XML
        )
        with pytest.raises(RejectedError) as caught:
            adapters["tax"].submit(tax_request(), idempotency_key=KEY)
        assert caught.value.fields == ("credit_code",)

    def test_materials_missing_is_blocked_in_our_catalogue_words(
        self, adapters: Adapters, httpx_mock: HTTPXMock
    ) -> None:
        detail = (
            f'<MaterialsMissing xmlns="{NAMESPACES["tax"]}"><code>material_missing</code>'
            "<message>缺少财务负责人</message><material>finance_officer</material>"
            "</MaterialsMissing>"
        )
        httpx_mock.add_response(
            status_code=500, content=soap_fault("Client", "缺少财务负责人", detail), headers=XML
        )
        with pytest.raises(BlockedError) as caught:
            adapters["tax"].submit(tax_request(finance_officer=None), idempotency_key=KEY)
        assert caught.value.code == "material_missing"
        assert caught.value.materials == ("finance_tax_agents",)

    def test_unknown_key_on_status_is_none(self, adapters: Adapters, httpx_mock: HTTPXMock) -> None:
        answers(httpx_mock, "bank_account", "<unknown>no such key</unknown>")
        assert adapters["bank_account"].status(KEY) is None

    def test_unknown_on_submit_is_transient(
        self, adapters: Adapters, httpx_mock: HTTPXMock
    ) -> None:
        answers(httpx_mock, "tax", "<unknown>?</unknown>")
        with pytest.raises(TransientError):
            adapters["tax"].submit(tax_request(), idempotency_key=KEY)


def bad_replies(agency: str) -> dict[str, dict[str, Any]]:
    """Replies that no SOAP agency may send us, each to be a `TransientError`."""
    ns = NAMESPACES[agency]
    good = reply(agency, "<processing><retry_after>1</retry_after></processing>")
    return {
        "server fault": {
            "status_code": 500,
            "content": soap_fault("Server", "internal error"),
            "headers": XML,
        },
        "server fault with a refusal detail": {
            "status_code": 500,
            "content": soap_fault("Server", "x", refusal(agency, "c", "m")),
            "headers": XML,
        },
        "client fault without detail": {
            "status_code": 500,
            "content": soap_fault("Client", "bad"),
            "headers": XML,
        },
        "refusal without code": {
            "status_code": 500,
            "content": soap_fault(
                "Client", "x", f'<Refusal xmlns="{ns}"><message>m</message></Refusal>'
            ),
            "headers": XML,
        },
        "materials missing without materials": {
            "status_code": 500,
            "content": soap_fault(
                "Client",
                "x",
                f'<MaterialsMissing xmlns="{ns}"><code>c</code><message>m</message>'
                "</MaterialsMissing>",
            ),
            "headers": XML,
        },
        "500 without a fault": {"status_code": 500, "content": good, "headers": XML},
        "503 with a fault": {
            "status_code": 503,
            "content": soap_fault("Server", "down"),
            "headers": XML,
        },
        "502 html": {"status_code": 502, "html": "<html>Bad Gateway</html>"},
        "404": {"status_code": 404, "text": "Not Found"},
        "empty 200": {"content": b"", "headers": XML},
        "malformed xml": {"content": b"<soap:Envelope><oops", "headers": XML},
        "truncated": {"content": good[: len(good) // 2], "headers": XML},
        "not an envelope": {"content": b"<html><body>maintenance</body></html>", "headers": XML},
        "entity bomb": {
            "content": b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>' + good[21:],
            "headers": XML,
        },
        "json": {"json": {"status": "done", "result": {}}},
        "html content type": {"content": good, "headers": {"Content-Type": "text/html"}},
        "no content type": {"content": good},
        "soap 1.2 content type": {
            "content": good,
            "headers": {"Content-Type": "application/soap+xml"},
        },
        "element outside the schema": {
            "content": reply(agency, "<processing><retry_after>1</retry_after></processing><x/>"),
            "headers": XML,
        },
        "another agency's reply": {
            "content": envelope(f'<Other xmlns="{ns}"><requestKey>k</requestKey></Other>'),
            "headers": XML,
        },
        "neither done nor processing": {"content": reply(agency, ""), "headers": XML},
        "retry_after not a number": {
            "content": reply(agency, "<processing><retry_after>soon</retry_after></processing>"),
            "headers": XML,
        },
        "done of the wrong shape": {
            "content": reply(agency, "<done><nothing>useful</nothing></done>"),
            "headers": XML,
        },
        "declared oversized": {"content": b" " * (MAX_BODY_BYTES + 1), "headers": XML},
        "streamed oversized": {
            "stream": IteratorStream([b" " * 65536] * 17 + [good]),
            "headers": XML,
        },
    }


# The error code each bad reply gets (the rest: unexpected_reply).
CODES = {
    "server fault": "soap_fault",
    "server fault with a refusal detail": "soap_fault",
    "client fault without detail": "soap_fault",
    "materials missing without materials": "soap_fault",
    "500 without a fault": "soap_fault",
    "503 with a fault": "http_503",
    "502 html": "http_502",
    "404": "http_404",
    "json": "bad_content_type",
    "html content type": "bad_content_type",
    "no content type": "bad_content_type",
    "soap 1.2 content type": "bad_content_type",
    "declared oversized": "too_large",
    "streamed oversized": "too_large",
}


class TestTransientMapping:
    @EITHER_CALL
    @pytest.mark.parametrize("case", list(bad_replies("tax")))
    @pytest.mark.parametrize("agency", SOAP_AGENCIES)
    def test_bad_replies_are_transient(
        self, call: Call, case: str, agency: str, adapters: Adapters, httpx_mock: HTTPXMock
    ) -> None:
        httpx_mock.add_response(**bad_replies(agency)[case])
        with pytest.raises(TransientError) as caught:
            call(adapters, agency)
        assert caught.value.code == CODES.get(case, "unexpected_reply")

    @NETWORK_FAILURES
    def test_network_failures_are_transient(
        self, exception: Exception, code: str, adapters: Adapters, httpx_mock: HTTPXMock
    ) -> None:
        httpx_mock.add_exception(exception)
        with pytest.raises(TransientError) as caught:
            submit(adapters, "bank_account")
        assert caught.value.code == code


_texts = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=8)
_contents = st.lists(
    st.sampled_from(
        [
            "<done>",
            "</done>",
            "<processing>",
            "</processing>",
            "<retry_after>",
            "</retry_after>",
            "<unknown>",
            "</unknown>",
            "<taxpayer_id>",
            "</taxpayer_id>",
            "<invoice_quota>",
            "</invoice_quota>",
            "<progress><stage>x</stage></progress>",
            "1",
            "-1",
            "NaN",
            "&amp;",
            "<x/>",
        ]
    )
    | _texts,
    max_size=12,
).map("".join)


class TestNothingElseEscapes:
    @settings(max_examples=200, deadline=None)
    @given(status_code=st.sampled_from([200, 500]), content=_contents)
    def test_any_reply_is_an_outcome_or_an_agency_error(
        self, status_code: int, content: str
    ) -> None:
        body = reply("tax", content)

        def answer(request: httpx.Request) -> httpx.Response:
            return httpx.Response(status_code, content=body, headers=XML)

        transport = httpx.MockTransport(answer)
        adapter = TaxAdapter(SoapChannel(BASE, TAX_SERVICE, timeout=1, transport=transport))
        assert_nothing_else_escapes(adapter, tax_request())
