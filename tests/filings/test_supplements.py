"""容缺 materials sent from the tracking page: kept as pending supplements, validated as at
intake, then confirmed by the branch (the blocked step resumes, once) or refused with a reason."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.errors import Conflict, Invalid, NotFound
from orchestrator.filings import queue, service, supplements
from orchestrator.filings.models import Event, Filing, MaterialStatus
from orchestrator.filings.supplements import PendingSupplement, SupplementStatus
from orchestrator.filings.uploads import DatabaseStore
from orchestrator.identity.service import Scope
from orchestrator.runtime import Runtime
from tests.factories import filing_input
from tests.filings import complete, duplicate_effects, file_blocked, tax_blocked, wait_for
from tests.people import BranchStaff

pytestmark = pytest.mark.databases("sqlite", "postgresql")

MATERIAL = "finance_tax_agents"  # carries the finance officer; blocks tax
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n"
STORE = DatabaseStore()


@pytest.fixture
def code(onestop: Runtime, branch_staff: BranchStaff) -> str:
    """A filing whose tax step is blocked for want of the finance officer's material."""
    return file_blocked(onestop, branch_staff)


def _send(
    rt: Runtime,
    code: str,
    *,
    data: dict[str, Any] | None = None,
    filename: str = "officer.pdf",
    content: bytes = PDF,
) -> PendingSupplement:
    officer = filing_input()["finance_officer"]
    with rt.database.transaction() as session:
        filing = session.scalars(select(Filing).where(Filing.tracking_code == code)).one()
        return supplements.submit(
            session,
            STORE,
            filing=filing,
            material_code=MATERIAL,
            filename=filename,
            content=content,
            data={"finance_officer": officer} if data is None else data,
            now=rt.clock.now(),
        )


def _confirm(rt: Runtime, actor: service.Actor, code: str, supplement_id: int) -> None:
    with rt.database.transaction() as session:
        supplements.confirm(
            session,
            actor=actor,
            tracking_code=code,
            supplement_id=supplement_id,
            now=rt.clock.now(),
            lease_until=rt.clock.after(rt.settings.step_lease_seconds),
        )


def _filing(rt: Runtime, code: str) -> Filing:
    return wait_for(rt, code, lambda _f: True)


def _material_status(rt: Runtime, code: str) -> MaterialStatus:
    return {m.code: m.status for m in _filing(rt, code).materials}[MATERIAL]


def _to_confirm(rt: Runtime, session: Session, scope: Scope) -> list[str]:
    """The tracking codes in the scope's work queue bucket of supplements to confirm."""
    bucket = queue.Bucket.SUPPLEMENT_TO_CONFIRM
    filings, _ = queue.page(session, scope, bucket, now=rt.clock.now())
    return [filing.tracking_code for filing in filings]


