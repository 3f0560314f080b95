"""Filing through the service in the embedded mode, and watching it: what the workflow,
portal, district-graph and resubmit tests share."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from orchestrator.filings import service
from orchestrator.filings.models import Event, Filing, FilingStatus, Step, StepStatus
from orchestrator.filings.schemas import FilingInput
from orchestrator.runtime import Runtime
from tests.factories import TRADE_NAMES, filing_input
from tests.people import BranchStaff


def file(
    rt: Runtime,
    staff: BranchStaff,
    /,
    *,
    trade_name: str | None = None,
    dispatch: bool = True,
    **overrides: Any,
) -> str:
    """File the default filing (with a fresh name) as the clerk; returns the tracking code."""
    data = FilingInput.model_validate(
        filing_input(company_name__trade_name=trade_name or next(TRADE_NAMES), **overrides)
    )
    with rt.database.transaction() as session:
        filing = file_in(session, rt, staff, data)
        if not dispatch:  # as if the process died between commit and publish
            session.info["after_commit"].clear()
        return filing.tracking_code


def file_in(session: Session, rt: Runtime, staff: BranchStaff, data: FilingInput) -> Filing:
    """File `data` as the clerk, now, in `session` (which commits it, or not)."""
    return service.file_filing(
        session,
        actor=staff.clerk,
        staff_id=staff.clerk_id,
        data=data,
        idempotency_key=None,
        now=rt.clock.now(),
        lease_until=rt.clock.after(rt.settings.step_lease_seconds),
        calendar=rt.calendar,
    ).filing


def file_undispatched(rt: Runtime, staff: BranchStaff, /, **overrides: Any) -> str:
    """File as if the process died before dispatching any work, and as if the sweeper had
    just looked: no worker touches the filing for a minute."""
    code = file(rt, staff, dispatch=False, **overrides)
    with rt.database.transaction() as session:
        filing_id = select(Filing.id).where(Filing.tracking_code == code).scalar_subquery()
        session.execute(
            update(Step)
            .where(Step.filing_id == filing_id, Step.next_check_at.is_not(None))
            .values(next_check_at=rt.clock.now() + timedelta(minutes=1))
        )
    return code


def supplement(
    rt: Runtime,
    staff: BranchStaff,
    code: str,
    material: str,
    data: dict[str, Any],
    *,
    at: datetime | None = None,
) -> None:
    """The branch clerk supplies `material` (with `data`) to the filing `code`, at `at` (by
    default now), on the runtime's calendar."""
    with rt.database.transaction() as session:
        service.supplement_material(
            session,
            actor=staff.clerk,
            tracking_code=code,
            material_code=material,
            data=data,
            now=at or rt.clock.now(),
            lease_until=rt.clock.now(),
            calendar=rt.calendar,
        )


def wait_for(rt: Runtime, code: str, done: Callable[[Filing], bool], timeout: float = 20) -> Filing:
    """Poll the database until `done(filing)` holds; fail with the filing's steps if not."""
    deadline = time.monotonic() + timeout
    while True:
        with rt.database.transaction() as session:
            filing = session.scalars(select(Filing).where(Filing.tracking_code == code)).one()
            filing.steps, filing.materials  # noqa: B018 - load before the session closes
            if done(filing):
                return filing
            if time.monotonic() > deadline:
                steps = {s.name: (s.status.value, s.last_error, s.reason) for s in filing.steps}
                pytest.fail(f"filing {code} stuck in {filing.status}: {steps}")
        time.sleep(0.05)


def complete(filing: Filing) -> bool:
    return filing.status == FilingStatus.COMPLETE


def step_status(filing: Filing, step: str) -> StepStatus:
    """The status of the filing's step named `step`."""
    return {s.name: s.status for s in filing.steps}[step]


def tax_blocked(filing: Filing) -> bool:
    """The tax step waits for a 容缺 material (the finance officer's, filed without)."""
    return step_status(filing, "tax") == StepStatus.BLOCKED


def file_blocked(rt: Runtime, staff: BranchStaff, /, **overrides: Any) -> str:
    """File without the finance officer; the code once the tax step is blocked for them."""
    code = file(rt, staff, finance_officer=None, **overrides)
    wait_for(rt, code, tax_blocked)
    return code


def at_the_branch(filing: Filing) -> bool:
    """The filing's licence and seals wait at the branch to be collected."""
    return any(s.status == StepStatus.AT_BRANCH for s in filing.steps)


def file_for_pickup(rt: Runtime, staff: BranchStaff, /, *, timeout: float = 20) -> Filing:
    """File for collection at the branch; the filing once licence and seals wait there."""
    code = file(rt, staff, delivery={"method": "branch_pickup"})
    return wait_for(rt, code, at_the_branch, timeout)


def hand_over(
    rt: Runtime, staff: BranchStaff, code: str, collector: dict[str, Any] | None = None
) -> None:
    """The clerk hands the filing's licence and seals over, now (to `collector`, as
    `handover.checked_collector` records them, if given)."""
    with rt.database.transaction() as session:
        service.hand_over(
            session,
            actor=staff.clerk,
            tracking_code=code,
            now=rt.clock.now(),
            collector=collector,
        )


def events(rt: Runtime, code: str) -> list[Event]:
    with rt.database.transaction() as session:
        filing = session.scalars(select(Filing).where(Filing.tracking_code == code)).one()
        return list(
            session.scalars(select(Event).where(Event.filing_id == filing.id).order_by(Event.id))
        )


def simulators(rt: Runtime) -> httpx.Client:
    assert rt.agencies_url
    return httpx.Client(base_url=rt.agencies_url, timeout=5)


def set_behaviour(rt: Runtime, agency: str, **behaviour: Any) -> None:
    with simulators(rt) as sim:
        sim.put(f"/_sim/{agency}/behaviour", json=behaviour).raise_for_status()


def duplicate_effects(rt: Runtime) -> int:
    with simulators(rt) as sim:
        report = sim.get("/_sim/effects").json()
    return int(report["duplicates"]) + int(report["subject_duplicates"])


def duplicate_effects_of(rt: Runtime, filing: Filing) -> int:
    """The agencies' effects beyond the first for one filing: under its steps' keys
    (`tracking code-step`) and under its subjects (its credit code, its name). Where other
    tests' filings share the simulators, theirs are not this one's."""
    with simulators(rt) as sim:
        report = sim.get("/_sim/effects").json()
    mine = [filing.credit_code or "", filing.company_name]
    keyed = sum(
        n - 1
        for counts in report["effects"].values()
        for key, n in counts.items()
        if key.startswith(f"{filing.tracking_code}-")
    )
    subjects = sum(
        n - 1
        for counts in report["subjects"].values()
        for subject, n in counts.items()
        if any(m and m in subject for m in mine)
    )
    return keyed + subjects
