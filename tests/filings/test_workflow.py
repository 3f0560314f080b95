"""The workflow end to end in the embedded mode: real Celery worker thread, real HTTP
simulators, SQLite. Each test files through the service as a clerk would."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest
from celery.signals import task_prerun
from sqlalchemy import select

from integrations.base import Done
from integrations.codes import is_valid_uscc
from orchestrator import runtime
from orchestrator.errors import Conflict
from orchestrator.filings import service, transitions
from orchestrator.filings.models import Event, Filing, FilingStatus, Step, StepStatus
from orchestrator.reference import load_reference
from orchestrator.runtime import Runtime
from orchestrator.tasks import filings as filing_tasks
from tests.factories import TRADE_NAMES, filing_input, graph_steps
from tests.filings import (
    complete,
    duplicate_effects,
    events,
    file,
    file_undispatched,
    hand_over,
    set_behaviour,
    supplement,
    tax_blocked,
    wait_for,
)
from tests.filings.misbehaving import misbehaving
from tests.people import BranchStaff


def _tax(filing: Filing) -> Step:
    return next(s for s in filing.steps if s.name == "tax")


class TestHappyPath:
    def test_every_step_completes_once_and_the_filing_is_complete(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        code = file(onestop, branch_staff)
        filing = wait_for(onestop, code, complete)
        assert [s.status for s in filing.steps] == [StepStatus.DONE] * len(graph_steps())
        assert filing.credit_code is not None and is_valid_uscc(filing.credit_code)
        assert filing.ready_at is not None and filing.completed_at is not None
        assert filing.accepted_at <= filing.ready_at <= filing.completed_at
        assert duplicate_effects(onestop) == 0

    def test_delivery_waits_for_every_agency_step(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        history = _history_of_a_completed_filing(onestop, branch_staff)
        done_at = {e.step: e.id for e in history if e.kind == "done"}
        delivery_ready = next(e.id for e in history if e.kind == "ready" and e.step == "delivery")
        for need in SHOUGUANG.needs["delivery"]:
            assert done_at[need] < delivery_ready
        # Shouguang's graph: the account opens with the filed impressions and the pre-check.
        assert done_at["registration"] < done_at["seal_design"] < done_at["bank_account"]
        assert done_at["bank_precheck"] < done_at["bank_account"]
        assert done_at["seal_design"] < done_at["seal"]

    def test_a_task_carries_on_with_one_ready_step_and_sends_the_others_in_one_message(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        messages: list[list[int]] = []

        def count(sender: Any = None, args: Any = (), **_: Any) -> None:
            name = getattr(sender, "name", "")
            if name == "filings.run_step":
                messages.append([args[0]])
            elif name == "filings.run_claimed":
                messages.append([work["step_id"] for work in args[0]])

        task_prerun.connect(count, weak=False)
        try:
            code = file(onestop, branch_staff)
            filing = wait_for(onestop, code, complete)
        finally:
            task_prerun.disconnect(count)
        ours = {step.id: step.name for step in filing.steps}
        sent = [sorted(ours[i] for i in ids) for ids in messages if set(ids) <= set(ours)]
        # Registration's message and the pre-check's (the roots of Shouguang's graph); after
        # registration, one for the four parallel steps beside the seal design. The design,
        # the engraving and delivery ride on the task of the step before them, and so does
        # the account, unless the design and the engraving were both ready at once: then the
        # account has a message of its own.
        assert ["registration"] in sent and ["bank_precheck"] in sent
        assert ["housing_fund", "medical_insurance", "social_insurance", "tax"] in sent
        assert len(sent) == 3 or (len(sent) == 4 and ["bank_account"] in sent), sent

    def test_every_transition_is_an_event_with_time_and_actor(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        history = _history_of_a_completed_filing(onestop, branch_staff)
        kinds = [e.kind for e in history]
        assert kinds[0] == "accepted" and history[0].actor == "staff:wangfang"
        assert kinds.count("started") == len(graph_steps())
        assert kinds.count("done") == len(graph_steps())
        assert kinds[-2:] == ["done", "complete"]
        assert "filing_ready" in kinds
        assert all(e.at is not None and e.actor for e in history)


SHOUGUANG = load_reference().graph_of("370783")  # the branch staff's district

# Every step but housing fund's that delivery waits for.
OTHER_BRANCHES = tuple(s for s in graph_steps() if s not in ("housing_fund", "delivery"))


class TestMaterialsToSupplement:
    def test_missing_material_blocks_only_its_step_until_supplied(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        provided = [m for m in filing_input()["materials"] if m != "housing_fund_authorisation"]
        code = file(onestop, branch_staff, materials=provided)
        filing = wait_for(
            onestop,
            code,
            lambda f: (
                {s.name: s.status for s in f.steps}["housing_fund"] == StepStatus.BLOCKED
                and all(s.status == StepStatus.DONE for s in f.steps if s.name in OTHER_BRANCHES)
            ),
        )
        statuses = {s.name: s.status for s in filing.steps}
        assert statuses["delivery"] == StepStatus.WAITING
        assert filing.ready_at is None
        supplement(onestop, branch_staff, code, "housing_fund_authorisation", {})
        wait_for(onestop, code, complete)

    def test_an_agency_asking_for_a_material_blocks_until_supplied_with_its_data(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        officer = filing_input()["finance_officer"]
        code = file(onestop, branch_staff, finance_officer=None)
        filing = wait_for(onestop, code, tax_blocked)
        assert {m.code: m.status.value for m in filing.materials}["finance_tax_agents"] == "missing"
        supplement(onestop, branch_staff, code, "finance_tax_agents", {"finance_officer": officer})
        filing = wait_for(onestop, code, complete)
        assert filing.payload["finance_officer"]["id_number"] == officer["id_number"]
        assert duplicate_effects(onestop) == 0


class TestRejection:
    def test_a_name_conflict_stops_registration_with_a_reason(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        name = next(TRADE_NAMES)
        first = file(onestop, branch_staff, trade_name=name)
        wait_for(onestop, first, complete)
        second = file(onestop, branch_staff, trade_name=name)
        filing = wait_for(onestop, second, lambda f: f.status == FilingStatus.ACTION_REQUIRED)
        registration = filing.steps[0]
        assert registration.status == StepStatus.REJECTED
        assert registration.reason
        # Everything after registration waits; the bank's pre-check, beside it, may be done.
        after = {n for n in SHOUGUANG.needs if "registration" in SHOUGUANG.upstream(n)}
        assert all(s.status == StepStatus.WAITING for s in filing.steps if s.name in after)


def _history_of_a_completed_filing(rt: Runtime, staff: BranchStaff) -> list[Event]:
    """File the default filing, wait until it is complete; its events in order."""
    code = file(rt, staff)
    wait_for(rt, code, complete)
    return events(rt, code)


def _complete_once(rt: Runtime, codes: list[str]) -> None:
    """Every filing completes, and no agency acted twice for any."""
    for code in codes:
        wait_for(rt, code, complete, timeout=40)
    assert duplicate_effects(rt) == 0


class TestFaults:
    def test_transient_errors_are_retried_without_duplicates(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        # Every tax call fails until each filing has had a retry scheduled, then half of them.
        set_behaviour(onestop, "tax", transient_error_rate=1.0)
        codes = [file(onestop, branch_staff) for _ in range(3)]
        for code in codes:
            wait_for(onestop, code, lambda f: _tax(f).last_error is not None)
        set_behaviour(onestop, "tax", transient_error_rate=0.5)
        _complete_once(onestop, codes)
        assert all(any(e.kind == "retry_scheduled" for e in events(onestop, c)) for c in codes)

    def test_lost_replies_are_recovered_by_asking_the_agency(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        set_behaviour(onestop, "bank_account", lost_reply_rate=0.7)
        _complete_once(onestop, [file(onestop, branch_staff) for _ in range(3)])

    def test_garbage_from_soap_agencies_costs_retries_never_a_step(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        # Each SOAP agency's first submits meet a bad reply; "truncated" and "slow" ones come
        # after the agency acted, so only asking it first avoids a second effect.
        plan = {
            "seal": ["malformed", "slow"],
            "bank_account": ["truncated", "oversized"],
            "tax": ["wrong_content_type", "server_fault", "truncated"],
            "social_insurance": ["oversized", "slow"],
        }
        assert onestop.agencies_url
        with misbehaving(onestop.agencies_url, plan, slow_seconds=1.5) as url:
            impatient = dataclasses.replace(
                onestop,
                agencies_url=url,
                settings=onestop.settings.model_copy(update={"agency_timeout_seconds": 1.0}),
            )
            runtime.install(impatient)
            try:
                code = file(onestop, branch_staff)
                filing = wait_for(onestop, code, complete, timeout=60)
            finally:
                runtime.install(onestop)
                for adapter in impatient.adapters.values():
                    getattr(adapter, "close", lambda: None)()
        assert not any(plan.values())  # every bad reply was served
        retries = [e for e in events(onestop, code) if e.kind == "retry_scheduled"]
        errors = " ".join(str(e.detail.get("error")) for e in retries)
        for expected in ("unexpected_reply", "bad_content_type", "too_large", "timeout"):
            assert expected in errors
        assert {e.step for e in retries} >= set(plan)
        assert all(s.status == StepStatus.DONE for s in filing.steps)
        assert duplicate_effects(onestop) == 0

    def test_a_slow_agency_answers_later_and_the_step_waits_as_submitted(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        set_behaviour(onestop, "seal", latency_ms=600, sync_limit_ms=100)
        history = _history_of_a_completed_filing(onestop, branch_staff)
        kinds = [e.kind for e in history if e.step == "seal"]
        assert kinds == ["ready", "started", "submitted", "done"]

    def test_a_step_whose_message_was_lost_is_swept(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        code = file(onestop, branch_staff, dispatch=False)
        wait_for(onestop, code, complete)
        assert any(e.kind == "redispatched" and e.actor == "sweeper" for e in events(onestop, code))

    def test_duplicate_messages_change_nothing(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        from orchestrator.tasks.filings import run_step

        code = file(onestop, branch_staff, dispatch=False)
        with onestop.database.transaction() as session:
            filing = session.scalars(select(Filing).where(Filing.tracking_code == code)).one()
            registration_id = filing.steps[0].id
        for _ in range(5):
            run_step.delay(registration_id)
        wait_for(onestop, code, complete)
        assert duplicate_effects(onestop) == 0
        assert (
            sum(e.kind == "done" and e.step == "registration" for e in events(onestop, code)) == 1
        )


class TestBranchPickup:
    def test_pickup_waits_at_the_branch_until_handed_over(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        code = file(onestop, branch_staff, delivery={"method": "branch_pickup"})
        filing = wait_for(
            onestop,
            code,
            lambda f: f.status == FilingStatus.READY and f.steps[-1].status == StepStatus.AT_BRANCH,
        )
        assert filing.completed_at is None
        hand_over(onestop, branch_staff, code)
        filing = wait_for(onestop, code, complete)
        assert filing.completed_at is not None


class TestCancel:
    def test_cancel_before_registration_is_sent(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        code = file(onestop, branch_staff, dispatch=False)
        with onestop.database.transaction() as session:
            service.cancel_filing(
                session, actor=branch_staff.clerk, tracking_code=code, now=onestop.clock.now()
            )
        filing = wait_for(onestop, code, lambda f: f.status == FilingStatus.CANCELLED)
        time.sleep(1)  # the sweeper runs meanwhile: nothing may start
        filing = wait_for(onestop, code, lambda f: True)
        assert all(s.status == StepStatus.CANCELLED for s in filing.steps)
        assert not any(e.kind == "started" for e in events(onestop, code))

    def test_cancel_after_registration_was_sent_is_a_conflict(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        code = file(onestop, branch_staff)
        wait_for(onestop, code, lambda f: f.steps[0].status == StepStatus.DONE)
        with pytest.raises(Conflict), onestop.database.transaction() as session:
            service.cancel_filing(
                session, actor=branch_staff.clerk, tracking_code=code, now=onestop.clock.now()
            )


class TestRedeliveredBranches:
    def test_a_redelivered_message_claims_its_steps_again_and_acts_once(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        code = file_undispatched(onestop, branch_staff)
        now = onestop.clock.now()
        lease_until = onestop.clock.after(onestop.settings.step_lease_seconds)
        step_id = _step_id(onestop, code, "registration")
        with onestop.database.connection() as conn:
            registration = transitions.claim(conn, step_id, now=now, lease_until=lease_until)
        assert registration is not None
        outcome = filing_tasks._ask_agency(registration)
        assert isinstance(outcome, Done)
        with onestop.database.connection() as conn:
            _, *branches = transitions.succeed_and_take(
                conn, registration, dict(outcome.result), now=now, lease_until=lease_until
            )
        # The worker that received the branches reached the tax bureau, then died.
        filing_tasks._ask_agency(branches[0])
        filing_tasks.run_claimed.push_request(
            delivery_info={"redelivered": True}, hostname="celery@b"
        )
        try:
            filing_tasks.run_claimed.run([dataclasses.asdict(work) for work in branches])
        finally:
            filing_tasks.run_claimed.pop_request()
        history = events(onestop, code)
        for work in branches:
            kinds = [e.kind for e in history if e.step == work.name]
            assert kinds == ["ready", "started", "resumed", "done"], work.name
        assert duplicate_effects(onestop) == 0


def _step_id(rt: Runtime, code: str, name: str) -> int:
    with rt.database.transaction() as session:
        return session.scalars(
            select(Step.id).join(Filing).where(Filing.tracking_code == code, Step.name == name)
        ).one()
