"""Branch staff resubmit a filing an agency rejected; an entrepreneur withdraws one not ready.

End to end in the embedded mode, as the portal and the tracker will call the service.
"""

from __future__ import annotations

import pytest

from orchestrator.errors import Conflict
from orchestrator.filings import service
from orchestrator.filings.models import FilingStatus, StepStatus
from orchestrator.runtime import Runtime
from tests.filings import (
    complete,
    duplicate_effects,
    events,
    file,
    set_behaviour,
    wait_for,
)
from tests.people import BranchStaff


def resubmit(rt: Runtime, staff: BranchStaff, code: str) -> None:
    with rt.database.transaction() as session:
        service.resubmit_filing(
            session,
            actor=staff.clerk,
            tracking_code=code,
            now=rt.clock.now(),
            lease_until=rt.clock.after(rt.settings.step_lease_seconds),
        )


def withdraw(rt: Runtime, code: str) -> None:
    with rt.database.transaction() as session:
        service.withdraw_filing(session, tracking_code=code, actor="applicant", now=rt.clock.now())


def rejected_by_tax(rt: Runtime, staff: BranchStaff) -> str:
    """A filing whose tax step the bureau refused: it needs action."""
    set_behaviour(rt, "tax", rejection_rate=1.0)
    code = file(rt, staff)
    wait_for(rt, code, lambda f: f.status == FilingStatus.ACTION_REQUIRED)
    return code


def steps(rt: Runtime, code: str) -> dict[str, StepStatus]:
    return {s.name: s.status for s in wait_for(rt, code, lambda f: True).steps}


class TestResubmit:
    def test_the_rejected_step_runs_again_and_the_filing_completes(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        code = rejected_by_tax(onestop, branch_staff)
        assert steps(onestop, code)["tax"] == StepStatus.REJECTED
        set_behaviour(onestop, "tax", rejection_rate=0.0)  # the clerk corrected what it refused

        resubmit(onestop, branch_staff, code)

        wait_for(onestop, code, complete)
        kinds = [(e.kind, e.step) for e in events(onestop, code)]
        assert ("resubmitted", None) in kinds
        assert ("resubmitted", "tax") in kinds
        assert kinds.count(("done", "tax")) == 1
        assert duplicate_effects(onestop) == 0

    def test_a_filing_nothing_was_rejected_of_is_a_conflict(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        code = file(onestop, branch_staff, dispatch=False)
        with pytest.raises(Conflict):
            resubmit(onestop, branch_staff, code)
        assert steps(onestop, code)["registration"] == StepStatus.READY


class TestWithdraw:
    def test_every_step_not_done_stops_and_nothing_starts_after(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        code = rejected_by_tax(onestop, branch_staff)

        withdraw(onestop, code)

        filing = wait_for(onestop, code, lambda f: f.status == FilingStatus.CANCELLED)
        statuses = {s.name: s.status for s in filing.steps}
        assert statuses["registration"] == StepStatus.DONE  # what an agency did stays done
        assert statuses["tax"] == StepStatus.CANCELLED
        assert statuses["delivery"] == StepStatus.CANCELLED
        kinds = [(e.kind, e.step) for e in events(onestop, code)]
        assert ("withdrawn", None) in kinds
        assert ("cancelled", "delivery") in kinds

    def test_a_ready_filing_is_no_longer_withdrawn(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        code = file(onestop, branch_staff)
        wait_for(onestop, code, complete)
        with pytest.raises(Conflict):
            withdraw(onestop, code)
        assert wait_for(onestop, code, lambda f: True).status == FilingStatus.COMPLETE
