"""Issue 14's whole journey in one real browser (Debian's Chromium through Playwright): a clerk
checks two names and files a company with one material missing, the 容缺 receipt's QR code
opens the tracking page on the entrepreneur's 360 px phone, where the material is supplied
with the code texted to the mobile; the branch confirms it and the open work queue follows
the filing to ready and to complete without a reload; the entrepreneur rates it 2, and the
branch manager finds the follow-up. Screenshots of the main steps are kept
(var/artifacts/portal/journey-*.png)."""

from __future__ import annotations

import io
import re

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, expect

from orchestrator.identity.models import Branch, Role
from tests.factories import TRADE_NAMES
from tests.notifications import code_sent_by, fresh_mobile
from tests.people import BranchStaff, staff_at
from tests.portal.conftest import PortalWorld, new_context, screenshot, sign_in
from tests.portal.test_form import (
    MISSING,
    PDF,
    UPLOADED,
    check_name,
    field,
    start_a_filing,
    typed_form,
)
from tests.portal.test_work import STAYED, mark, resident_id_of_collector, signed_in

pytestmark = pytest.mark.browser

MANAGER = "journey_mgr"
MANAGER_PASSWORD = "manager-password-journey"
COMMENT = "材料退回了两次，等了很久"


def _file_with_one_missing(page: Page, mobile: str) -> str:
    """Check a taken name and a free one, fill in the form, upload every material but
    `MISSING`, file; the receipt's tracking code."""
    start_a_filing(page)
    taken = check_name(page, "鑫达")  # on Shouguang's register already
    expect(taken).to_have_attribute("data-code", "name_conflict")
    expect(taken).to_have_class(re.compile(r"\bbad\b"))
    trade_name = next(TRADE_NAMES)
    free = check_name(page, trade_name)
    expect(free).to_have_class(re.compile(r"\bok\b"))
    expect(free).to_contain_text("名称可以使用")
    screenshot(page, "journey-01-name-check")

    typed = typed_form(trade_name)
    # A mobile of the journey's own: the texts it receives are this filing's alone.
    typed |= {"legal_representative.mobile": mobile, "shareholders.0.mobile": mobile}
    for name, value in typed.items():
        field(page, name).fill(value)
    for material in UPLOADED:
        item = page.locator(f"[data-test=material-{material}]")
        item.locator("input[type=file]").set_input_files(
            {"name": f"{material}.pdf", "mimeType": "application/pdf", "buffer": PDF}
        )
        item.locator("button").click()
        expect(item.locator("[data-test=uploaded]")).to_be_visible()
    page.check("[data-test=identity-checked]")
    screenshot(page, "journey-02-form")
    page.click("[data-test=file]")
    expect(page).to_have_url(re.compile(r"/portal/filings/OS\w+/receipt$"))
    return page.locator("[data-test=tracking-code]").inner_text()


