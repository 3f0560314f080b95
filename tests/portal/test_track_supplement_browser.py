"""Supplying a 容缺 material in a real browser (Debian's Chromium through Playwright): the
entrepreneur on a 360 px phone sends it with the one-time code, the clerk confirms it at the
branch, and the blocked step resumes until the filing completes; both languages, screenshots
kept (var/artifacts/portal/)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from bank_portal.track import tracking_url
from tests.factories import filing_input
from tests.filings import complete, file_blocked, tax_blocked, wait_for
from tests.notifications import code_sent_by
from tests.people import BranchStaff
from tests.portal.conftest import PortalWorld, new_context, sign_in
from tests.portal.test_track_browser import MOBILE, _keep, _switch_to
from tests.portal.test_track_supplement import MATERIAL, PDF

pytestmark = pytest.mark.browser

OFFICER = filing_input()["finance_officer"]


def _fill_supply(page: Page, *, content: bytes, name: str, one_time_code: str) -> None:
    item = page.locator(f"#supply-{MATERIAL}")
    if item.locator("details[open]").count() == 0:
        item.locator("[data-test=supply-open]").click()
    item.locator("input[type=file]").set_input_files(
        {"name": name, "mimeType": "application/pdf", "buffer": content}
    )
    for part in ("name", "id_number", "mobile"):
        item.locator(f"input[name='finance_officer.{part}']").fill(OFFICER[part])
    item.locator("input[name=one_time_code]").fill(one_time_code)
    item.locator("[data-test=supply-submit]").click()


def test_the_entrepreneur_supplies_on_a_phone_and_the_clerk_confirms(
    browser: Browser,
    portal: PortalWorld,
    branch_staff: BranchStaff,
) -> None:
    rt = portal.rt
    code = file_blocked(rt, branch_staff, trade_name="珺瑶")

    phone = new_context(browser, portal, 360)
    desk = new_context(browser, portal)
    try:
        page = phone.new_page()
        page.goto(tracking_url(portal.url, code))
        page.fill("#digits", MOBILE[-4:])
        page.click("button[type=submit]")
        item = page.locator(f"#supply-{MATERIAL}")
        item.locator("[data-test=supply-open]").click()
        # The code as the phone received it from the SMS gateway.
        texted = code_sent_by(rt, code, item.locator("[data-test=supply-send-code]").click)
        expect(page).to_have_url(re.compile(rf"/track/filing#supply-{MATERIAL}$"))
        # Bytes that are not what the name says: refused beside the file, nothing sent.
        _fill_supply(page, content=b"\x89PNG\r\n\x1a\n0000", name="scan.pdf", one_time_code=texted)
        expect(item.locator("[data-error-for=file]")).to_have_text("文件内容与文件名所示类型不符")
        _keep(page, "supply-error", "zh_Hans", 360)
        _switch_to(page, "en")
        _fill_supply(page, content=b"\x89PNG\r\n\x1a\n0000", name="scan.pdf", one_time_code=texted)
        expect(item.locator("[data-error-for=file]")).to_have_text(
            "the file's content is not what its name says"
        )
        _keep(page, "supply-error", "en", 360)
        _fill_supply(page, content=PDF, name="officer.pdf", one_time_code=texted)
        expect(item.locator("[data-test=supply-sent]")).to_have_text(
            "Sent, waiting for the branch to confirm it."
        )
        _keep(page, "supply-sent", "en", 360)
        _switch_to(page, "zh_Hans")
        expect(item.locator("[data-test=supply-sent]")).to_have_text("已提交，等待网点确认。")
        _keep(page, "supply-sent", "zh_Hans", 360)
        assert tax_blocked(wait_for(rt, code, lambda _f: True))

        clerk = desk.new_page()
        sign_in(clerk, portal.clerk)
        clerk.goto(f"/portal/filings/{code}")
        clerk.click("[data-test=supplements-link]")
        pending = clerk.locator("[data-test=supplement][data-status=pending]")
        expect(pending.locator("[data-test=supplement-status]")).to_have_text("待确认")
        _keep(clerk, "supplement-branch", "zh_Hans", 1280)
        _switch_to(clerk, "en")
        expect(pending.locator("[data-test=supplement-status]")).to_have_text(
            "Waiting for confirmation"
        )
        _keep(clerk, "supplement-branch", "en", 1280)
        pending.locator("[data-test=confirm]").click()
        confirmed = clerk.locator("[data-test=supplement][data-status=confirmed]")
        expect(confirmed.locator("[data-test=supplement-status]")).to_have_text("Confirmed")

        wait_for(rt, code, complete, timeout=30)
        page.reload()
        expect(page.locator("[data-test=status]")).to_have_text("已交付")
        expect(page.locator("[data-test=to-supply]")).to_have_count(0)
        _keep(page, "supplied-complete", "zh_Hans", 360)
    finally:
        phone.close()
        desk.close()
