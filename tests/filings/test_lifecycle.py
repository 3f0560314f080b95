"""The lifecycle table: every status change of a step or a filing is one of its rows.

A Hypothesis state machine drives one filing at a time through the real transitions and
services on a database (SQLite, and PostgreSQL): agencies' outcomes, late and duplicate
ones included, the sweeper, redelivered messages, supplements, cancel, withdraw and
resubmit, in any order. After every move, the filing's history replayed through the table
must be legal and must arrive at the statuses the database holds: a status written without
its event, or an event the table does not allow from where the record stood, fails it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator import runtime
from orchestrator.errors import Conflict, NotFound
from orchestrator.filings import service, transitions
from orchestrator.filings.lifecycle import FILING, STEP, IllegalTransition, Lifecycle, Row
from orchestrator.filings.models import (
    Event,
    Filing,
    FilingStatus,
    Material,
    MaterialStatus,
    Step,
    StepStatus,
)
from orchestrator.filings.schemas import FilingInput
from orchestrator.migrations import migrate
from orchestrator.runtime import Runtime
from orchestrator.settings import Settings
from orchestrator.tools.seed import seed_reference
from orchestrator.tracker.sweeper import sweep
from orchestrator.workflow import HANDOVER_STEP
from tests.api import new_filing
from tests.faults.soak import fresh_database
from tests.people import BranchStaff, make_branch_staff

LEASE = timedelta(minutes=5)
# A material that carries no data: an agency may ask for it, and it may be missing at intake.
MATERIAL = "housing_fund_authorisation"
AT_AGENCY = (StepStatus.RUNNING, StepStatus.SUBMITTED)


class TestTheTable:
    def test_an_event_leads_from_a_status_to_one_status_only(self) -> None:
        rows = [
            Row("started", (StepStatus.READY,), StepStatus.RUNNING),
            Row("started", (StepStatus.READY,), StepStatus.DONE),
        ]
        with pytest.raises(ValueError, match="declared twice"):
            Lifecycle("step", rows)

    def test_a_change_outside_it_is_an_internal_error(self) -> None:
        assert STEP.move("done", StepStatus.SUBMITTED) == StepStatus.DONE
        with pytest.raises(IllegalTransition, match="step done: not allowed from waiting"):
            STEP.move("done", StepStatus.WAITING)
        with pytest.raises(IllegalTransition):
            FILING.move("complete", FilingStatus.ACCEPTED)

    def test_a_statement_letting_a_status_through_that_it_does_not_fails_when_built(
        self,
    ) -> None:
        assert STEP.sources("blocked", only=[StepStatus.RUNNING]) == (StepStatus.RUNNING,)
        with pytest.raises(IllegalTransition):
            STEP.sources("blocked", only=[StepStatus.DONE])
        with pytest.raises(IllegalTransition, match="no event"):
            STEP.sources("vanished")

    def test_every_status_is_reached_and_only_the_final_ones_are_never_left(self) -> None:
        for lifecycle, initial, final in (
            (STEP, {StepStatus.WAITING, StepStatus.READY}, {StepStatus.DONE, StepStatus.CANCELLED}),
            (FILING, {FilingStatus.ACCEPTED}, {FilingStatus.COMPLETE, FilingStatus.CANCELLED}),
        ):
            reached = {row.target for row in lifecycle.rows}
            left = {source for row in lifecycle.rows for source in row.sources}
            statuses: set[Any] = set(type(next(iter(initial))))
            assert statuses - initial <= reached, lifecycle.kind
            assert statuses - left == final, lifecycle.kind


# Few, short runs: each move is a real transaction, and CI time matters. No deadline: a
# PostgreSQL round trip varies.
LIVES = settings(
    max_examples=40,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def quiet(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Runtime, BranchStaff]]:
    """A migrated, seeded database of its own, with no worker nor sweeper acting on it."""
    if request.param == "postgresql":
        url_cm: Any = fresh_database(request.getfixturevalue("postgres_url"))
    else:
        url_cm = _sqlite(tmp_path)
    with url_cm as url:
        migrate(url)
        rt = runtime.from_settings(Settings(database_url=url))
        with rt.database.transaction() as session:
            seed_reference(session)
        try:
            yield rt, make_branch_staff(rt)
        finally:
            rt.database.dispose()


@contextmanager
def _sqlite(directory: Path) -> Iterator[str]:
    yield f"sqlite:///{directory / 'onestop.db'}"


def test_no_sequence_of_moves_makes_a_change_outside_the_table(
    quiet: tuple[Runtime, BranchStaff],
) -> None:
    rt, staff = quiet
    run_state_machine_as_test(lambda: FilingLife(rt, staff), settings=LIVES)


class FilingLife(RuleBasedStateMachine):
    """One filing, and everything that may happen to it, in any order."""

    def __init__(self, rt: Runtime, staff: BranchStaff) -> None:
        super().__init__()
        self.rt, self.staff = rt, staff
        self.now = rt.clock.now() + timedelta(days=1)
        self.works: dict[str, transitions.StepWork] = {}  # claimed: an outcome may come

    @initialize(lacking=st.booleans())
    def file(self, lacking: bool) -> None:
        materials = [m for m in new_filing()["materials"] if not (lacking and m == MATERIAL)]
        data = FilingInput.model_validate(new_filing(materials=materials))
        with self.staff_transaction() as session:
            filing = service.file_filing(
                session,
                actor=self.staff.clerk,
                staff_id=self.staff.clerk_id,
                data=data,
                idempotency_key=None,
                now=self.now,
                lease_until=self.now + LEASE,
                calendar=self.rt.calendar,
            ).filing
            self.filing_id, self.code = filing.id, filing.tracking_code
            self.step_ids = {step.name: step.id for step in filing.steps}
        # Where the history starts: the statuses at acceptance, nothing of it read yet.
        self.filing_status, self.step_statuses, _ = self.held()
        self.seen = 0

    # -- what workers and agencies do ----------------------------------------------------

    @rule(data=st.data(), redelivered=st.booleans())
    def claim(self, data: st.DataObject, redelivered: bool) -> None:
        """A message for the step arrives (`redelivered`: its worker died holding it)."""
        self.take(self.pick(data, StepStatus.READY, *AT_AGENCY), redelivered=redelivered)

    @rule(data=st.data())
    def finish(self, data: st.DataObject) -> None:
        """The agency did it: from the attempt that claimed it, or a late reply (the sweeper
        may have made the step ready meanwhile)."""
        name = self.attempt(data)
        result = {"credit_code": "91370783MA3C7RX41T"} if name == "registration" else {"ok": 1}
        with self.rt.database.connection() as conn:
            if (work := self.works.get(name)) is not None:
                taken = transitions.succeed_and_take(
                    conn, work, result, now=self.tick(), lease_until=self.now + LEASE
                )
                self.works.update((taken_work.name, taken_work) for taken_work in taken)
            else:
                transitions.succeed(
                    conn, self.step_ids[name], result, now=self.tick(), lease_until=self.now
                )

    @rule()
    def carry_on(self) -> None:
        """Workers carry the steps they hold to done, and on with each step a success claims,
        up to the last (which the courier, or the branch, completes)."""
        held = [work for work in self.works.values() if work.name != HANDOVER_STEP]
        while held:
            work = held.pop()
            result = {"credit_code": "91370783MA3C7RX41T"} if work.name == "registration" else {}
            with self.rt.database.connection() as conn:
                taken = transitions.succeed_and_take(
                    conn, work, result, now=self.tick(), lease_until=self.now + LEASE
                )
            self.works.update((taken_work.name, taken_work) for taken_work in taken)
            held.extend(taken_work for taken_work in taken if taken_work.name != HANDOVER_STEP)

    @rule(data=st.data(), submitted=st.booleans())
    def fail(self, data: st.DataObject, submitted: bool) -> None:
        """A transient failure, or (`submitted`) the agency will answer later."""
        name = self.attempt(data)
        with self.rt.database.connection() as conn:
            transitions.postpone(
                conn,
                self.step_ids[name],
                now=self.tick(),
                next_check_at=self.now + LEASE,
                submitted=submitted,
                error=None if submitted else "timeout: no reply",
            )

    @rule(data=st.data())
    def reject(self, data: st.DataObject) -> None:
        """The agency refuses on the merits."""
        name = self.attempt(data)
        with self.rt.database.connection() as conn:
            transitions.reject(
                conn,
                self.step_ids[name],
                now=self.tick(),
                code="name_conflict",
                message="字号已登记",
            )

    @rule(data=st.data())
    def block(self, data: st.DataObject) -> None:
        """The agency asks for a material."""
        name = self.attempt(data)
        with self.rt.database.connection() as conn:
            transitions.block(
                conn, self.step_ids[name], now=self.tick(), reason="需补正", materials=[MATERIAL]
            )

    @rule()
    def arrive_at_branch(self) -> None:
        """The last step is a branch pickup: licence and seals wait there for the client."""
        if self.step_statuses[HANDOVER_STEP] == StepStatus.READY:
            self.take(HANDOVER_STEP, redelivered=False)
        with self.rt.database.connection() as conn:
            transitions.await_handover(conn, self.step_ids[HANDOVER_STEP], now=self.tick())

    @rule()
    def sweep(self) -> None:
        """Leases run out and the sweeper comes by."""
        self.now += LEASE + timedelta(seconds=1)
        with self.rt.database.transaction() as session:
            sweep(session, now=self.now, lease_until=self.now + LEASE)

    # -- what people do ------------------------------------------------------------------

    @rule()
    def supplement(self) -> None:
        with self.refusals(), self.staff_transaction() as session:
            missing = session.scalars(
                select(Material.code).where(
                    Material.filing_id == self.filing_id, Material.status == MaterialStatus.MISSING
                )
            ).first()
            if missing is not None:
                service.supplement_material(
                    session,
                    actor=self.staff.clerk,
                    tracking_code=self.code,
                    material_code=missing,
                    data={},
                    now=self.tick(),
                    lease_until=self.now + LEASE,
                )

    @precondition(lambda self: self.step_statuses.get("registration") == StepStatus.READY)
    @rule()
    def cancel(self) -> None:
        """Before registration was sent, as far as the replay knows (the service decides)."""
        with self.refusals(), self.staff_transaction() as session:
            service.cancel_filing(
                session, actor=self.staff.clerk, tracking_code=self.code, now=self.tick()
            )

    @rule(now=st.integers(0, 3))
    def withdraw(self, now: int) -> None:
        if now:  # the entrepreneur waits: most lives should go on
            return
        with self.refusals(), self.staff_transaction() as session:
            service.withdraw_filing(
                session, tracking_code=self.code, actor="applicant", now=self.tick()
            )

    @rule()
    def resubmit(self) -> None:
        with self.refusals(), self.staff_transaction() as session:
            service.resubmit_filing(
                session,
                actor=self.staff.clerk,
                tracking_code=self.code,
                now=self.tick(),
                lease_until=self.now + LEASE,
            )

    @rule()
    def hand_over(self) -> None:
        with self.refusals(), self.staff_transaction() as session:
            service.hand_over(
                session, actor=self.staff.clerk, tracking_code=self.code, now=self.tick()
            )

    # -- what must hold ------------------------------------------------------------------

    @invariant()
    def history_replays_through_the_table_to_the_statuses_held(self) -> None:
        filing_status, step_statuses, last = self.held()
        with self.rt.database.reading() as session:
            history = session.execute(
                select(Event.kind, Event.step)
                .where(Event.filing_id == self.filing_id, Event.id > self.seen)
                .order_by(Event.id)
            ).all()
        for kind, step in history:
            if step is None and kind in FILING.events:
                self.filing_status = FILING.move(kind, self.filing_status)
            elif step is not None and kind in STEP.events:
                self.step_statuses[step] = STEP.move(kind, self.step_statuses[step])
        self.seen = last
        unexplained = {
            name: f"{status} held, {self.step_statuses[name]} by its history"
            for name, status in step_statuses.items()
            if status != self.step_statuses[name]
        }
        if filing_status != self.filing_status:
            unexplained["(filing)"] = f"{filing_status} held, {self.filing_status} by its history"
        assert not unexplained, f"a status changed without its event: {unexplained}"

    # -- helpers -------------------------------------------------------------------------

    def held(self) -> tuple[FilingStatus, dict[str, StepStatus], int]:
        """The filing's status, its steps' and its last event's id, as the database has them."""
        with self.rt.database.reading() as session:
            status = session.scalars(select(Filing.status).where(Filing.id == self.filing_id)).one()
            rows = session.execute(
                select(Step.name, Step.status).where(Step.filing_id == self.filing_id)
            )
            steps = {name: step_status for name, step_status in rows}
            last = session.scalars(
                select(Event.id).where(Event.filing_id == self.filing_id).order_by(Event.id.desc())
            ).first()
        return status, steps, last or 0

    def pick(self, data: st.DataObject, *statuses: StepStatus) -> str:
        """A step in one of `statuses`, mostly; any step now and then (a stray message)."""
        likely = [name for name, status in self.step_statuses.items() if status in statuses]
        names = sorted(self.step_ids)  # the filing's graph, whatever its district's
        return data.draw(st.sampled_from(likely or names) | st.sampled_from(names))

    def attempt(self, data: st.DataObject) -> str:
        """A step an agency has (one that was ready, taken first, now and then), or any."""
        name = self.pick(data, StepStatus.READY, *AT_AGENCY)
        if self.step_statuses[name] == StepStatus.READY and data.draw(st.booleans()):
            self.take(name, redelivered=False)
        return name

    def take(self, name: str, *, redelivered: bool) -> None:
        """Claim the step, as a message for it does; keep its work if it is taken."""
        with self.rt.database.connection() as conn:
            work = transitions.claim(
                conn,
                self.step_ids[name],
                now=self.tick(),
                lease_until=self.now + LEASE,
                worker="celery@a",
                redelivered=redelivered,
            )
        if work is not None:
            self.works[name] = work

    def tick(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    @contextmanager
    def staff_transaction(self) -> Iterator[Session]:
        """A transaction whose messages are not sent: no worker is there to take them."""
        with self.rt.database.transaction() as session:
            yield session
            session.info.pop("after_commit", None)

    @contextmanager
    def refusals(self) -> Iterator[None]:
        """What a person may be told (not now, not this filing); never an internal error."""
        with suppress(Conflict, NotFound):
            yield