def test_from_the_counter_to_the_managers_follow_up(
    browser: Browser,
    context: BrowserContext,
    portal: PortalWorld,
    branch_staff: BranchStaff,
) -> None:
    rt = portal.rt
    mobile = fresh_mobile()
    with rt.database.transaction() as session:
        branch = session.get(Branch, branch_staff.branch_id)  # the clerk's branch
        assert branch is not None
        staff_at(session, branch, MANAGER, "冯雪", role=Role.BRANCH_MANAGER,
                 password=MANAGER_PASSWORD)  # fmt: skip

    # At the counter: the clerk files, one material to supplement (容缺).
    desk = signed_in(context, portal)
    code = _file_with_one_missing(desk, mobile)
    expect(desk.locator("[data-test=receipt-kind]")).to_have_text("容缺受理单")
    missing = desk.locator("[data-test=missing]")
    expect(missing).to_have_count(1)
    expect(missing).to_contain_text("须于")
    screenshot(desk, "journey-03-receipt")
    png = desk.request.get(f"/portal/filings/{code}/receipt/qr.png")
    assert png.ok
    (decoded,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.body())))
    assert decoded.text == f"{portal.url}/track/?code={code}"

    # The work queue stays open on the clerk's first tab from here on, never reloaded.
    desk.goto(f"/portal/?q={code}")
    row = desk.locator(f"[data-test=filing][data-code={code}]")
    expect(row.locator("[data-test=status]")).to_have_text("办理中")
    to_confirm = desk.locator("[data-test=count-supplement_to_confirm]")
    expect(desk.locator("[data-test=count-waiting_supplement]")).to_have_text("1")
    expect(to_confirm).to_have_text("0")
    mark(desk)

    phone_ctx = new_context(browser, portal, 360)
    manager_ctx = new_context(browser, portal)
    try:
        # The entrepreneur's phone: what the QR code opens, with the mobile's last four digits.
        phone = phone_ctx.new_page()
        phone.goto(decoded.text)
        expect(phone.locator("#code")).to_have_value(code)
        phone.fill("#digits", mobile[-4:])
        phone.click("button[type=submit]")
        expect(phone).to_have_url(re.compile(r"/track/filing$"))
        expect(phone.locator("[data-test=tracking-code]")).to_have_text(code)
        item = phone.locator(f"#supply-{MISSING}")
        expect(phone.locator("[data-test=to-supply]")).to_have_count(1)
        expect(item).to_be_visible()
        screenshot(phone, "journey-04-track")

        # Supplying it, with the code the SMS gateway texted the mobile.
        item.locator("[data-test=supply-open]").click()
        send = item.locator("[data-test=supply-send-code]").click
        one_time = code_sent_by(rt, code, send)
        if item.locator("details[open]").count() == 0:
            item.locator("[data-test=supply-open]").click()
        item.locator("input[type=file]").set_input_files(
            {"name": "authorisation.pdf", "mimeType": "application/pdf", "buffer": PDF}
        )
        item.locator("input[name=one_time_code]").fill(one_time)
        item.locator("[data-test=supply-submit]").click()
        expect(item.locator("[data-test=supply-sent]")).to_have_text("已提交，等待网点确认。")
        screenshot(phone, "journey-05-supplied")
        # The open queue learns of it: a supplement for the branch to confirm.
        expect(to_confirm).to_have_text("1", timeout=15_000)

        # At the branch, in a second tab: the clerk confirms what was sent.
        branch_tab = context.new_page()
        branch_tab.goto(f"/portal/filings/{code}")
        branch_tab.click("[data-test=supplements-link]")
        pending = branch_tab.locator("[data-test=supplement][data-status=pending]")
        expect(pending).to_have_count(1)
        pending.locator("[data-test=confirm]").click()
        confirmed = branch_tab.locator("[data-test=supplement][data-status=confirmed]")
        expect(confirmed.locator("[data-test=supplement-status]")).to_have_text("已确认")
        screenshot(branch_tab, "journey-06-confirmed")

        # The open queue shows the filing ready (licence and seals wait at the branch).
        expect(row.locator("[data-test=status]")).to_have_text("已办结", timeout=30_000)
        expect(desk.locator("[data-test=count-ready]")).to_have_text("1")
        expect(to_confirm).to_have_text("0")
        assert desk.evaluate(STAYED), "the queue was loaded again"
        screenshot(desk, "journey-07-queue-ready")

        # Licence and seals handed over at the branch (second tab); the queue follows.
        branch_tab.goto(f"/portal/filings/{code}")
        handover = branch_tab.locator("[data-test=handover-form]")
        handover.locator("#collector-name").fill("王建国")
        handover.locator("#collector-id").fill(resident_id_of_collector())
        branch_tab.check("[data-test=collector-checked]")
        branch_tab.click("[data-test=hand-over]")
        expect(branch_tab.locator("[data-test=filing-status]")).to_have_text("已交付")
        expect(row.locator("[data-test=status]")).to_have_text("已交付", timeout=15_000)
        expect(desk.locator("[data-test=count-done]")).to_have_text("1")
        expect(desk.locator("[data-test=count-ready]")).to_have_text("0")
        assert desk.evaluate(STAYED), "the queue was loaded again"
        screenshot(desk, "journey-08-queue-complete")

        # Back on the phone: complete, and rated 2 with a code texted for rating.
        phone.reload()
        expect(phone.locator("[data-test=status]")).to_have_text("已交付")
        expect(phone.locator("[data-test=to-supply]")).to_have_count(0)
        one_time = code_sent_by(rt, code, lambda: phone.click("[data-test=send-code]"))
        # By the fields' names, the form's own contract with the server.
        rating = phone.locator("form", has=phone.locator("input[name=score]"))
        rating.locator("input[name=score][value='2']").check()
        rating.locator("[name=comment]").fill(COMMENT)
        rating.locator("input[name=one_time_code]").fill(one_time)
        rating.locator("button[type=submit]").click()
        expect(phone.locator("[data-test=rated]")).to_have_text(
            "感谢评价：您给出了 2 分（满分 5 分）。"
        )
        screenshot(phone, "journey-09-rated")

        # The branch manager finds the follow-up of the bad rating.
        manager = manager_ctx.new_page()
        sign_in(manager, MANAGER, MANAGER_PASSWORD)
        manager.click("[data-test=follow-ups]")
        follow_up = manager.locator("[data-test=follow-up]", has_text=code)
        expect(follow_up).to_have_count(1)
        expect(follow_up.locator("[data-test=follow-up-status]")).to_have_text("待核实")
        expect(follow_up).to_contain_text(COMMENT)
        screenshot(manager, "journey-10-follow-up")
    finally:
        phone_ctx.close()
        manager_ctx.close()
