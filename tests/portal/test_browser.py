"""The staff portal in a real browser (Debian's Chromium through Playwright): signing in and
out, the lockout, the branch's queue and nothing of another branch's, the language switch,
CSRF, an injected tag that stays text, and screenshots of every page in both languages at
360 px and at desktop width."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from bank_portal.i18n import HTML_LANG
from bank_portal.routes import PAGE_SIZE
from orchestrator.filings.models import Filing
from orchestrator.subsidies import ledger
from tests.factories import graph_steps
from tests.filings import file, wait_for
from tests.people import BranchStaff
from tests.portal.conftest import (
    CJK,
    PASSWORD,
    SCRIPT_NAME,
    PortalWorld,
    check_page,
    new_context,
    plant_session_cookie,
    screenshot,
    session_cookie,
    sign_in,
)
from tests.subsidies import with_budget

pytestmark = pytest.mark.browser


def signed_in_page(context: BrowserContext, username: str) -> Page:
    page = context.new_page()
    sign_in(page, username)
    expect(page).to_have_url(re.compile(r"/portal/$"))
    return page


class TestSignIn:
    def test_a_wrong_password_is_refused_plainly(self, context: BrowserContext) -> None:
        page = context.new_page()
        sign_in(page, "wangfang", "not-the-password")
        expect(page.locator("[data-test=error]")).to_have_text("用户名或密码错误。")
        expect(page).to_have_url(re.compile(r"/portal/login$"))
        assert page.input_value("#username") == "wangfang" and page.input_value("#password") == ""

    def test_the_session_id_changes_at_sign_in(self, context: BrowserContext) -> None:
        page = context.new_page()
        page.goto("/portal/login")
        before = session_cookie(context)
        assert before
        sign_in(page, "wangfang")
        expect(page.locator("h1")).to_have_text("工作台")
        after = session_cookie(context)
        assert after and after != before
        # The id known before sign-in opens nothing: a planted id is worth nothing.
        plant_session_cookie(context, before)
        assert session_cookie(context) == before
        page.goto("/portal/")
        expect(page).to_have_url(re.compile(r"/portal/login$"))

    def test_repeated_failures_lock_the_username_out(
        self, context: BrowserContext, portal: PortalWorld
    ) -> None:
        page = context.new_page()
        for _ in range(5):
            sign_in(page, portal.locked_clerk, "guess-" + PASSWORD)
            expect(page.locator("[data-test=error]")).to_have_text("用户名或密码错误。")
        sign_in(page, portal.locked_clerk)  # the right password, too late
        expect(page.locator("[data-test=error]")).to_contain_text("登录失败次数过多")
        expect(page).to_have_url(re.compile(r"/portal/login$"))

    def test_signing_out_ends_the_session(
        self, browser: Browser, context: BrowserContext, portal: PortalWorld
    ) -> None:
        page = signed_in_page(context, "wangfang")
        held = session_cookie(context)
        page.click("[data-test=logout]")
        expect(page).to_have_url(re.compile(r"/portal/login$"))
        # Replayed from elsewhere, the id is dead: the session ended on the server.
        other = browser.new_context(base_url=portal.url)
        try:
            assert held
            plant_session_cookie(other, held)
            replay = other.new_page()
            replay.goto("/portal/")
            expect(replay).to_have_url(re.compile(r"/portal/login$"))
        finally:
            other.close()

    def test_a_post_without_the_csrf_token_is_refused(self, context: BrowserContext) -> None:
        page = signed_in_page(context, "wangfang")
        refused = page.request.post("/portal/logout", form={})
        assert refused.status == 403 and "表单已失效" in refused.text()
        forged = page.request.post("/portal/logout", form={"csrf_token": "forged"})
        assert forged.status == 403
        page.goto("/portal/")
        expect(page.locator("h1")).to_have_text("工作台")  # still signed in

    def test_an_officer_lands_on_the_dashboard_not_on_branch_pages(
        self, context: BrowserContext, portal: PortalWorld
    ) -> None:
        page = context.new_page()
        sign_in(page, portal.officer)
        expect(page).to_have_url(re.compile(r"/portal/supervision$"))
        response = page.goto(f"/portal/filings/{portal.own_codes[0]}")
        assert response is not None and response.status == 403
        expect(page.locator("h1")).to_have_text("不适用于您的角色")


class TestQueue:
    def test_the_queue_shows_the_own_branch_only(
        self, browser: Browser, context: BrowserContext, portal: PortalWorld
    ) -> None:
        page = signed_in_page(context, portal.clerk)
        rows = page.locator("[data-test=filing]")
        text = rows.all_inner_texts()
        assert all(any(code in row for row in text) for code in portal.own_codes)
        assert not any(portal.other_code in row for row in text)
        other = signed_in_page(browser.new_context(base_url=portal.url), portal.other_clerk)
        theirs = other.locator("[data-test=filing]").all_inner_texts()
        assert any(portal.other_code in row for row in theirs)
        assert not any(code in row for row in theirs for code in portal.own_codes)
        other.context.close()

    def test_a_filing_past_the_subsidy_budget_says_the_firm_pays(
        self,
        context: BrowserContext,
        portal: PortalWorld,
        branch_staff: BranchStaff,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(ledger, "load_reference", lambda: with_budget(0))
        paid = file(portal.rt, branch_staff, trade_name="琨瑶")
        monkeypatch.setattr(ledger, "load_reference", lambda: with_budget(10**9))
        free = file(portal.rt, branch_staff, trade_name="琮瑾")
        page = signed_in_page(context, portal.clerk)
        for code, shown in ((paid, 1), (free, 0)):
            page.goto(f"/portal/?q={code}")
            row = page.locator("[data-test=filing]")
            expect(row).to_have_count(1)
            expect(row.locator("[data-test=paid]")).to_have_count(shown)

    def test_search_by_company_name_credit_code_or_tracking_code(
        self, context: BrowserContext, portal: PortalWorld
    ) -> None:
        page = signed_in_page(context, portal.clerk)
        name = portal.own_names[0]
        page.fill("#q", name[3:7])  # part of the trade name and industry
        page.click(".search button")
        rows = page.locator("[data-test=filing]")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text(portal.own_codes[0])
        page.fill("#q", portal.own_codes[1].lower())
        page.click(".search button")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text(portal.own_codes[1])
        filing = wait_for(portal.rt, portal.own_codes[1], lambda f: bool(f.credit_code))
        page.fill("#q", str(filing.credit_code))
        page.click(".search button")
        # Each test's simulators start a fresh register, so other tests' filings of this
        # branch may hold the same credit code: every one of them is found, and only those
        # (a page of them at a time).
        with portal.rt.database.connection() as conn:
            holders = conn.scalars(
                select(Filing.tracking_code).where(
                    Filing.credit_code == filing.credit_code, Filing.branch_id == filing.branch_id
                )
            ).all()
        expect(page.locator("[data-test=total]")).to_contain_text(str(len(holders)))
        expect(rows).to_have_count(min(len(holders), PAGE_SIZE))
        shown = page.locator("[data-test=filing] a").all_inner_texts()
        assert set(shown) <= set(holders)
        page.fill("#q", portal.other_code)  # another branch's code finds nothing
        page.click(".search button")
        expect(rows).to_have_count(0)

    def test_another_branchs_filing_is_a_404(
        self, context: BrowserContext, portal: PortalWorld
    ) -> None:
        page = signed_in_page(context, portal.clerk)
        response = page.goto(f"/portal/filings/{portal.other_code}")
        assert response is not None and response.status == 404
        expect(page.locator("h1")).to_have_text("未找到")
        assert portal.other_code not in page.content().split("<main>")[1]
        own = page.goto(f"/portal/filings/{portal.own_codes[0]}")
        assert own is not None and own.status == 200
        expect(page.locator("[data-test=step]")).to_have_count(len(graph_steps()))

    def test_personal_numbers_are_masked(
        self, context: BrowserContext, portal: PortalWorld
    ) -> None:
        page = signed_in_page(context, portal.clerk)
        page.goto(f"/portal/filings/{portal.own_codes[0]}")
        expect(page.locator("[data-test=mobile]")).to_have_text("138****1234")
        expect(page.locator("[data-test=id-number]")).to_have_text(
            re.compile(r"^370783\*{8}\d{3}[\dX]$")
        )
        assert not re.search(r"\d{17}[\dX]|1[3-9]\d{9}", page.content())

    def test_a_script_in_a_company_name_stays_text(
        self, context: BrowserContext, portal: PortalWorld
    ) -> None:
        page = signed_in_page(context, portal.clerk)
        expect(page.locator(".company", has_text="<script>")).to_have_text(SCRIPT_NAME)
        page.goto(f"/portal/filings/{portal.script_code}")
        expect(page.locator("[data-test=company]")).to_have_text(SCRIPT_NAME)
        assert page.evaluate("window.__pwned") is None
        assert page.locator("main script").count() == 0


class TestLanguage:
    def test_switch_to_english_and_back(self, context: BrowserContext, portal: PortalWorld) -> None:
        page = signed_in_page(context, portal.clerk)
        page.goto(f"/portal/?q={portal.own_codes[0]}")
        page.click("[data-test=language]")
        expect(page.locator("h1")).to_have_text("Work queue")
        expect(page).to_have_url(re.compile(rf"/portal/\?q={portal.own_codes[0]}$"))
        assert page.locator("html").get_attribute("lang") == "en"
        page.goto(f"/portal/filings/{portal.own_codes[0]}")  # the session keeps the choice
        expect(page.locator("h2")).to_have_text("Steps")
        page.click("[data-test=language]")
        expect(page.locator("h2")).to_have_text("办理环节")
        assert page.locator("html").get_attribute("lang") == "zh-Hans"

    def test_the_login_page_switches_too(self, context: BrowserContext) -> None:
        page = context.new_page()
        page.goto("/portal/login")
        page.click("[data-test=language]")
        expect(page.locator("h1")).to_have_text("Sign in")
        # Everything of ours is translated: no Chinese left but the switch back to it.
        assert not CJK.search(page.inner_text("body").replace("中文", ""))


# The page's text but for what is shown as it came (data-raw: names, agencies' words).
PAGES = {
    "queue": "/portal/",
    "queue-supplement-to-confirm": "/portal/?bucket=supplement_to_confirm",
    "filing": "/portal/filings/{code}",
    "supplements": "/portal/filings/{code}/supplements",
    "not-found": "/portal/filings/OS0000000000",
}


def _check_and_keep(page: Page, name: str, language: str, width: int) -> None:
    check_page(page, name, language, width)
    screenshot(page, f"{name}-{language}-{width}")


def _switch_to(page: Page, language: str) -> None:
    page.click("[data-test=language]")
    code = {"zh": "zh_Hans", "en": "en"}[language]
    expect(page.locator("html")).to_have_attribute("lang", HTML_LANG[code])


@pytest.mark.parametrize("width", [360, 1280])
def test_every_page_in_both_languages_fits_the_screen(
    browser: Browser, portal: PortalWorld, width: int
) -> None:
    """Screenshots of each page, in Chinese and in English; nothing wider than the screen.

    One browser profile per width, as one person would go: the login page, an officer's,
    then a clerk's pages, switching language on the way."""
    ctx = new_context(browser, portal, width)
    try:
        page = ctx.new_page()
        page.goto("/portal/login")
        _check_and_keep(page, "login", "zh", width)
        _switch_to(page, "en")
        _check_and_keep(page, "login", "en", width)
        sign_in(page, portal.officer)  # the language chosen carries into the session
        page.goto(PAGES["filing"].format(code=portal.own_codes[0]))  # not for an officer
        _check_and_keep(page, "role", "en", width)
        _switch_to(page, "zh")
        _check_and_keep(page, "role", "zh", width)
        page.click("[data-test=logout]")
        sign_in(page, portal.clerk)
        expect(page).to_have_url(re.compile(r"/portal/$"))
        for language in ("zh", "en"):
            if language == "en":
                _switch_to(page, "en")
            for name, path in PAGES.items():
                page.goto(path.format(code=portal.own_codes[0]))
                _check_and_keep(page, name, language, width)
    finally:
        ctx.close()
