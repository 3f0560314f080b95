"""The intake form tells the clerk, before filing, what the district pays for and whether
this month's budget still covers it; the receipt says what the filing got."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from bank_portal.web import create_portal
from orchestrator.filings import drafts
from orchestrator.identity.sessions import set_password
from orchestrator.runtime import Runtime
from orchestrator.subsidies import ledger
from tests.filings import file_undispatched
from tests.people import BranchStaff
from tests.subsidies import with_budget

PASSWORD = "correct-horse-battery"


def _signed_in(rt: Runtime) -> TestClient:
    """A portal client signed in as the clerk (to be used as a context manager)."""
    with rt.database.transaction() as session:
        set_password(session, "wangfang", PASSWORD)
    client = TestClient(create_portal(rt.settings))
    login = client.get("/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
    assert found
    signed = client.post(
        "/login", data={"username": "wangfang", "password": PASSWORD, "csrf_token": found.group(1)}
    )
    assert signed.status_code in (200, 303), signed.text
    return client


def _form_page(rt: Runtime, staff: BranchStaff, form: dict[str, object]) -> str:
    with rt.database.transaction() as session:
        draft = drafts.new_draft(
            session, branch_id=staff.branch_id, staff_id=staff.clerk_id, now=rt.clock.now()
        )
        drafts.save_form(session, draft, form, now=rt.clock.now())
        draft_id = draft.id
    with _signed_in(rt) as client:
        return client.get(f"/filings/new/{draft_id}").text


FORM = {"district_code": "370783", "industry_code": "7511", "seals": ["official", "finance"],
        "delivery.method": "courier"}  # fmt: skip


@pytest.mark.usefixtures("ample_budget")
def test_the_free_items_are_named_with_their_amount(
    onestop: Runtime, branch_staff: BranchStaff
) -> None:
    page = _form_page(onestop, branch_staff, FORM)
    assert "按本区县政策免费" in page and "公章、财务专用章、证照寄递" in page
    assert "¥49.00" in page  # 20 + 15 + 14 yuan


def test_a_spent_budget_is_said_before_filing(
    onestop: Runtime, branch_staff: BranchStaff, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger, "load_reference", lambda: with_budget(1))
    page = _form_page(onestop, branch_staff, FORM)
    assert "本月补贴预算已用完" in page


def test_nothing_is_said_where_nothing_is_free(onestop: Runtime, branch_staff: BranchStaff) -> None:
    page = _form_page(onestop, branch_staff, {**FORM, "industry_code": ""})
    assert 'data-test="subsidy"' not in page


@pytest.mark.usefixtures("ample_budget")
def test_the_receipt_names_what_the_district_pays_for(
    onestop: Runtime, branch_staff: BranchStaff
) -> None:
    code = file_undispatched(onestop, branch_staff)
    with _signed_in(onestop) as client:
        page = client.get(f"/filings/{code}/receipt").text
        assert client.get(f"/filings/{code}/receipt.pdf").status_code == 200
    assert (
        "按本区县政策免费：公章、财务专用章、发票专用章、法定代表人名章、证照寄递（¥74.00）" in page
    )


def test_the_receipt_says_the_firm_pays_when_the_budget_was_spent(
    onestop: Runtime, branch_staff: BranchStaff, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger, "load_reference", lambda: with_budget(1))
    code = file_undispatched(onestop, branch_staff)
    with _signed_in(onestop) as client:
        page = client.get(f"/filings/{code}/receipt").text
    assert "本区县补贴预算已用完，由企业自付" in page