class TestSending:
    def test_a_supplement_waits_for_the_branch_and_the_step_stays_blocked(
        self, onestop: Runtime, branch_staff: BranchStaff, code: str
    ) -> None:
        sent = _send(onestop, code)
        assert sent.status == SupplementStatus.PENDING and sent.media_type == "application/pdf"
        assert _material_status(onestop, code) == MaterialStatus.MISSING
        assert tax_blocked(_filing(onestop, code))
        with onestop.database.reading() as session:
            waiting = _to_confirm(onestop, session, branch_staff.clerk.scope)
            elsewhere = _to_confirm(
                onestop, session, Scope(branch_id=branch_staff.branch_id + 1000, can_file=True)
            )
            (event,) = session.scalars(
                select(Event).where(
                    Event.kind == "supplement_sent", Event.filing_id == sent.filing_id
                )
            ).all()
        assert code in waiting
        with onestop.database.reading() as session:
            awaiting = session.scalars(
                select(Filing.tracking_code).where(supplements.awaiting_confirmation())
            ).all()
        assert code in awaiting
        assert code not in elsewhere
        id_number = filing_input()["finance_officer"]["id_number"]
        assert id_number not in str(event.detail)  # masked in the history
        assert event.detail["data"]["finance_officer"]["id_number"].startswith(id_number[:6])

    def test_bytes_unlike_their_name_and_invalid_fields_are_refused_per_field(
        self, onestop: Runtime, code: str
    ) -> None:
        with pytest.raises(Invalid) as mismatch:
            _send(onestop, code, content=b"\x89PNG\r\n\x1a\n....")
        assert [e["field"] for e in mismatch.value.detail["errors"]] == ["file"]
        officer = {**filing_input()["finance_officer"], "id_number": "370783199001011234"}
        with pytest.raises(Invalid) as wrong_id:
            _send(onestop, code, data={"finance_officer": officer})
        assert [e["field"] for e in wrong_id.value.detail["errors"]] == [
            "finance_officer.id_number"
        ]
        with pytest.raises(Invalid) as empty:
            _send(onestop, code, data={})
        assert [e["field"] for e in empty.value.detail["errors"]] == ["finance_officer"]
        with onestop.database.reading() as session:  # nothing half-kept
            assert supplements.of_filing(session, _filing(onestop, code).id) == []

    def test_a_second_send_while_one_waits_is_a_conflict(self, onestop: Runtime, code: str) -> None:
        _send(onestop, code)
        with pytest.raises(Conflict):
            _send(onestop, code)


class TestTheBranchAnswers:
    def test_confirming_resumes_the_step_once_and_the_filing_completes(
        self, onestop: Runtime, branch_staff: BranchStaff, code: str
    ) -> None:
        sent = _send(onestop, code)
        other = service.Actor("staff:liming", Scope(branch_id=branch_staff.branch_id + 1000,
                                                    can_file=True))  # fmt: skip
        with pytest.raises(NotFound):
            _confirm(onestop, other, code, sent.id)
        _confirm(onestop, branch_staff.clerk, code, sent.id)
        with pytest.raises(Conflict):  # a second confirm does nothing twice
            _confirm(onestop, branch_staff.clerk, code, sent.id)
        filing = wait_for(onestop, code, complete)
        officer = filing_input()["finance_officer"]
        assert filing.payload["finance_officer"]["id_number"] == officer["id_number"]
        assert _material_status(onestop, code) == MaterialStatus.SUPPLEMENTED
        with onestop.database.reading() as session:
            row = session.get(PendingSupplement, sent.id)
            assert row is not None and row.status == SupplementStatus.CONFIRMED
            waiting = _to_confirm(onestop, session, branch_staff.clerk.scope)
            awaiting = session.scalars(
                select(Filing.tracking_code).where(supplements.awaiting_confirmation())
            ).all()
        assert code not in waiting and code not in awaiting
        assert duplicate_effects(onestop) == 0

    def test_refusing_keeps_the_material_due_says_why_and_allows_another_send(
        self, onestop: Runtime, branch_staff: BranchStaff, code: str
    ) -> None:
        sent = _send(onestop, code)
        with onestop.database.transaction() as session, pytest.raises(Invalid):
            supplements.refuse(
                session,
                actor=branch_staff.clerk,
                tracking_code=code,
                supplement_id=sent.id,
                reason="  ",
                now=onestop.clock.now(),
            )
        with onestop.database.transaction() as session:
            supplements.refuse(session, actor=branch_staff.clerk, tracking_code=code,
                               supplement_id=sent.id, reason="扫描件不清晰",
                               now=onestop.clock.now())  # fmt: skip
        assert _material_status(onestop, code) == MaterialStatus.MISSING
        with onestop.database.reading() as session:
            (row,) = supplements.of_filing(session, sent.filing_id)
        assert row.status == SupplementStatus.REFUSED and row.reason == "扫描件不清晰"
        with pytest.raises(Conflict):  # refused: nothing left to confirm
            _confirm(onestop, branch_staff.clerk, code, sent.id)
        again = _send(onestop, code)
        _confirm(onestop, branch_staff.clerk, code, again.id)
        wait_for(onestop, code, complete)
