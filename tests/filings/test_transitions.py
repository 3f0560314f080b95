"""Who may take a running step again: a redelivery or an expired lease, never a duplicate."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import event, select

from orchestrator.filings import transitions
from orchestrator.filings.models import Event, Filing, Step, StepStatus
from orchestrator.runtime import Runtime
from orchestrator.tracker.sweeper import sweep
from tests.api import file_undispatched
from tests.factories import filing_input
from tests.people import BranchStaff

LEASE = timedelta(seconds=90)


def registration_of(rt: Runtime, code: str) -> int:
    with rt.database.transaction() as session:
        filing = session.scalars(select(Filing).where(Filing.tracking_code == code)).one()
        return filing.steps[0].id


def step_kinds(rt: Runtime, step_id: int) -> list[str]:
    with rt.database.transaction() as session:
        step = session.get(Step, step_id)
        assert step is not None
        return list(
            session.scalars(
                select(Event.kind)
                .where(Event.filing_id == step.filing_id, Event.step == step.name)
                .order_by(Event.id)
            )
        )


def claimed(rt: Runtime, step_id: int, *, after: timedelta, redelivered: bool = False) -> bool:
    now = rt.clock.now() + after
    with rt.database.connection() as conn:
        work = transitions.claim(
            conn, step_id, now=now, lease_until=now + LEASE, redelivered=redelivered
        )
    return work is not None


def claimed_registration(rt: Runtime, staff: BranchStaff) -> int:
    """The registration of a new filing, claimed for its first attempt: its step id."""
    step_id = registration_of(rt, file_undispatched(rt, staff))
    assert claimed(rt, step_id, after=timedelta(0))
    return step_id


class TestRunningStep:
    def test_a_second_message_inside_the_lease_is_a_duplicate(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        step_id = claimed_registration(onestop, branch_staff)
        assert not claimed(onestop, step_id, after=timedelta(seconds=5))
        assert step_kinds(onestop, step_id).count("started") == 1
        assert "resumed" not in step_kinds(onestop, step_id)

    def test_a_redelivered_message_takes_it_over_at_once(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        step_id = claimed_registration(onestop, branch_staff)
        assert claimed(onestop, step_id, after=timedelta(seconds=5), redelivered=True)
        assert step_kinds(onestop, step_id)[-2:] == ["started", "resumed"]

    def test_any_message_takes_it_over_once_the_lease_ran_out(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        step_id = claimed_registration(onestop, branch_staff)
        assert claimed(onestop, step_id, after=LEASE + timedelta(seconds=1))


class TestReadyStep:
    def test_is_taken_in_one_statement_besides_its_event(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        code = file_undispatched(onestop, branch_staff)
        step_id = registration_of(onestop, code)
        statements: list[str] = []

        def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
            statements.append(statement)

        now = onestop.clock.now()
        event.listen(onestop.database.engine, "before_cursor_execute", count)
        try:
            with onestop.database.connection() as conn:
                work = transitions.claim(conn, step_id, now=now, lease_until=now + LEASE)
        finally:
            event.remove(onestop.database.engine, "before_cursor_execute", count)
        assert work is not None
        assert (work.attempt, work.ask_first) == (1, False)
        assert work.idempotency_key == f"{code}-registration"
        assert [s.split()[0] for s in statements if not s.startswith("BEGIN")] == [
            "UPDATE",
            "INSERT",
        ]
        assert step_kinds(onestop, step_id) == ["started"]


class TestStepsMadeReady:
    """A success claims every step it makes ready, in its own transaction."""

    def succeed_registration(
        self, rt: Runtime, code: str, statements: list[str] | None = None
    ) -> list[transitions.StepWork]:
        step_id = registration_of(rt, code)
        now = rt.clock.now()
        with rt.database.connection() as conn:
            work = transitions.claim(conn, step_id, now=now, lease_until=now + LEASE)
        assert work is not None

        def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
            if statements is not None:
                statements.append(statement.split()[0])

        event.listen(rt.database.engine, "before_cursor_execute", count)
        try:
            with rt.database.connection() as conn:
                return transitions.succeed_and_take(
                    conn,
                    work,
                    {"credit_code": "91370783MA3C7RX41T"},
                    now=now,
                    lease_until=now + LEASE,
                    worker="celery@a",
                )
        finally:
            event.remove(rt.database.engine, "before_cursor_execute", count)

    def test_all_are_claimed_critical_path_first_without_reading_results(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        code = file_undispatched(onestop, branch_staff)
        statements: list[str] = []
        taken = self.succeed_registration(onestop, code, statements)
        assert [w.name for w in taken] == [  # Shouguang's graph: the seal design is filed first
            "seal_design", "tax", "social_insurance", "medical_insurance", "housing_fund",
        ]  # fmt: skip
        registered = {"registration": {"credit_code": "91370783MA3C7RX41T"}}
        assert all(w.results == registered for w in taken)
        assert all((w.attempt, w.ask_first) == (1, False) for w in taken)
        # Done, credit code, the join, the five started together, their events: the results
        # and the filing's payload came with the succeeding step.
        assert [s for s in statements if s != "BEGIN"] == ["UPDATE"] * 4 + ["INSERT"]
        with onestop.database.transaction() as session:
            for work in taken:
                step = session.get(Step, work.step_id)
                assert step is not None and step.status == StepStatus.RUNNING
            started = session.execute(
                select(Event.step, Event.detail).where(
                    Event.filing_id == taken[0].filing_id, Event.kind == "started"
                )
            ).all()
        workers = {step: detail.get("worker") for step, detail in started}
        assert workers["seal_design"] == "celery@a"  # this task carries it on
        assert workers["tax"] is None  # whoever receives its message

    def test_a_step_lacking_a_material_is_blocked_not_taken(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        provided = [m for m in filing_input()["materials"] if m != "housing_fund_authorisation"]
        code = file_undispatched(onestop, branch_staff, materials=provided)
        taken = self.succeed_registration(onestop, code)
        assert "housing_fund" not in [w.name for w in taken]
        assert len(taken) == 4
        with onestop.database.transaction() as session:
            blocked = session.scalars(
                select(Step.name).where(
                    Step.filing_id == taken[0].filing_id, Step.status == StepStatus.BLOCKED
                )
            ).all()
        assert blocked == ["housing_fund"]


def _swept_registration(rt: Runtime, staff: BranchStaff) -> tuple[int, datetime]:
    """A filing's registration, claimed, then swept once its lease ran out; its step id and
    the instant of the sweep."""
    step_id = claimed_registration(rt, staff)
    later = rt.clock.now() + LEASE + timedelta(seconds=1)
    with rt.database.transaction() as session:
        assert step_id in sweep(session, now=later, lease_until=later + LEASE)
    return step_id, later


class TestSweptStep:
    def test_the_sweeper_frees_a_step_whose_attempt_outlived_its_lease(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        step_id, _ = _swept_registration(onestop, branch_staff)
        with onestop.database.transaction() as session:
            step = session.get(Step, step_id)
            assert step is not None and step.status == StepStatus.READY
        # The new lease is the sweeper's; its message may take the step at once.
        assert claimed(onestop, step_id, after=LEASE + timedelta(seconds=2))

    def test_a_late_outcome_of_the_presumed_lost_attempt_still_lands(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        step_id, later = _swept_registration(onestop, branch_staff)
        with onestop.database.connection() as conn:
            ready = transitions.succeed(
                conn, step_id, {"credit_code": "x"}, now=later, lease_until=later + LEASE
            )
        assert len(ready) == 5  # seal, tax, social, medical, housing fund
        assert not claimed(onestop, step_id, after=LEASE + timedelta(seconds=2))


class TestHistoryOfAResult:
    def test_long_texts_go_into_the_history_as_digests_and_stay_whole_in_the_step(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        step_id = claimed_registration(onestop, branch_staff)
        image = "iVBORw0KGgo" + "A" * 5000
        result = {"credit_code": "x", "seals": [{"no": "1", "specimen": image}]}
        now = onestop.clock.now()
        with onestop.database.connection() as conn:
            transitions.succeed(conn, step_id, result, now=now, lease_until=now + LEASE)
        with onestop.database.transaction() as session:
            step = session.get(Step, step_id)
            assert step is not None and step.result == result
            done = session.scalars(
                select(Event).where(
                    Event.filing_id == step.filing_id, Event.step == step.name, Event.kind == "done"
                )
            ).one()
        digest = hashlib.sha256(image.encode()).hexdigest()
        assert done.detail["result"] == {
            "credit_code": "x",
            "seals": [{"no": "1", "specimen": {"sha256": digest, "chars": len(image)}}],
        }
