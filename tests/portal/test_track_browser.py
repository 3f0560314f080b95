"""The tracking page in a real browser (Debian's Chromium through Playwright), on a phone's
360 px and at desktop width, in both languages, with screenshots kept as test artifacts; and
the branch manager's follow-ups of bad ratings."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from bank_portal.i18n import HTML_LANG
from bank_portal.track import tracking_url
from orchestrator.feedback import service as feedback
from orchestrator.filings.models import Filing
from orchestrator.identity.models import Branch, Role
from tests.filings import complete, file, wait_for
from tests.people import BranchStaff, staff_at
from tests.portal.conftest import (
    SCRIPT_NAME,
    PortalWorld,
    check_page,
    new_context,
    screenshot,
    sign_in,
)

pytestmark = pytest.mark.browser

MOBILE = "13805361234"  # the legal representative's, in every filing of the portal's world


def _keep(page: Page, name: str, language: str, width: int) -> None:
    check_page(page, name, language, width)
    html = page.content()
    hidden = [MOBILE[i : i + 4] for i in range(3, len(MOBILE) - 3)]
    assert not [d for d in hidden if d in html], f"{name}: a digit of the mobile past the third"
    assert not re.search(r"\d{17}[\dX]", html), f"{name}: a resident ID"
    screenshot(page, f"track-{name}-{language}-{width}")


def _switch_to(page: Page, language: str) -> None:
    page.click("[data-test=language]")
    expect(page.locator("html")).to_have_attribute("lang", HTML_LANG[language])


@pytest.mark.parametrize("width", [360, 1280])
def test_the_receipts_qr_address_opens_the_filing_in_both_languages(
    browser: Browser, portal: PortalWorld, width: int
) -> None:
    code = portal.own_codes[0]
    wait_for(portal.rt, code, complete)
    ctx = new_context(browser, portal, width)
    try:
        page = ctx.new_page()
        page.goto(tracking_url(portal.url, code))
        expect(page.locator("#code")).to_have_value(code)
        _keep(page, "open", "zh_Hans", width)
        page.fill("#digits", "0000")
        page.click("button[type=submit]")
        expect(page.locator("[data-test=error]")).to_have_text(
            "查询码与手机号后四位不匹配，请核对后重试。"
        )
        page.fill("#digits", MOBILE[-4:])
        page.click("button[type=submit]")
        expect(page).to_have_url(re.compile(r"/track/filing$"))
        expect(page.locator("[data-test=tracking-code]")).to_have_text(code)
        expect(page.locator("[data-test=mobile]")).to_have_text(MOBILE[:3] + "*" * 8)
        expect(page.locator("[data-test=credit-code]")).to_have_text(re.compile(r"^[0-9A-Z]{18}$"))
        expect(page.locator("[data-test=licence]")).to_be_visible()
        expect(page.locator("[data-test=courier]")).to_contain_text("运单号")
        _keep(page, "filing", "zh_Hans", width)
        _switch_to(page, "en")
        expect(page.locator("h2").first).to_have_text("Courier")
        _keep(page, "filing", "en", width)
        page.click("[data-test=leave]")  # closing returns to the form, in the chosen language
        expect(page).to_have_url(re.compile(r"/track/$"))
        expect(page.locator("h1")).to_have_text("Follow your filing")
        _keep(page, "open", "en", width)
    finally:
        ctx.close()


def test_a_script_in_the_company_name_stays_text(browser: Browser, portal: PortalWorld) -> None:
    ctx = new_context(browser, portal, 360)
    try:
        page = ctx.new_page()
        page.goto(tracking_url(portal.url, portal.script_code))
        page.fill("#digits", MOBILE[-4:])
        page.click("button[type=submit]")
        expect(page.locator("[data-test=company]")).to_have_text(SCRIPT_NAME)
        assert page.evaluate("window.__pwned") is None
        assert page.locator("main script").count() == 0
    finally:
        ctx.close()


MANAGER_PASSWORD = "manager-password-browser"


def test_the_managers_follow_ups_in_both_languages(
    browser: Browser, portal: PortalWorld, branch_staff: BranchStaff
) -> None:
    """A rating of 2 on the manager's page, taken through verified, put right and answered."""
    rt = portal.rt
    code = file(rt, branch_staff, trade_name="琮璇")
    wait_for(rt, code, complete)
    with rt.database.transaction() as session:
        filing = session.scalars(select(Filing).where(Filing.tracking_code == code)).one()
        feedback.rate(session, filing=filing, score=2, comment="等了很久", now=rt.clock.now())
        branch = session.get(Branch, branch_staff.branch_id)
        assert branch is not None
        staff_at(session, branch, "track_browser_mgr", "冯雪", role=Role.BRANCH_MANAGER,
                 password=MANAGER_PASSWORD)  # fmt: skip
    ctx = new_context(browser, portal, 360)
    try:
        page = ctx.new_page()
        sign_in(page, "track_browser_mgr", MANAGER_PASSWORD)
        page.click("[data-test=follow-ups]")
        item = page.locator("[data-test=follow-up]", has_text=code)
        expect(item.locator("[data-test=follow-up-status]")).to_have_text("待核实")
        _keep(page, "follow-ups", "zh_Hans", 360)
        item.locator("textarea").fill("核实：材料退回两次")
        item.locator("[data-test=act-verify]").click()
        expect(item.locator("[data-test=follow-up-status]")).to_have_text("已核实，待整改")
        _switch_to(page, "en")
        expect(item.locator("[data-test=follow-up-status]")).to_have_text("Verified: to put right")
        _keep(page, "follow-ups", "en", 360)
        item.locator("textarea").fill("Checklist corrected")
        item.locator("[data-test=act-put-right]").click()
        item.locator("textarea").fill("Apologised by phone")
        item.locator("[data-test=act-answer]").click()
        expect(page.locator("[data-test=follow-up]", has_text=code)).to_have_count(0)
    finally:
        ctx.close()
