"""The entrepreneur's tracking page (/track) over HTTP: opening a filing with its tracking code
and phone digits, the rate limits, what the page shows and never shows, and the one filing a
session reaches."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, NamedTuple

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from bank_portal import track
from bank_portal.track import visits
from orchestrator.api.app import web_app
from orchestrator.feedback.models import FollowUp, FollowUpStatus
from orchestrator.filings import documents
from orchestrator.filings.models import Filing
from orchestrator.filings.tracking import TrackingSession
from orchestrator.identity.models import Branch, Role
from orchestrator.identity.one_time_codes import MAX_ATTEMPTS, MAX_PER_HOUR
from orchestrator.runtime import Runtime
from orchestrator.settings import Settings
from tests.factories import ALL_MATERIALS, filing_input
from tests.filings import complete, events, file, supplement, wait_for
from tests.notifications import code_sent_by
from tests.people import BranchStaff, shouguang_branch, staff_at
from tests.portal.conftest import SCRIPT_NAME

MOBILE = "13979468765"
DIGITS = MOBILE[-4:]
# Every run of four digits of the mobile past its first three: none may be on a page.
HIDDEN_DIGITS = [MOBILE[i : i + 4] for i in range(3, len(MOBILE) - 3)]
ID_NUMBER = re.compile(r"\d{17}[\dX]")
MATERIAL = "finance_tax_agents"  # a 容缺 material: it carries the finance officer, blocks tax


def _file(rt: Runtime, staff: BranchStaff, **overrides: Any) -> str:
    return file(
        rt,
        staff,
        legal_representative__mobile=MOBILE,
        delivery__mobile=MOBILE,
        **overrides,
    )


def _client(rt: Runtime, **limits: str) -> TestClient:
    settings: Settings = rt.settings.model_copy(
        update={
            "rate_limit_track_failures_per_address": "100/minute",
            "rate_limit_track_failures_per_code": "100/minute",
            **limits,
        }
    )
    return TestClient(web_app(settings))


@pytest.fixture
def client(onestop: Runtime) -> Iterator[TestClient]:
    with _client(onestop) as c:
        yield c


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def _open(client: TestClient, code: str, digits: str = DIGITS) -> Any:
    form = client.get(f"/track/?code={code}")
    assert form.status_code == 200
    return client.post(
        "/track/", data={"code": code, "digits": digits, "csrf_token": _csrf(form.text)}
    )


class Opened(NamedTuple):
    """A filing opened on the tracking page: its code, and the CSRF token of the page shown."""

    code: str
    token: str


def _marked(html: str, marker: str) -> str:
    """The text of the element in `html` whose attributes end with `marker` (as written)."""
    found = re.search(rf"{marker}>([^<]*)<", html)
    assert found, html
    return found.group(1)


def _error_text(html: str) -> str:
    return _marked(html, 'data-test="error"')


class TestOpening:
    @pytest.fixture
    def code(self, onestop: Runtime, branch_staff: BranchStaff) -> str:
        """The tracking code of a filing of the applicant's (not dispatched: it stays put)."""
        return _file(onestop, branch_staff, dispatch=False)

    def test_the_receipts_address_opens_the_form_with_the_code_filled_in(
        self, client: TestClient, code: str
    ) -> None:
        url = track.tracking_url("http://testserver", code)
        form = client.get(url, follow_redirects=False)
        assert form.status_code == 200  # straight to the form: no redirect on the way
        assert f'name="code" value="{code}"' in form.text
        cookie = form.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/track" in cookie

    def test_the_code_and_the_digits_open_the_filing_in_a_new_session(
        self, client: TestClient, code: str
    ) -> None:
        client.get("/track/")
        before = client.cookies.get(visits.COOKIE)
        opened = _open(client, code.lower())  # as typed, in any case
        assert opened.status_code == 200 and opened.url.path == "/track/filing"
        assert f'data-test="tracking-code">{code}<' in opened.text
        after = client.cookies.get(visits.COOKIE)
        assert after and after != before  # a new id once a filing opens

    def test_wrong_digits_and_an_unknown_code_are_refused_alike(
        self, client: TestClient, code: str
    ) -> None:
        wrong = _open(client, code, "0000")
        unknown = _open(client, "OS2345678923", DIGITS)
        malformed = _open(client, code, "87")
        for refused in (wrong, unknown, malformed):
            assert refused.status_code == 401
            assert _error_text(refused.text) == "查询码与手机号后四位不匹配，请核对后重试。"
        assert client.get("/track/filing", follow_redirects=False).status_code == 303

    def test_failures_are_limited_per_tracking_code(
        self, onestop: Runtime, branch_staff: BranchStaff, code: str
    ) -> None:
        with _client(onestop, rate_limit_track_failures_per_code="3/minute") as client:
            for guess in ("0000", "0001", "0002"):
                assert _open(client, code, guess).status_code == 401
            locked = _open(client, code, DIGITS)  # the right digits, too late
            assert locked.status_code == 429 and "尝试次数过多" in _error_text(locked.text)
            assert client.get("/track/filing", follow_redirects=False).status_code == 303
            other = _file(onestop, branch_staff, dispatch=False)
            assert _open(client, other).status_code == 200  # another code is not locked

    def test_failures_are_limited_per_client_address(self, onestop: Runtime, code: str) -> None:
        with _client(onestop, rate_limit_track_failures_per_address="3/minute") as client:
            for guess in ("OS2345678922", "OS2345678933", "OS2345678944"):
                assert _open(client, guess).status_code == 401
            locked = _open(client, code)  # over any codes: a real one is refused too
            assert locked.status_code == 429

    def test_a_form_posted_without_its_token_is_refused(
        self, client: TestClient, code: str
    ) -> None:
        client.get("/track/")
        refused = client.post("/track/", data={"code": code, "digits": DIGITS})
        assert refused.status_code == 403
        assert client.get("/track/filing", follow_redirects=False).status_code == 303


