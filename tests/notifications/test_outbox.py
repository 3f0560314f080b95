"""Texts to the applicant, end to end in the embedded mode: written with their cause, sent
after the commit, exactly once at the gateway under redelivery, crashes and outages."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from orchestrator.filings.models import Filing, Material, MaterialStatus
from orchestrator.filings.schemas import FilingInput
from orchestrator.notifications import outbox, texts
from orchestrator.notifications.models import OutboxMessage, OutboxStatus
from orchestrator.reference import load_reference
from orchestrator.runtime import Runtime
from orchestrator.settings import tracking_url
from orchestrator.tasks import notifications as notification_tasks
from orchestrator.tracker.sweeper import sweep_outbox
from tests.factories import ALL_MATERIALS, TRADE_NAMES, filing_input
from tests.filings import complete, file, file_in, set_behaviour, wait_for
from tests.notifications import (
    fresh_mobile,
    outbox_rows,
    texts_to,
    wait_for_texts,
    wait_until_marked_sent,
)
from tests.people import BranchStaff

pytestmark = pytest.mark.databases("sqlite", "postgresql")

SUPPLEMENTED = "housing_fund_authorisation"  # a 容缺 material: only housing fund waits for it


def file_for(rt: Runtime, staff: BranchStaff, mobile: str, **overrides: Any) -> str:
    return file(rt, staff, legal_representative__mobile=mobile, **overrides)


def write_text(rt: Runtime, mobile: str, body: str = "测试", **options: Any) -> int:
    """An outbox row written as a cause would, never dispatched (as if the broker was down)."""
    now = rt.clock.now()
    with rt.database.connection() as conn:
        message_id = outbox.record(
            conn,
            text=texts.Text(options.pop("kind", "test"), body, body),
            mobile=mobile,
            filing_id=None,
            now=now,
            send_by=options.pop("send_by", now + timedelta(minutes=5)),
            **options,
        )
        assert outbox.take_queued(conn) == [message_id]  # nobody sends it
    return message_id


def row(rt: Runtime, message_id: int) -> OutboxMessage:
    with rt.database.transaction() as session:
        found = session.get(OutboxMessage, message_id)
        assert found is not None
        return found


class TestWhatIsSent:
    def test_acceptance_texts_the_tracking_link_and_each_material_due(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        mobile = fresh_mobile()
        provided = [m for m in ALL_MATERIALS if m != SUPPLEMENTED]
        code = file_for(onestop, branch_staff, mobile, materials=provided)
        accepted, due = wait_for_texts(onestop, mobile, 2)[:2]
        url = tracking_url(onestop.settings.public_base_url, code)
        assert accepted.startswith(texts.SIGNATURE) and code in accepted and url in accepted
        with onestop.database.transaction() as session:
            filing_id = session.scalars(select(Filing.id).where(Filing.tracking_code == code)).one()
            material = session.scalars(
                select(Material).where(
                    Material.filing_id == filing_id, Material.status == MaterialStatus.MISSING
                )
            ).one()
        assert material.due_at is not None
        name = load_reference().materials[SUPPLEMENTED].name_zh
        assert f"《{name}》" in due and code in due
        assert f"{material.due_at.month}月{material.due_at.day}日" in due

    def test_ready_texts_the_credit_code_and_delivery_the_waybill(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        mobile = fresh_mobile()
        code = file_for(onestop, branch_staff, mobile)
        filing = wait_for(onestop, code, complete)
        sent = wait_for_texts(onestop, mobile, 3)
        assert len(sent) == 3  # accepted, ready, waybill: nothing twice
        # Each goes by its own task: the gateway may see ready and waybill in either order.
        [ready] = [t for t in sent if "开办完成" in t]
        assert filing.credit_code and filing.credit_code in ready
        delivery = next(s for s in filing.steps if s.name == "delivery")
        assert delivery.result
        [shipped] = [t for t in sent if delivery.result["waybill"] in t]
        assert "EMS" in shipped
        assert [r.kind for r in outbox_rows(onestop, mobile)] == ["accepted", "ready", "waybill"]
        wait_until_marked_sent(onestop, mobile)

    def test_a_filing_rolled_back_texts_nothing(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        mobile = fresh_mobile()
        data = FilingInput.model_validate(
            filing_input(
                legal_representative__mobile=mobile, company_name__trade_name=next(TRADE_NAMES)
            )
        )
        with pytest.raises(RuntimeError), onestop.database.transaction() as session:
            file_in(session, onestop, branch_staff, data)
            raise RuntimeError("the request failed after filing")
        # A text written afterwards goes out: the rolled-back ones would have gone before it.
        later = write_text(onestop, mobile, "后来", send_by=onestop.clock.now())
        assert wait_for_texts(onestop, mobile, 1) == ["后来"]
        assert [r.id for r in outbox_rows(onestop, mobile)] == [later]


class TestExactlyOnce:
    def test_a_task_run_twice_sends_one_text(self, onestop: Runtime) -> None:
        mobile = fresh_mobile()
        message_id = write_text(onestop, mobile)
        notification_tasks.send_texts.run([message_id])
        notification_tasks.send_texts.run([message_id])
        assert len(texts_to(onestop, mobile)) == 1
        assert row(onestop, message_id).status == OutboxStatus.SENT

    def test_a_crash_between_send_and_mark_then_a_resend_is_one_text(
        self, onestop: Runtime, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        mobile = fresh_mobile()
        message_id = write_text(onestop, mobile)

        def crash(*_: Any, **__: Any) -> bool:
            raise SystemExit("killed after the gateway answered")

        with monkeypatch.context() as patch:
            patch.setattr(notification_tasks.outbox, "mark_sent", crash)
            with pytest.raises(SystemExit):
                notification_tasks.send_texts.run([message_id])
        assert row(onestop, message_id).status == OutboxStatus.PENDING
        assert len(texts_to(onestop, mobile)) == 1
        # The sweeper finds the row unsent once its time has passed, and it goes again.
        later = onestop.clock.now() + timedelta(minutes=10)
        with onestop.database.transaction() as session:
            swept = sweep_outbox(session, now=later, lease_until=later + timedelta(minutes=1))
        assert message_id in swept
        notification_tasks.send_texts.run([message_id])
        assert len(texts_to(onestop, mobile)) == 1
        sent = row(onestop, message_id)
        assert sent.status == OutboxStatus.SENT and sent.gateway_ref

    def test_the_sweeper_sends_a_text_whose_task_never_came(self, onestop: Runtime) -> None:
        mobile = fresh_mobile()
        write_text(onestop, mobile, send_by=onestop.clock.now())
        wait_for_texts(onestop, mobile, 1)  # embedded beat sweeps every half second
        wait_until_marked_sent(onestop, mobile)
        assert len(texts_to(onestop, mobile)) == 1

    def test_the_gateway_down_delays_the_texts_and_loses_none(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        mobile = fresh_mobile()
        set_behaviour(onestop, "sms", outage=True)
        code = file_for(onestop, branch_staff, mobile)
        wait_for(onestop, code, lambda f: f.ready_at is not None)
        assert texts_to(onestop, mobile) == []
        rows = outbox_rows(onestop, mobile)
        assert rows and all(r.status == OutboxStatus.PENDING for r in rows)
        assert any(r.attempts > 0 and r.last_error for r in rows)
        set_behaviour(onestop, "sms")
        wait_for(onestop, code, complete)
        sent = wait_for_texts(onestop, mobile, 3)
        assert len(sent) == 3
        wait_until_marked_sent(onestop, mobile)

    def test_flaky_gateway_lost_replies_still_one_text_each(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        mobile = fresh_mobile()
        set_behaviour(onestop, "sms", lost_reply_rate=0.5, transient_error_rate=0.3)
        code = file_for(onestop, branch_staff, mobile)
        wait_for(onestop, code, complete)
        sent = wait_for_texts(onestop, mobile, 3)
        set_behaviour(onestop, "sms")
        assert len(sent) == 3 and len(set(sent)) == 3


class TestRefusalsAndPrivacy:
    def test_a_number_the_gateway_refuses_fails_once_masked_in_the_log(
        self, onestop: Runtime, caplog: pytest.LogCaptureFixture
    ) -> None:
        number = "10012345678"  # 11 digits, no mobile: our own check refuses it
        message_id = write_text(onestop, number)
        with caplog.at_level(logging.DEBUG):
            notification_tasks.send_texts.run([message_id])
        failed = row(onestop, message_id)
        assert failed.status == OutboxStatus.FAILED and failed.last_error
        assert texts_to(onestop, number) == []
        assert caplog.records and number not in caplog.text
        assert "100****5678" in caplog.text

    def test_a_one_time_code_is_not_kept_once_sent(self, onestop: Runtime) -> None:
        mobile = fresh_mobile()
        text = texts.one_time_code(code="246810", purpose="rate", minutes=10)
        message_id = write_text(onestop, mobile, text.zh, kind=texts.ONE_TIME_CODE)
        notification_tasks.send_texts.run([message_id])
        assert "246810" in texts_to(onestop, mobile)[0]["text"]
        assert "246810" not in row(onestop, message_id).body

    def test_an_expired_text_is_not_sent(self, onestop: Runtime) -> None:
        mobile = fresh_mobile()
        message_id = write_text(onestop, mobile, expires_at=onestop.clock.now())
        notification_tasks.send_texts.run([message_id])
        assert row(onestop, message_id).status == OutboxStatus.EXPIRED
        assert texts_to(onestop, mobile) == []


class TestDispatch:
    def test_texts_go_to_the_workers_in_batches(self, monkeypatch: pytest.MonkeyPatch) -> None:
        sent: list[tuple[str, list[int]]] = []
        monkeypatch.setattr(outbox.app, "send_task", lambda name, args: sent.append((name, *args)))
        outbox.dispatch(list(range(outbox.BATCH + 1)))
        outbox.dispatch([])
        assert sent == [
            (outbox.SEND_TEXTS, list(range(outbox.BATCH))),
            (outbox.SEND_TEXTS, [outbox.BATCH]),
        ]
