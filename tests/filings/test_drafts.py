"""Drafts, uploads and filing as the client's agent (the portal's one form, at the service
level), on SQLite and PostgreSQL: uploads whose bytes are not what their name says, or too
large, are refused; a draft files once however often it is submitted; the agent's record
goes with the filing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from orchestrator.errors import Invalid, NotFound
from orchestrator.filings import drafts
from orchestrator.filings.models import Event, Filing
from orchestrator.filings.schemas import FilingInput
from orchestrator.filings.uploads import (
    MAX_UPLOAD_BYTES,
    DatabaseStore,
    checked_media_type,
    sniff,
    store_upload,
)
from orchestrator.identity.service import Scope
from orchestrator.runtime import Runtime
from tests.factories import ALL_MATERIALS, TRADE_NAMES, filing_input
from tests.people import BranchStaff

pytestmark = pytest.mark.databases("sqlite", "postgresql")

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32


@pytest.mark.parametrize(
    ("filename", "content", "code"),
    [
        ("mandate.pdf", PNG, "content_mismatch"),  # a PNG named .pdf
        ("photo.png", b"MZ\x90\x00 not an image", "content_mismatch"),
        ("photo.jpg", PDF, "content_mismatch"),
        ("notes.txt", b"plain text", "unsupported_type"),
        ("mandate.pdf", b"", "empty"),
        ("mandate.pdf", PDF + b"\x00" * MAX_UPLOAD_BYTES, "too_large"),
    ],
)
def test_an_upload_is_refused_unless_its_bytes_are_what_its_name_says(
    filename: str, content: bytes, code: str
) -> None:
    with pytest.raises(Invalid) as refused:
        checked_media_type(filename, content)
    (error,) = refused.value.detail["errors"]
    assert error["code"] == code and error["message_zh"] and error["message_en"]


def test_the_bytes_say_what_they_are() -> None:
    assert (sniff(PDF), sniff(PNG), sniff(JPEG)) == ("application/pdf", "image/png", "image/jpeg")
    assert checked_media_type("SCAN.JPEG", JPEG) == "image/jpeg"


def _draft_with(rt: Runtime, staff: BranchStaff, materials: tuple[str, ...]) -> int:
    now = rt.clock.now()
    with rt.database.transaction() as session:
        draft = drafts.new_draft(
            session, branch_id=staff.branch_id, staff_id=staff.clerk_id, now=now
        )
        for material in materials:
            store_upload(session, DatabaseStore(), draft_id=draft.id, material=material,
                         filename=f"{material}.pdf", content=PDF, staff_id=staff.clerk_id,
                         now=now)  # fmt: skip
        return draft.id


def _file(
    rt: Runtime, staff: BranchStaff, draft_id: int, data: FilingInput, *, checked: bool
) -> str:
    with rt.database.transaction() as session:
        draft = drafts.get_draft(session, staff.clerk.scope, draft_id)
        return drafts.file_draft(
            session, actor=staff.clerk, staff_id=staff.clerk_id, draft=draft, data=data,
            identity_checked=checked, now=rt.clock.now(),
            lease_until=rt.clock.after(rt.settings.step_lease_seconds), calendar=rt.calendar,
        )  # fmt: skip


def _data(materials: tuple[str, ...], **overrides: Any) -> FilingInput:
    return FilingInput.model_validate(
        filing_input(
            company_name__trade_name=next(TRADE_NAMES), materials=list(materials), **overrides
        )
    )


def test_a_draft_files_once_as_the_clients_agent(
    onestop: Runtime, branch_staff: BranchStaff
) -> None:
    materials = ALL_MATERIALS[:4]
    draft_id = _draft_with(onestop, branch_staff, materials)
    data = _data(materials)
    code = _file(onestop, branch_staff, draft_id, data, checked=True)
    assert _file(onestop, branch_staff, draft_id, data, checked=True) == code  # a double submit
    with onestop.database.reading() as session:
        filings = session.scalar(
            select(func.count()).where(Filing.idempotency_key == f"portal-draft-{draft_id}")
        )
        filing = session.scalars(select(Filing).where(Filing.tracking_code == code)).one()
        agent = drafts.agent_record(session, filing.id)
        kinds = session.scalars(select(Event.kind).where(Event.filing_id == filing.id)).all()
    assert filings == 1 and kinds.count("filed_as_agent") == 1
    assert agent is not None and agent["identity_checked_in_person"] is True
    assert agent["actor"] == branch_staff.clerk.name and len(agent["mandate_sha256"]) == 64


def test_filing_needs_the_identity_check_and_the_mandate(
    onestop: Runtime, branch_staff: BranchStaff
) -> None:
    without_mandate = ALL_MATERIALS[:3]
    draft_id = _draft_with(onestop, branch_staff, without_mandate)
    with pytest.raises(Invalid) as refused:
        _file(onestop, branch_staff, draft_id, _data(ALL_MATERIALS[:4]), checked=False)
    fields = {e["field"] for e in refused.value.detail["errors"]}
    assert fields == {"identity_checked", "branch_mandate"}


def test_another_branchs_draft_is_not_found(onestop: Runtime, branch_staff: BranchStaff) -> None:
    draft_id = _draft_with(onestop, branch_staff, ())
    elsewhere = Scope(branch_id=branch_staff.branch_id + 1000, district_code="370783")
    with onestop.database.reading() as session, pytest.raises(NotFound):
        drafts.get_draft(session, elsewhere, draft_id)
