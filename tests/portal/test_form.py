"""The one form and its receipt in a real browser: the live name check (a conflicting name,
a free one), an inline error as the clerk types, uploads, filing with one may-be-supplemented
material missing, and the 容缺 receipt whose QR code decodes to the tracking page; then
screenshots of the form and the receipt in both languages at 360 px and desktop width."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import func, select

from orchestrator.filings.models import Filing
from orchestrator.filings.uploads import MAX_UPLOAD_BYTES
from tests.factories import ALL_MATERIALS, TRADE_NAMES, filing_input
from tests.integrations.test_e_licence import qr_codes_on, text_of
from tests.portal.conftest import PortalWorld, new_context, screenshot, sign_in
from tests.portal.test_browser import _check_and_keep, _switch_to

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n"
# The four essential materials and two of the three that may be supplemented: the last,
# the housing-fund authorisation, is left to supplement (容缺).
UPLOADED, MISSING = ALL_MATERIALS[:-1], ALL_MATERIALS[-1]


def typed_form(trade_name: str) -> dict[str, str]:
    """The default filing as a clerk types it into the form's fields."""
    data: dict[str, Any] = filing_input(company_name__trade_name=trade_name)
    form = {f"company_name.{k}": v for k, v in data["company_name"].items()}
    form |= {
        "industry_code": data["industry_code"],
        "address": data["address"],
        "business_scope": "\n".join(data["business_scope"]),
        "registered_capital_yuan": str(data["registered_capital_fen"] // 100),
        "branch_code": data["branch_code"],
        "housing_fund_rate_percent": str(data["housing_fund_rate_percent"]),
    }
    for role in ("legal_representative", "finance_officer"):
        form |= {f"{role}.{k}": v for k, v in data[role].items()}
    for i, holder in enumerate(data["shareholders"]):
        form |= {f"shareholders.{i}.{k}": str(v) for k, v in holder.items()}
    for i, member in enumerate(data["staff"]):
        form |= {f"staff.{i}.{k}": v for k, v in member.items()}
    return form


def field(page: Page, name: str) -> Any:
    return page.locator(f'[name="{name}"]')


def start_a_filing(page: Page) -> None:
    page.goto("/portal/")
    page.click("[data-test=new-filing]")
    page.click("[data-test=start]")
    expect(page).to_have_url(re.compile(r"/portal/filings/new/\d+$"))


def check_name(page: Page, trade_name: str) -> Any:
    field(page, "company_name.trade_name").fill(trade_name)
    page.click("[data-test=check-name]")
    result = page.locator("[data-test=name-result]")
    expect(result).not_to_have_text("…")
    expect(result).not_to_be_empty()
    return result


def test_file_with_a_material_to_supplement_and_get_the_receipt(
    context: BrowserContext, portal: PortalWorld
) -> None:
    page = context.new_page()
    sign_in(page, portal.clerk)
    start_a_filing(page)

    # The live name check, against the bureau's register.
    taken = check_name(page, "鑫达")
    expect(taken).to_have_class(re.compile(r"\bbad\b"))
    expect(taken).to_have_attribute("data-code", "name_conflict")
    trade_name = next(TRADE_NAMES)
    free = check_name(page, trade_name)
    expect(free).to_have_class(re.compile(r"\bok\b"))
    expect(free).to_contain_text("名称可以使用")

    # A bad field is flagged as one types, in the page's language.
    field(page, "legal_representative.mobile").fill("1380536")
    error = page.locator('[data-error-for="legal_representative.mobile"]')
    expect(error).to_contain_text("手机号码")

    for name, value in typed_form(trade_name).items():
        field(page, name).fill(value)
    expect(error).to_be_empty()
    # The draft keeps what was typed (each check posts it): leave and come back.
    with page.expect_response(lambda response: response.url.endswith("/check")):
        page.check('[name="delivery.method"][value="courier"]')
    expect(page.locator("[data-error-for=materials]")).to_contain_text("缺少必备材料")
    draft = page.url
    page.goto("/portal/filings/new")
    expect(page.locator("[data-test=draft]", has_text=trade_name)).to_have_count(1)
    page.goto(draft)
    expect(field(page, "legal_representative.mobile")).to_have_value(
        typed_form(trade_name)["legal_representative.mobile"]
    )
    expect(page.locator('[name="delivery.method"][value="courier"]')).to_be_checked()
    page.check('[name="delivery.method"][value="branch_pickup"]')

    for material in UPLOADED:
        item = page.locator(f"[data-test=material-{material}]")
        item.locator("input[type=file]").set_input_files(
            {"name": f"{material}.pdf", "mimeType": "application/pdf", "buffer": PDF}
        )
        item.locator("button").click()
        expect(
            page.locator(f"[data-test=material-{material}] [data-test=uploaded]")
        ).to_be_visible()

    # A file over the limit is stopped in the page, and refused by the server if sent.
    item = page.locator(f"[data-test=material-{MISSING}]")
    too_large = PDF + b"\0" * MAX_UPLOAD_BYTES
    item.locator("input[type=file]").set_input_files(
        {"name": "scan.pdf", "mimeType": "application/pdf", "buffer": too_large}
    )
    item.locator("button").click()
    expect(page.locator(f'[data-error-for="upload.{MISSING}"]')).to_contain_text("文件超过 5 MB")
    sent = page.request.post(
        item.locator("form").get_attribute("action") or "",
        multipart={
            "csrf_token": item.locator("[name=csrf_token]").get_attribute("value") or "",
            "material": MISSING,
            "file": {"name": "scan.pdf", "mimeType": "application/pdf", "buffer": too_large},
        },
    )
    assert sent.status == 422 and "文件超过 5 MB" in sent.text()

    # A file whose bytes are not what its name says is refused.
    item = page.locator(f"[data-test=material-{MISSING}]")
    item.locator("input[type=file]").set_input_files(
        {"name": "authorisation.pdf", "mimeType": "application/pdf", "buffer": b"\x89PNG\r\n\x1a\n"}
    )
    item.locator("button").click()
    expect(page.locator(f'[data-error-for="upload.{MISSING}"]')).to_contain_text("不符")

    page.check("[data-test=identity-checked]")
    action = page.locator("#filing").get_attribute("action")
    posted = page.evaluate("Object.fromEntries(new FormData(document.getElementById('filing')))")
    page.click("[data-test=file]")
    expect(page).to_have_url(re.compile(r"/portal/filings/OS\w+/receipt$"))
    expect(page.locator("[data-test=receipt-kind]")).to_have_text("容缺受理单")
    expect(page.locator("[data-test=missing]")).to_have_count(1)
    expect(page.locator("[data-test=missing]")).to_contain_text("须于")
    code = page.locator("[data-test=tracking-code]").inner_text()
    screenshot(page, "receipt-to-supplement-zh-1280")
    assert "1234" not in page.inner_text("body")  # the mobile's digits past the first three

    # The QR code opens the tracking page.
    png = page.request.get(f"/portal/filings/{code}/receipt/qr.png")
    assert png.ok and png.headers["content-type"] == "image/png"
    (decoded,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.body())))
    assert decoded.text == f"{portal.url}/track/?code={code}"
    pdf = page.request.get(f"/portal/filings/{code}/receipt.pdf")
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    assert qr_codes_on(pdf.body()) == [f"{portal.url}/track/?code={code}"]
    printed = text_of(pdf.body())
    assert code in printed and "容缺受理单" in printed and "1234" not in printed

    # A second submit of the same draft files nothing more: it leads to the same receipt.
    assert action is not None
    again = page.request.post(action, form=posted)
    assert again.ok and again.url.endswith(f"/portal/filings/{code}/receipt")
    with portal.rt.database.reading() as session:
        draft_key = "portal-draft-" + action.split("/")[-2]
        assert session.scalar(select(func.count()).where(Filing.idempotency_key == draft_key)) == 1

    # The filing's page shows the branch filed as the client's agent.
    page.goto(f"/portal/filings/{code}")
    expect(page.locator("[data-test=agent]")).to_contain_text(portal.clerk)


