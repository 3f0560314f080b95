"""The supervision dashboard in a real browser: an officer lands on it, sees the figures of a
history known by hand (the same as the JSON API's), its charts drawn by the vendored
Chart.js, exports a figure as CSV, approves a month's subsidy reimbursement; bad filters
get a plain error; branch staff and visitors are kept out. Screenshots in both languages,
at phone and desktop width."""

from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from orchestrator.subsidies.models import SubsidyPeriod
from tests.people import SHOUGUANG
from tests.portal.conftest import PortalWorld, check_page, new_context, screenshot, sign_in
from tests.portal.test_browser import _switch_to
from tests.supervision.known import stamp_threats, write_known

pytestmark = pytest.mark.browser

MARCH = "from=2025-03-01&to=2025-03-31"
# A month of its own to approve: approving closes it for every test after.
APPROVABLE = "2024-11"


@pytest.fixture(scope="module")
def known_branch(portal: PortalWorld) -> int:
    """The known history (its branch's id), and a past month of subsidies to approve."""
    branch_id = write_known(portal.rt)
    stamp_threats(portal.rt, branch_id)
    with portal.rt.database.transaction() as session:
        session.merge(
            SubsidyPeriod(
                district_code=SHOUGUANG,
                period=APPROVABLE,
                budget_fen=500_000,
                committed_fen=120_000,
                settled_fen=96_000,
            )
        )
    return branch_id


def officer_page(context: BrowserContext, portal: PortalWorld) -> Page:
    page = context.new_page()
    sign_in(page, portal.officer)
    expect(page).to_have_url(re.compile(r"/portal/supervision$"))
    return page


def test_an_officer_lands_on_the_dashboard_and_sees_the_known_figures(
    context: BrowserContext, portal: PortalWorld, known_branch: int
) -> None:
    page = officer_page(context, portal)
    expect(page.locator("h1")).to_have_text("监管看板")
    page.select_option("#branch", str(known_branch))
    page.fill("#from", "2025-03-01")
    page.fill("#to", "2025-03-31")
    page.click("[data-test=apply]")
    expect(page.locator("[data-test=ready-count]")).to_have_text("4")
    expect(page.locator("[data-test=within-half]")).to_have_text("50.0%")
    expect(page.locator("[data-test=good-rate]")).to_have_text("66.7%")
    # The charts are drawn from the figures the tables show.
    expect(page.locator("#chart-histogram")).to_have_attribute("data-drawn", "true")
    drawn = page.evaluate("Chart.getChart('chart-histogram').data.datasets[0].data")
    assert sum(drawn) == 4 and drawn[1] == 1 and drawn[14] == 1 and drawn[-1] == 1
    weeks = page.evaluate("Chart.getChart('chart-weeks').data.labels")
    assert weeks == ["2025-W10", "2025-W12"]
    # The known history's open filings: one past its deadline (tax), one at risk.
    threatened = page.locator("[data-test=threatened-filing]")
    expect(threatened.first).to_contain_text("已超时")
    expect(threatened.first).to_contain_text("税务登记")
    causes = page.locator("[data-test=causes] tbody tr")
    assert causes.count() >= 2


def test_a_table_and_its_csv_export_agree(
    context: BrowserContext, portal: PortalWorld, known_branch: int
) -> None:
    page = officer_page(context, portal)
    page.goto(f"/portal/supervision?branch={known_branch}&{MARCH}")
    rows = page.locator("[data-test=shares-step] tbody tr").all_inner_texts()
    assert len(rows) == 2 and rows[0].startswith("设立登记") and "\t2\t" in rows[0]
    exported = page.request.get(
        f"/portal/supervision/export/shares-by-step.csv?branch={known_branch}&{MARCH}"
    )
    assert exported.ok and exported.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(exported.text())))
    assert table[0][0] == "step" and [row[0] for row in table[1:]] == [
        "registration",
        "tax",
    ]
    assert [row[3] for row in table[1:]] == ["2", "1"]  # count


def test_bad_filters_are_named_and_nothing_breaks(
    context: BrowserContext, portal: PortalWorld
) -> None:
    page = officer_page(context, portal)
    response = page.goto("/portal/supervision?from=2025-03-31&to=2025-03-01")
    assert response is not None and response.status == 422
    expect(page.locator("[data-test=refused]")).to_contain_text("晚于结束日期")
    for query in ("branch=abc", "from=2025-13-01", "branch=999999", "district=110101"):
        response = page.goto(f"/portal/supervision?{query}")
        assert response is not None and response.status in (403, 422), query
        expect(page.locator("[data-test=refused]")).to_be_visible()
    assert page.request.get("/portal/supervision/export/nothing.csv").status == 404
    bad_csv = page.request.get("/portal/supervision/export/feedback.csv?from=x")
    assert bad_csv.status == 422


def test_an_officer_approves_a_month_once(
    context: BrowserContext, portal: PortalWorld, known_branch: int
) -> None:
    page = officer_page(context, portal)
    page.goto(f"/portal/supervision?from={APPROVABLE}-01&to={APPROVABLE}-30")
    month = page.locator(f"[data-test=subsidy-month][data-month='{APPROVABLE}']")
    expect(month).to_contain_text("¥1200.00")
    report = page.request.get(f"/portal/supervision/reimbursement/{APPROVABLE}.pdf")
    assert report.ok and report.body().startswith(b"%PDF")
    forged = page.request.post(
        f"/portal/supervision/reimbursement/{APPROVABLE}/approve", form={"csrf_token": "forged"}
    )
    assert forged.status == 403
    month.locator("[data-test=approve]").click()
    expect(page.locator("[data-test=approved]")).to_contain_text(APPROVABLE)
    expect(month.locator("[data-test=approved-month]")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"from={APPROVABLE}-01&to={APPROVABLE}-30&approved="))
    with portal.rt.database.reading() as session:
        approved_by = session.scalar(
            select(SubsidyPeriod.approved_by).where(
                SubsidyPeriod.district_code == SHOUGUANG, SubsidyPeriod.period == APPROVABLE
            )
        )
    assert approved_by == f"staff:{portal.officer}"


def test_branch_staff_and_visitors_are_kept_out(
    browser: Browser, context: BrowserContext, portal: PortalWorld
) -> None:
    page = context.new_page()
    page.goto("/supervision")
    expect(page).to_have_url(re.compile(r"/portal/login$"))  # via /portal/supervision
    sign_in(page, portal.clerk)
    response = page.goto("/portal/supervision")
    assert response is not None and response.status == 403
    expect(page.locator("h1")).to_have_text("不适用于您的角色")
    assert page.request.get("/portal/supervision/export/feedback.csv").status == 403
    approve = page.request.post(
        f"/portal/supervision/reimbursement/{APPROVABLE}/approve", form={"csrf_token": ""}
    )
    assert approve.status == 403


@pytest.mark.parametrize("width", [360, 1280])
def test_the_dashboard_in_both_languages_fits_the_screen(
    browser: Browser, portal: PortalWorld, known_branch: int, width: int
) -> None:
    ctx = new_context(browser, portal, width)
    try:
        page = officer_page(ctx, portal)
        page.goto(f"/portal/supervision?{MARCH}")
        for language in ("zh", "en"):
            if language == "en":
                _switch_to(page, "en")
                expect(page.locator("h1")).to_have_text("Supervision dashboard")
            expect(page.locator("#chart-steps")).to_have_attribute("data-drawn", "true")
            check_page(page, "the dashboard", language, width)
            screenshot(page, f"supervision-{language}-{width}")
        _switch_to(page, "zh")
    finally:
        ctx.close()