class TestThePage:
    def test_a_completed_filing_shows_its_steps_credit_code_licence_and_courier(
        self, onestop: Runtime, branch_staff: BranchStaff, client: TestClient
    ) -> None:
        code = _file(onestop, branch_staff)
        filing = wait_for(onestop, code, complete)
        page = _open(client, code)
        assert page.status_code == 200
        html = page.text
        assert f'data-test="credit-code">{filing.credit_code}<' in html
        assert html.count('data-test="step"') == len(filing.steps)
        assert 'data-test="courier"' in html and "运单号" in html
        assert "已办结" in html  # held by nobody
        licence = client.get("/track/licence")
        assert licence.status_code == 200 and licence.content.startswith(b"%PDF")
        assert "attachment" in licence.headers["content-disposition"]

    def test_no_digit_of_the_mobile_past_the_first_three_and_no_resident_id(
        self, onestop: Runtime, branch_staff: BranchStaff, client: TestClient
    ) -> None:
        code = _file(onestop, branch_staff)
        wait_for(onestop, code, complete)
        page = _open(client, code)
        english = client.post(
            "/track/language",
            data={"language": "en", "next": "/track/filing", "csrf_token": _csrf(page.text)},
        )
        for html in (page.text, english.text):
            assert 'data-test="mobile">139********<' in html
            assert not [d for d in HIDDEN_DIGITS if d in html], html
            assert not ID_NUMBER.search(html)

    def test_what_is_still_to_supply_and_who_holds_the_filing(
        self, onestop: Runtime, branch_staff: BranchStaff, client: TestClient
    ) -> None:
        provided = [m for m in ALL_MATERIALS if m != "staff_roster"]
        code = _file(onestop, branch_staff, dispatch=False, materials=provided)
        html = _open(client, code).text
        (item,) = re.findall(r'data-test="to-supply">(.*?)</li>', html, re.S)
        assert "员工花名册" in item and "须于" in item
        assert "设立登记" in _marked(html, 'data-test="holders"')

    def test_the_sla_state_the_estimate_and_a_deadline_extended_for_the_wait(
        self, onestop: Runtime, branch_staff: BranchStaff, client: TestClient
    ) -> None:
        waiting = _file(onestop, branch_staff, dispatch=False)
        html = _open(client, waiting).text
        assert 'data-test="sla-state">按期推进<' in html
        assert 'data-test="predicted-ready"' in html and 'data-test="predicted-complete"' in html
        code = _file(onestop, branch_staff, finance_officer=None)  # tax waits for it
        wait_for(onestop, code, lambda f: any(s.status == "blocked" for s in f.steps))
        blocked_at = next(e.at for e in events(onestop, code) if e.kind == "blocked")
        officer = {"finance_officer": filing_input()["finance_officer"]}
        # Three days later: across a weekend, or not.
        supplement(
            onestop, branch_staff, code, MATERIAL, officer, at=blocked_at + timedelta(days=3)
        )
        filing = wait_for(onestop, code, complete)
        html = _open(client, code).text
        if filing.blocked_seconds:
            assert 'data-test="deadline-extended"' in html and "等待申请人补正材料" in html
        assert 'data-test="sla-state">按期就绪<' in html
        assert 'data-test="predicted-ready"' not in html

    def test_a_script_in_the_company_name_stays_text(
        self, onestop: Runtime, branch_staff: BranchStaff, client: TestClient
    ) -> None:
        code = _file(onestop, branch_staff, dispatch=False)
        with onestop.database.transaction() as session:
            session.execute(
                update(Filing).where(Filing.tracking_code == code).values(company_name=SCRIPT_NAME)
            )
        html = _open(client, code).text
        assert "<script>" not in html and "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in html
        assert "script-src 'self'" in client.get("/track/filing").headers["content-security-policy"]

    def test_a_session_reaches_its_own_filing_only(
        self, onestop: Runtime, branch_staff: BranchStaff, client: TestClient
    ) -> None:
        mine = _file(onestop, branch_staff)
        theirs = _file(onestop, branch_staff)
        wait_for(onestop, mine, complete)
        wait_for(onestop, theirs, complete)
        assert _open(client, mine).status_code == 200
        page = client.get(f"/track/filing?code={theirs}")  # nothing in the address picks it
        shown = page.text.split("<main>")[1]
        assert mine in shown and theirs not in shown
        with onestop.database.reading() as session:
            mine_id = session.scalars(select(Filing.id).where(Filing.tracking_code == mine)).one()
        licence = client.get("/track/licence")
        assert licence.status_code == 200
        with onestop.database.reading() as session:
            own = documents.latest_of_filing(session, mine_id, documents.LICENCE)
            assert own is not None and licence.content == own.content
        # Closing the session ends it on the server: the id is worth nothing after.
        held = client.cookies.get(visits.COOKIE)
        client.post("/track/leave", data={"csrf_token": _csrf(page.text)})
        assert held
        client.cookies.set(visits.COOKIE, held, path="/track")
        assert client.get("/track/filing", follow_redirects=False).status_code == 303

    def test_the_session_ends_after_its_lifetime(
        self, onestop: Runtime, branch_staff: BranchStaff, client: TestClient
    ) -> None:
        code = _file(onestop, branch_staff, dispatch=False)
        assert _open(client, code).status_code == 200
        lifetime = timedelta(minutes=onestop.settings.track_session_minutes, seconds=1)
        with onestop.database.transaction() as session:
            session.execute(
                update(TrackingSession)
                .where(TrackingSession.filing_id.is_not(None))
                .values(created_at=onestop.clock.now() - lifetime)
            )
        assert client.get("/track/filing", follow_redirects=False).status_code == 303