@pytest.mark.parametrize("width", [360, 1280])
def test_the_form_and_the_receipt_in_both_languages_fit_the_screen(
    browser: Browser, portal: PortalWorld, width: int
) -> None:
    ctx = new_context(browser, portal, width)
    try:
        page = ctx.new_page()
        sign_in(page, portal.clerk)
        start_a_filing(page)
        form_url = page.url
        receipt_url = f"/portal/filings/{portal.own_codes[0]}/receipt"
        for language in ("zh", "en"):
            if language == "en":
                _switch_to(page, "en")
            page.goto(form_url)
            _check_and_keep(page, "form", language, width)
            page.goto(receipt_url)
            _check_and_keep(page, "receipt", language, width)
    finally:
        ctx.close()


def test_another_branchs_drafts_and_receipts_are_not_found(
    browser: Browser, context: BrowserContext, portal: PortalWorld
) -> None:
    page = context.new_page()
    sign_in(page, portal.clerk)
    start_a_filing(page)
    draft = page.url.removeprefix(portal.url)
    other = browser.new_context(base_url=portal.url)
    try:
        theirs = other.new_page()
        sign_in(theirs, portal.other_clerk)
        expect(theirs).to_have_url(re.compile(r"/portal/$"))
        code = portal.own_codes[0]
        receipt = f"/portal/filings/{code}/receipt"
        for path in (draft, receipt, f"{receipt}.pdf", f"{receipt}/qr.png"):
            assert theirs.request.get(path).status == 404, path
        token = theirs.locator("[name=csrf_token]").first.get_attribute("value")
        assert theirs.request.post(f"{draft}/check", form={"csrf_token": token or ""}).status == 404
    finally:
        other.close()
    # Without the session's CSRF token nothing is checked, kept or filed.
    for path in ("/portal/names/check", f"{draft}/check"):
        assert page.request.post(path, form={"company_name.trade_name": "禾丰"}).status == 403
    assert page.request.post(f"{draft}/file", form={"identity_checked": "yes"}).status == 403
