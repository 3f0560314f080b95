"""What the tracker's tests share: the branch managers its notices reach, and the notices."""

from __future__ import annotations

from sqlalchemy import select

from orchestrator.filings.models import Filing
from orchestrator.identity.models import Branch, Role
from orchestrator.identity.service import branch_recipients
from orchestrator.notifications.inbox import StaffNotice
from orchestrator.runtime import Runtime
from tests.people import BranchStaff, staff_at


def branch_managers(rt: Runtime, staff: BranchStaff) -> list[int]:
    """Make 周华 a manager of `staff`'s branch; the ids of the branch's staff whom its notices
    reach (other tests' managers too), checked to hold 周华 and not the clerk who files."""
    with rt.database.transaction() as session:
        branch = session.get(Branch, staff.branch_id)
        assert branch is not None
        manager = staff_at(session, branch, "zhouhua", "周华", role=Role.BRANCH_MANAGER).id
        managers = [r.staff_id for r in branch_recipients(session, branch_id=branch.id)]
    assert manager in managers and staff.clerk_id not in managers
    return managers


def staff_notices(rt: Runtime, code: str) -> list[tuple[int, str]]:
    """(staff id, kind) of each notice to staff about the filing `code`, in the order sent."""
    with rt.database.reading() as session:
        rows = session.execute(
            select(StaffNotice.staff_id, StaffNotice.kind)
            .join(Filing, Filing.id == StaffNotice.filing_id)
            .where(Filing.tracking_code == code)
            .order_by(StaffNotice.id)
        )
        return [(staff_id, kind) for staff_id, kind in rows]