def _rating_code(rt: Runtime, client: TestClient, code: str, token: str) -> str:
    """Press "send me a code" by the rating form; the code the applicant's phone received."""
    return code_sent_by(
        rt, code, lambda: client.post("/track/rating/code", data={"csrf_token": token})
    )


def _rate(client: TestClient, token: str, **form: str) -> Any:
    return client.post("/track/rating", data={**form, "csrf_token": token})


def _rating_error(html: str) -> str:
    return _marked(html, 'data-test="rating-error" data-raw')


def _wrong(code: str, by: int = 1) -> str:
    """Another code of six digits than `code`."""
    return f"{(int(code) + by) % 10**6:06d}"


class TestRating:
    @pytest.fixture
    def opened(self, onestop: Runtime, branch_staff: BranchStaff, client: TestClient) -> Opened:
        """A completed filing of the applicant's, opened on the tracking page (so to rate)."""
        code = _file(onestop, branch_staff)
        wait_for(onestop, code, complete)
        return Opened(code, _csrf(_open(client, code).text))

    def test_a_bad_rating_with_the_code_reaches_the_managers_follow_ups(
        self, onestop: Runtime, branch_staff: BranchStaff, client: TestClient
    ) -> None:
        code = _file(onestop, branch_staff)
        wait_for(onestop, code, complete)
        html = _open(client, code).text
        assert 'action="/track/rating"' in html and 'action="/track/rating/code"' in html
        token = _csrf(html)
        texted = _rating_code(onestop, client, code, token)
        # A code texted to supply a material is no code to rate with.
        for_supplying = code_sent_by(
            onestop,
            code,
            lambda: client.post(f"/track/supplement/{MATERIAL}/code", data={"csrf_token": token}),
        )
        for other in {for_supplying, _wrong(texted)} - {texted}:
            wrong = _rate(client, token, score="2", one_time_code=other)
            assert wrong.status_code == 422 and "验证码不正确" in _rating_error(wrong.text)
        bad = _rate(client, token, score="9", one_time_code=texted)
        assert bad.status_code == 422 and "评分应为 1 至 5" in _rating_error(bad.text)
        # The rating refused, the code is still good for the corrected one.
        rated = _rate(client, token, score="2", comment="<b>慢</b>", one_time_code=texted)
        assert rated.status_code == 200 and 'data-test="rated"' in rated.text

        with onestop.database.transaction() as session:
            branch = session.get(Branch, branch_staff.branch_id)
            assert branch is not None
            staff_at(session, branch, "track_manager", "钱伟", role=Role.BRANCH_MANAGER,
                     password="manager-password-1")  # fmt: skip
            other = shouguang_branch(session, "SG-ICBC-09", "工商银行寿光支行", "ICBC")
            staff_at(session, other, "track_other_mgr", "孙明", role=Role.BRANCH_MANAGER,
                     password="manager-password-2")  # fmt: skip
            staff_at(session, branch, "track_clerk", "李娜", password="clerk-password-3")
            follow_up_id = session.scalars(
                select(FollowUp.id)
                .join(Filing, Filing.id == FollowUp.filing_id)
                .where(Filing.tracking_code == code)
            ).one()
        with TestClient(web_app(onestop.settings)) as portal:
            _sign_in(portal, "track_other_mgr", "manager-password-2")
            theirs = portal.get("/portal/follow-ups")
            assert theirs.status_code == 200 and code not in theirs.text
            act = {"note": "核实", "csrf_token": _csrf(theirs.text)}
            denied = portal.post(f"/portal/follow-ups/{follow_up_id}/verify", data=act)
            assert denied.status_code == 404
        with TestClient(web_app(onestop.settings)) as portal:
            signed_out = portal.get("/portal/follow-ups", follow_redirects=False)
            assert signed_out.status_code == 303 and signed_out.headers["location"].endswith(
                "/login"
            )
            _sign_in(portal, "track_clerk", "clerk-password-3")
            assert portal.get("/portal/follow-ups").status_code == 404  # managers only
        with TestClient(web_app(onestop.settings)) as portal:
            _sign_in(portal, "track_manager", "manager-password-1")
            queue = portal.get("/portal/follow-ups")
            assert queue.status_code == 200 and code in queue.text
            assert "&lt;b&gt;慢&lt;/b&gt;" in queue.text
            forged = portal.post(
                f"/portal/follow-ups/{follow_up_id}/verify", data={"note": "x", "csrf_token": "no"}
            )
            assert forged.status_code == 403  # and nothing moved: "verify" comes next below
            for act_name in ("verify", "put-right", "answer"):
                page = portal.get("/portal/follow-ups")
                done = portal.post(
                    f"/portal/follow-ups/{follow_up_id}/{act_name}",
                    data={"note": f"{act_name} done", "csrf_token": _csrf(page.text)},
                )
                assert done.status_code == 200, done.text
            assert code not in portal.get("/portal/follow-ups").text  # answered: off the queue
        with onestop.database.reading() as session:
            answered = session.get(FollowUp, follow_up_id)
            assert answered is not None and answered.status == FollowUpStatus.ANSWERED
            assert answered.answered_by == "staff:track_manager"
        again = client.get("/track/filing")  # invited: the applicant may rate again
        assert 'action="/track/rating"' in again.text

    @pytest.mark.databases("sqlite", "postgresql")  # the count is a write that must hold
    def test_wrong_codes_are_counted_until_even_the_right_one_is_refused(
        self, onestop: Runtime, client: TestClient, opened: Opened
    ) -> None:
        code, token = opened
        texted = _rating_code(onestop, client, code, token)
        for guess in range(1, MAX_ATTEMPTS + 1):
            wrong = _rate(client, token, score="5", one_time_code=_wrong(texted, guess))
            assert wrong.status_code == 422 and "验证码不正确" in _rating_error(wrong.text)
        late = _rate(client, token, score="5", one_time_code=texted)
        assert late.status_code == 429, late.text
        assert _rating_error(late.text) == "验证码错误次数过多，请重新获取验证码"
        assert 'data-test="rated"' not in late.text
        # A new code, and the applicant may rate.
        again = _rating_code(onestop, client, code, token)
        rated = _rate(client, token, score="5", one_time_code=again)
        assert rated.status_code == 200 and 'data-test="rated"' in rated.text

    def test_codes_sent_are_limited_per_hour_and_the_page_says_so(
        self, onestop: Runtime, client: TestClient, opened: Opened
    ) -> None:
        code, token = opened
        for _ in range(MAX_PER_HOUR):
            texted = _rating_code(onestop, client, code, token)
        refused = client.post("/track/rating/code", data={"csrf_token": token})
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "3600"
        detail = _marked(refused.text, 'data-test="detail" data-raw')
        assert detail == "验证码发送过于频繁，请一小时后再试"
        # The last code sent is still good.
        assert _rate(client, token, score="4", one_time_code=texted).status_code == 200

    def test_a_form_posted_without_its_token_sends_no_code_and_rates_nothing(
        self, onestop: Runtime, client: TestClient, opened: Opened
    ) -> None:
        code, token = opened
        texted = _rating_code(onestop, client, code, token)
        assert client.post("/track/rating/code", data={"csrf_token": "forged"}).status_code == 403
        forged = _rate(client, "forged", score="5", one_time_code=texted)
        assert forged.status_code == 403
        assert 'data-test="rated"' not in client.get("/track/filing").text
        # Still good: a code sent by the forged form would have replaced it.
        assert _rate(client, token, score="5", one_time_code=texted).status_code == 200


def _sign_in(client: TestClient, username: str, password: str) -> None:
    form = client.get("/portal/login")
    signed = client.post(
        "/portal/login",
        data={"username": username, "password": password, "csrf_token": _csrf(form.text)},
    )
    assert signed.status_code == 200, signed.text


@pytest.mark.usefixtures("database_away")
def test_with_the_database_away_the_page_says_when_to_come_back(onestop: Runtime) -> None:
    with TestClient(web_app(onestop.settings)) as client:
        for path in ("/track/", "/track/filing"):  # the second, by way of the first
            response = client.get(path)
            assert response.status_code == 503 and int(response.headers["Retry-After"]) > 0
            assert "暂时无法访问" in response.text and "set-cookie" not in response.headers
        # An error page asks the database nothing it cannot do without.
        assert client.get("/track/no-such-page").status_code == 404
