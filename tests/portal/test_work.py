"""The clerk's work in a real browser: the queue's buckets refreshing themselves as filings
move, correcting a step an agency refused and sending it again, handing licence and seals
over at the branch, and downloading the licence; with screenshots in both languages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from orchestrator.filings.handover import checked_collector
from orchestrator.filings.models import FilingStatus
from orchestrator.tracker.reminders import remind_and_flag
from tests.factories import TRADE_NAMES, resident_id
from tests.filings import (
    complete,
    duplicate_effects_of,
    events,
    file,
    file_for_pickup,
    hand_over,
    set_behaviour,
    wait_for,
)
from tests.filings.test_step_withdrawal import STEP, past_due, waiting_for_the_material
from tests.people import BranchStaff
from tests.portal.conftest import PortalWorld, sign_in
from tests.portal.test_browser import _check_and_keep as keep

pytestmark = pytest.mark.browser

REGISTERED = "鑫达"  # on Shouguang's register already: the bureau refuses the name
STAYED = "() => window.__stayed === 1"  # set once: gone if the page was loaded again


def resident_id_of_collector() -> str:
    return resident_id(date(1985, 3, 9), sequence=246)


def signed_in(context: BrowserContext, portal: PortalWorld) -> Page:
    page = context.new_page()
    sign_in(page, portal.clerk)
    expect(page).to_have_url(re.compile(r"/portal/$"))
    return page


def in_english(page: Page) -> None:
    page.click("[data-test=language]")
    expect(page.locator("html")).to_have_attribute("lang", "en")


def mark(page: Page) -> None:
    """Mark the loaded page: a reload would lose the mark."""
    page.evaluate("() => { window.__stayed = 1; }")


def at_branch(portal: PortalWorld, staff: BranchStaff) -> str:
    """A filing whose licence and seals wait at the branch to be collected."""
    return file_for_pickup(portal.rt, staff, timeout=30).tracking_code


@pytest.fixture
def name_refused(portal: PortalWorld, branch_staff: BranchStaff) -> Iterator[str]:
    """A filing whose registration the bureau refused for its name, the bank's pre-check
    held back (it would use the name too); the pre-check comes back afterwards."""
    set_behaviour(portal.rt, "bank_precheck", outage=True)
    try:
        code = file(portal.rt, branch_staff, trade_name=REGISTERED)
        wait_for(portal.rt, code, lambda f: f.status == FilingStatus.ACTION_REQUIRED, timeout=30)
        yield code
    finally:
        set_behaviour(portal.rt, "bank_precheck", outage=False)


class TestLiveQueue:
    def test_a_filing_moves_between_buckets_while_the_queue_is_open(
        self, context: BrowserContext, portal: PortalWorld, branch_staff: BranchStaff
    ) -> None:
        code = at_branch(portal, branch_staff)
        page = signed_in(context, portal)
        page.goto(f"/portal/?bucket=ready&q={code}")
        row = page.locator(f"[data-test=filing][data-code={code}]")
        expect(row.locator("[data-test=status]")).to_have_text("已办结")
        expect(page.locator("[data-test=count-ready]")).to_have_text("1")
        mark(page)

        collector = checked_collector("王芳", resident_id_of_collector(), checked_in_person=True)
        hand_over(portal.rt, branch_staff, code, collector)

        # Ready no more: the row leaves the bucket, the counts follow, nothing reloaded.
        expect(row).to_have_count(0, timeout=15_000)
        expect(page.locator("[data-test=count-ready]")).to_have_text("0")
        expect(page.locator("[data-test=count-done]")).to_have_text("1")
        assert page.evaluate(STAYED)
        page.click("[data-test=bucket-done]")
        expect(page.locator(f"[data-test=filing][data-code={code}]")).to_have_count(1)
        expect(page.locator("#q")).to_have_value(code)  # the search holds within a bucket
        keep(page, "queue-done", "zh", 1280)
        in_english(page)
        expect(page.locator("[data-test=bucket-done]")).to_contain_text("Done")
        keep(page, "queue-done", "en", 1280)

    def test_needs_attention_shows_the_agency_s_reason(
        self, context: BrowserContext, portal: PortalWorld, name_refused: str
    ) -> None:
        page = signed_in(context, portal)
        page.click("[data-test=bucket-needs_attention]")
        row = page.locator(f"[data-test=filing][data-code={name_refused}]")
        expect(row.locator("[data-test=attention]")).to_contain_text(REGISTERED)
        expect(row.locator("[data-test=status]")).to_have_text("需处理")
        keep(page, "queue-attention", "zh", 1280)
        in_english(page)
        expect(row.locator("[data-test=status]")).to_have_text("Needs attention")
        keep(page, "queue-attention", "en", 1280)


class TestCorrectAndResubmit:
    def test_the_clerk_corrects_the_name_and_the_filing_completes_once(
        self,
        context: BrowserContext,
        portal: PortalWorld,
        branch_staff: BranchStaff,
        name_refused: str,
    ) -> None:
        code = name_refused
        page = signed_in(context, portal)
        page.goto(f"/portal/filings/{code}")
        form = page.locator("[data-test=correct-form]")
        expect(page.locator("[data-test=refusal-reason]")).to_contain_text(REGISTERED)
        trade_name = form.locator("input[name='company_name.trade_name']")
        expect(trade_name).to_have_value(REGISTERED)  # the clerk who filed it sees it
        keep(page, "filing-correct", "zh", 1280)

        # Too long for a trade name: refused as at intake, inline, in the page's language.
        too_long = "禾" * 21
        trade_name.fill(too_long)
        page.click("[data-test=resubmit]")
        error = page.locator("[data-error-for='company_name.trade_name']")
        expect(error).to_contain_text("20")
        expect(error).to_contain_text(re.compile(r"[\u4e00-\u9fff]"))
        in_english(page)
        page.locator("input[name='company_name.trade_name']").fill(too_long)
        page.click("[data-test=resubmit]")
        expect(error).to_contain_text("20")
        expect(error).not_to_contain_text(re.compile(r"[\u4e00-\u9fff]"))
        keep(page, "filing-correct", "en", 1280)

        new_name = next(TRADE_NAMES)
        page.locator("input[name='company_name.trade_name']").fill(new_name)
        page.click("[data-test=resubmit]")
        expect(page).to_have_url(re.compile(rf"/portal/filings/{code}$"))
        # Only now: a pre-check finished before the correction would have used the name.
        set_behaviour(portal.rt, "bank_precheck", outage=False)
        expect(page.locator("[data-test=correction]")).to_have_count(0)
        mark(page)
        # The page follows the steps as they run again, without being loaded again.
        filing = wait_for(portal.rt, code, complete, timeout=30)
        expect(page.locator("[data-test=filing-status]")).to_have_text("Complete")
        assert page.evaluate(STAYED)
        assert new_name in filing.company_name
        kinds = [(e.kind, e.step) for e in events(portal.rt, code)]
        assert kinds.count(("done", "registration")) == 1
        assert ("corrected", "registration") in kinds
        # This filing's effects only: the runtime and simulators are the whole session's,
        # and other tests' filings (swept under their own clocks) are not this one's.
        assert duplicate_effects_of(portal.rt, filing) == 0


class TestHandOver:
    def test_the_collector_s_identity_is_checked_and_kept_masked(
        self, context: BrowserContext, portal: PortalWorld, branch_staff: BranchStaff
    ) -> None:
        code = at_branch(portal, branch_staff)
        page = signed_in(context, portal)
        page.goto(f"/portal/filings/{code}")
        form = page.locator("[data-test=handover-form]")
        keep(page, "filing-handover", "zh", 1280)
        number = resident_id_of_collector()
        form.locator("#collector-name").fill("李娜")
        form.locator("#collector-id").fill(number)
        page.click("[data-test=hand-over]")  # the card not checked in person
        expect(page.locator("[data-error-for=identity_checked]")).not_to_be_empty()
        in_english(page)
        keep(page, "filing-handover", "en", 1280)
        page.locator("#collector-name").fill("李娜")
        page.locator("#collector-id").fill(number)
        page.check("[data-test=collector-checked]")
        page.click("[data-test=hand-over]")
        expect(page.locator("[data-test=filing-status]")).to_have_text("Complete")
        assert number not in page.content()

        done = [e for e in events(portal.rt, code) if e.kind == "done" and e.step == "delivery"]
        collector = done[0].detail["result"]["collector"]
        assert collector == {
            "name": "李娜",
            "id_number": number[:6] + "********" + number[-4:],
            "identity_checked_in_person": True,
        }

        # Registration is done: its licence, as the bureau signed it.
        with page.expect_download() as download:
            page.click("[data-test=licence-link]")
        path = download.value.path()
        assert path.read_bytes().startswith(b"%PDF-")


class TestMaterialPastDue:
    def test_the_clerk_withdraws_the_step_waiting_for_it_and_the_filing_completes(
        self, context: BrowserContext, portal: PortalWorld, branch_staff: BranchStaff
    ) -> None:
        code = waiting_for_the_material(portal.rt, branch_staff)
        page = signed_in(context, portal)
        page.goto(f"/portal/filings/{code}")
        card = page.locator(f"[data-test=withdraw-{STEP}]")
        expect(card).to_have_count(0)  # not past due: the applicant may still send it
        past_due(portal.rt, code)
        now = portal.rt.clock.now()
        with portal.rt.database.transaction() as session:  # the tracker's pass
            remind_and_flag(session, calendar=portal.rt.calendar, now=now, send_by=now)
        page.goto(f"/portal/?bucket=material_overdue&q={code}")
        expect(page.locator(f"text={code}")).to_be_visible()
        expect(page.locator("[data-test=unread]")).to_be_visible()
        page.click("[data-test=inbox]")
        notice = page.locator("[data-test=notice]", has_text=code)
        expect(notice).to_have_attribute("data-kind", "material_overdue")
        keep(page, "inbox", "zh", 1280)
        page.click("[data-test=mark-read]")
        expect(page.locator("[data-test=unread]")).to_have_count(0)
        notice.get_by_role("link", name=code).click()
        expect(card).to_be_visible()
        keep(page, "filing-withdraw-step", "zh", 1280)
        in_english(page)
        keep(page, "filing-withdraw-step", "en", 1280)
        page.click(f"[data-test=withdraw-{STEP}-button]")
        expect(card).to_have_count(0)
        wait_for(portal.rt, code, complete, timeout=30)
        page.reload()
        expect(page.locator("[data-test=filing-status]")).to_have_text("Complete")
