"""The web process: the JSON API and the portal in one application, which the core loads by
the name in the `web_app` setting (it never imports the portal)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select, update

from bank_portal.web import create_portal
from orchestrator.api.app import web_app
from orchestrator.identity.models import Branch, Staff, StaffSession
from orchestrator.runtime import Runtime
from orchestrator.settings import Settings
from tests.faults.soak import free_port
from tests.people import BranchStaff, staff_at


def test_the_web_process_serves_the_api_and_the_portal(onestop: Runtime) -> None:
    with TestClient(web_app(onestop.settings)) as client:
        assert client.get("/healthz").json()["status"] == "ok"
        assert client.get("/api/v1/filings").status_code == 401
        login = client.get("/portal/login")
        assert login.status_code == 200 and login.headers["content-type"].startswith("text/html")
        assert "default-src 'none'" in login.headers["content-security-policy"]
        assert login.headers["cache-control"] == "no-store"
        assert client.get("/portal/static/portal.css").status_code == 200
        missing = client.get("/portal/no-such-page")
        assert missing.status_code == 404 and "未找到" in missing.text


def test_the_setting_names_what_is_served(onestop: Runtime) -> None:
    api_only = onestop.settings.model_copy(update={"web_app": "orchestrator.api.app:create_app"})
    with TestClient(web_app(api_only)) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/portal/login").status_code == 404


@pytest.mark.parametrize("name", ["bank_portal.web", "bank portal:create_app", ":create_app"])
def test_a_malformed_name_is_refused_at_start(name: str) -> None:
    with pytest.raises(ValidationError, match="web_app"):
        Settings(web_app=name)


def _login_form(client: TestClient) -> str:
    page = client.get("/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


def test_failures_from_one_address_lock_it_out_over_any_usernames(onestop: Runtime) -> None:
    settings = onestop.settings.model_copy(
        update={
            "rate_limit_portal_login_failures_per_user": "100/minute",
            "rate_limit_portal_login_failures_per_address": "3/minute",
        }
    )
    with TestClient(create_portal(settings)) as client:
        token = _login_form(client)
        for n in range(3):
            form = {"username": f"nobody{n}", "password": "wrong-password", "csrf_token": token}
            assert client.post("/login", data=form).status_code == 401
        form = {"username": "someone-else", "password": "wrong-password", "csrf_token": token}
        locked = client.post("/login", data=form)
        assert locked.status_code == 429 and "登录失败次数过多" in locked.text


def test_the_session_cookie_is_secure_over_https(onestop: Runtime) -> None:
    with TestClient(create_portal(onestop.settings), base_url="https://portal.test") as client:
        cookie = client.get("/login").headers["set-cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    with TestClient(create_portal(onestop.settings)) as client:  # http: a development server
        assert "Secure" not in client.get("/login").headers["set-cookie"]


@pytest.mark.usefixtures("database_away")
def test_with_the_database_away_a_page_says_when_to_come_back(onestop: Runtime) -> None:
    with TestClient(create_portal(onestop.settings)) as client:
        for path in ("/login", "/", "/filings/OSNOSUCHCODE"):
            response = client.get(path)
            assert response.status_code == 503, (path, response.text)
            assert int(response.headers["Retry-After"]) > 0 and "暂时无法访问" in response.text


def test_with_the_rate_limit_store_away_no_session_opens_unlimited(onestop: Runtime) -> None:
    away = onestop.settings.model_copy(
        update={"rate_limit_storage_url": f"redis://127.0.0.1:{free_port()}/0"}
    )
    with TestClient(create_portal(away)) as client:
        refused = client.get("/login")
    assert refused.status_code == 503 and int(refused.headers["Retry-After"]) > 0
    assert "服务暂时不可用" in refused.text  # the core's own message, in the page's language
    assert "set-cookie" not in refused.headers


def test_a_client_opening_sessions_by_the_thousand_is_refused(onestop: Runtime) -> None:
    settings = onestop.settings.model_copy(update={"rate_limit_portal_new_sessions": "2/minute"})
    with TestClient(create_portal(settings)) as client:
        for _ in range(2):
            assert client.get("/login").status_code == 200
            client.cookies.clear()  # a client that never keeps its cookie
        refused = client.get("/login")
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        assert "请求过于频繁" in refused.text and "set-cookie" not in refused.headers
        missing = client.get("/no-such-page")  # an error page opens no session either
        assert missing.status_code == 404 and "set-cookie" not in missing.headers


def test_an_idle_session_sends_its_browser_back_to_sign_in(
    onestop: Runtime, branch_staff: BranchStaff
) -> None:
    with onestop.database.transaction() as session:
        branch = session.get(Branch, branch_staff.branch_id)
        staff_at(session, branch, "portal_idle", "郑洁", password="idle-but-not-lazy")
    with TestClient(create_portal(onestop.settings)) as client:
        form = {"username": "portal_idle", "password": "idle-but-not-lazy"}
        signed = client.post("/login", data={**form, "csrf_token": _login_form(client)})
        assert signed.status_code == 200 and "工作台" in signed.text  # after the redirect
        idle = timedelta(minutes=onestop.settings.portal_session_idle_minutes, seconds=1)
        with onestop.database.transaction() as session:
            session.execute(
                update(StaffSession)
                .where(
                    StaffSession.staff_id.in_(
                        select(Staff.id).where(Staff.username == "portal_idle")
                    )
                )
                .values(last_seen_at=onestop.clock.now() - idle)
            )
        back = client.get("/", follow_redirects=False)
        assert back.status_code == 303 and back.headers["location"].endswith("/login")
