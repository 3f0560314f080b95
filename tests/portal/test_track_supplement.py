"""Supplying a 容缺 material on the tracking page and the branch confirming it, over HTTP: the
one-time code, the upload's bytes, the fields validated as at intake with errors beside them,
the branch's confirmation (the blocked step resumes) or refusal (the applicant reads why),
CSRF, and no access from another branch."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from orchestrator.identity.models import Branch
from orchestrator.identity.one_time_codes import MAX_ATTEMPTS
from orchestrator.runtime import Runtime
from tests.factories import filing_input
from tests.filings import complete, tax_blocked, wait_for
from tests.notifications import code_sent_by
from tests.people import BranchStaff, shouguang_branch, staff_at
from tests.portal.test_track import (
    MATERIAL,
    Opened,
    _client,
    _csrf,
    _file,
    _marked,
    _open,
    _rating_code,
    _sign_in,
    _wrong,
)

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n"
OFFICER = filing_input()["finance_officer"]


@pytest.fixture
def client(onestop: Runtime) -> Iterator[TestClient]:
    with _client(onestop) as c:
        yield c


def _blocked(rt: Runtime, staff: BranchStaff) -> str:
    code = _file(rt, staff, finance_officer=None)
    wait_for(rt, code, tax_blocked)
    return code


@pytest.fixture
def opened(onestop: Runtime, branch_staff: BranchStaff, client: TestClient) -> Opened:
    """A filing blocked for want of a 容缺 material, opened on the tracking page to supply it."""
    code = _blocked(onestop, branch_staff)
    return Opened(code, _csrf(_open(client, code).text))


def _fields(**overrides: str) -> dict[str, str]:
    return {
        "finance_officer.name": OFFICER["name"],
        "finance_officer.id_number": OFFICER["id_number"],
        "finance_officer.mobile": OFFICER["mobile"],
        **overrides,
    }


def _supply_code(rt: Runtime, client: TestClient, code: str, token: str) -> str:
    """Press "send me a code" in the material's form; the code the applicant's phone received."""
    return code_sent_by(
        rt,
        code,
        lambda: client.post(f"/track/supplement/{MATERIAL}/code", data={"csrf_token": token}),
    )


def _supply(
    client: TestClient,
    token: str,
    one_time_code: str,
    *,
    name: str = "officer.pdf",
    content: bytes = PDF,
    **fields: str,
) -> Any:
    return client.post(
        f"/track/supplement/{MATERIAL}",
        data={**_fields(**fields), "one_time_code": one_time_code, "csrf_token": token},
        files={"file": (name, content, "application/pdf")},
    )


def _clerk(rt: Runtime, staff: BranchStaff, portal: TestClient, username: str) -> None:
    with rt.database.transaction() as session:
        branch = session.get(Branch, staff.branch_id)
        assert branch is not None
        staff_at(session, branch, username, "周敏", password="clerk-password-9")
    _sign_in(portal, username, "clerk-password-9")


def _error_for(html: str, name: str) -> str:
    return _marked(html, f'data-error-for="{re.escape(name)}" data-raw')


class TestTheApplicantSupplies:
    def test_sent_it_waits_for_the_branch_who_confirms_and_the_filing_completes(
        self, onestop: Runtime, branch_staff: BranchStaff, client: TestClient
    ) -> None:
        code = _blocked(onestop, branch_staff)
        html = _open(client, code).text
        assert f'action="/track/supplement/{MATERIAL}"' in html
        assert f'action="/track/supplement/{MATERIAL}/code"' in html
        assert 'action="/track/rating"' not in html  # not complete: nothing to rate yet
        token = _csrf(html)
        sent = _supply(client, token, _supply_code(onestop, client, code, token))
        assert sent.status_code == 200 and 'data-test="supply-sent"' in sent.text, re.findall(
            r"data-error-for=[^<]*<", sent.text
        )
        assert f'action="/track/supplement/{MATERIAL}"' not in sent.text  # no second send
        assert OFFICER["id_number"] not in sent.text
        assert tax_blocked(wait_for(onestop, code, lambda _f: True))  # until the branch confirms

        with TestClient(client.app) as portal:
            _clerk(onestop, branch_staff, portal, "supply_clerk")
            filing_page = portal.get(f"/portal/filings/{code}")
            assert 'data-test="supplements-link"' in filing_page.text
            listing = portal.get(f"/portal/filings/{code}/supplements")
            assert listing.status_code == 200 and 'data-status="pending"' in listing.text
            assert OFFICER["id_number"] not in listing.text  # masked on staff pages
            assert OFFICER["id_number"][:6] in listing.text and "财务负责人" in listing.text
            upload = portal.get(re.findall(r'href="(/portal/filings/[^"]+/file)"', listing.text)[0])
            assert upload.content == PDF and upload.headers["content-type"] == "application/pdf"
            action = re.findall(r'action="(/portal/filings/[^"]+/confirm)"', listing.text)[0]
            forged = portal.post(action, data={"csrf_token": "forged"})
            assert forged.status_code == 403
            confirmed = portal.post(action, data={"csrf_token": _csrf(listing.text)})
            assert confirmed.status_code == 200 and 'data-status="confirmed"' in confirmed.text
        filing = wait_for(onestop, code, complete)
        assert filing.payload["finance_officer"]["id_number"] == OFFICER["id_number"]
        after = client.get("/track/filing").text
        assert 'data-test="to-supply"' not in after

    def test_bytes_unlike_their_name_and_invalid_fields_are_refused_beside_them(
        self, onestop: Runtime, client: TestClient, opened: Opened
    ) -> None:
        code, token = opened
        texted = _supply_code(onestop, client, code, token)
        png_named_pdf = _supply(client, token, texted, content=b"\x89PNG\r\n\x1a\n0000")
        assert png_named_pdf.status_code == 422
        assert _error_for(png_named_pdf.text, "file") == "文件内容与文件名所示类型不符"
        assert f'value="{OFFICER["name"]}"' in png_named_pdf.text  # a name typed stays
        assert OFFICER["id_number"] not in png_named_pdf.text  # an ID is typed again
        client.post("/track/language", data={"language": "en", "csrf_token": token,
                                             "next": "/track/filing"})  # fmt: skip
        wrong_id = _supply(
            client, token, texted, **{"finance_officer.id_number": "37078319900101123X"}
        )
        assert wrong_id.status_code == 422
        assert "GB 11643" in _error_for(wrong_id.text, "finance_officer.id_number")
        # A wrong code, and a code texted to rate with: neither supplies.
        for_rating = _rating_code(onestop, client, code, token)
        for other in {_wrong(texted), for_rating} - {texted}:
            wrong_code = _supply(client, token, other)
            assert wrong_code.status_code == 422
            assert (
                _error_for(wrong_code.text, "one_time_code") == "the code is wrong or has expired"
            )
        expired = _supply(client, "forged", texted)
        assert expired.status_code == 403
        page = client.get("/track/filing").text
        assert 'data-test="supply-sent"' not in page  # nothing was kept
        # Every refusal left the code good for the corrected form.
        assert 'data-test="supply-sent"' in _supply(client, token, texted).text

    @pytest.mark.databases("sqlite", "postgresql")  # the count is a write that must hold
    def test_wrong_codes_are_counted_until_even_the_right_one_is_refused(
        self, onestop: Runtime, client: TestClient, opened: Opened
    ) -> None:
        code, token = opened
        texted = _supply_code(onestop, client, code, token)
        for guess in range(1, MAX_ATTEMPTS + 1):
            wrong = _supply(client, token, _wrong(texted, guess))
            assert wrong.status_code == 422
            assert _error_for(wrong.text, "one_time_code") == "验证码不正确或已过期"
        late = _supply(client, token, texted)
        assert late.status_code == 429, late.text
        assert _error_for(late.text, "form") == "验证码错误次数过多，请重新获取验证码"
        assert 'data-test="supply-sent"' not in late.text
        # A new code, and the material is sent.
        sent = _supply(client, token, _supply_code(onestop, client, code, token))
        assert sent.status_code == 200 and 'data-test="supply-sent"' in sent.text

    def test_a_refused_supplement_is_shown_to_the_applicant_who_may_send_again(
        self, onestop: Runtime, branch_staff: BranchStaff, client: TestClient, opened: Opened
    ) -> None:
        code, token = opened
        assert _supply(client, token, _supply_code(onestop, client, code, token)).status_code == 200
        with TestClient(client.app) as portal:
            _clerk(onestop, branch_staff, portal, "refuse_clerk")
            listing = portal.get(f"/portal/filings/{code}/supplements")
            action = re.findall(r'action="(/portal/filings/[^"]+/refuse)"', listing.text)[0]
            empty = portal.post(action, data={"reason": " ", "csrf_token": _csrf(listing.text)})
            assert empty.status_code == 422 and 'data-test="error"' in empty.text
            refused = portal.post(
                action, data={"reason": "扫描件<模糊>", "csrf_token": _csrf(listing.text)}
            )
            assert refused.status_code == 200 and 'data-status="refused"' in refused.text
        page = client.get("/track/filing").text
        assert 'data-test="supply-refused"' in page and "扫描件&lt;模糊&gt;" in page
        assert f'action="/track/supplement/{MATERIAL}"' in page  # still due: send again
        again = _supply(client, token, _supply_code(onestop, client, code, token))
        assert again.status_code == 200 and 'data-test="supply-sent"' in again.text


def test_another_branchs_staff_find_nothing(
    onestop: Runtime, client: TestClient, opened: Opened
) -> None:
    code, token = opened
    assert _supply(client, token, _supply_code(onestop, client, code, token)).status_code == 200
    with onestop.database.transaction() as session:
        other = shouguang_branch(session, "SG-BOC-07", "中国银行寿光支行", "BOC")
        staff_at(session, other, "supply_other", "吴强", password="other-password-7")
    with TestClient(client.app) as portal:
        _sign_in(portal, "supply_other", "other-password-7")
        listing = portal.get(f"/portal/filings/{code}/supplements")
        assert listing.status_code == 404
        home = portal.get("/portal/")
        token = _csrf(home.text)
        for act in ("confirm", "refuse"):
            denied = portal.post(
                f"/portal/filings/{code}/supplements/1/{act}",
                data={"reason": "x", "csrf_token": token},
            )
            assert denied.status_code == 404
        assert portal.get(f"/portal/filings/{code}/supplements/1/file").status_code == 404
    assert tax_blocked(wait_for(onestop, code, lambda _f: True))
