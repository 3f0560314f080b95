"""Branches and staff for tests: who files, who watches, with their API tokens."""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.filings.service import Actor
from orchestrator.identity.models import Role
from orchestrator.identity.service import Scope, ensure_branch, ensure_staff, issue_token
from orchestrator.runtime import Runtime


@dataclass(frozen=True)
class BranchStaff:
    branch_id: int
    clerk_id: int
    clerk_token: str
    other_clerk_token: str  # a clerk of another branch in the same district
    officer_token: str
    other_district_officer_token: str
    clerk: Actor

    def headers(self, token: str | None = None) -> dict[str, str]:
        """Authorization headers for `token` (default: the clerk's)."""
        return {"Authorization": f"Bearer {token or self.clerk_token}"}


def make_branch_staff(rt: Runtime) -> BranchStaff:
    """Two Shouguang branches with a clerk each, a Shouguang and a Rencheng officer."""
    now = rt.clock.now()
    with rt.database.transaction() as session:
        branch = ensure_branch(
            session,
            code="SG-ABC-01",
            name="农业银行寿光支行",
            bank_code="ABC",
            district_code="370783",
        )
        other = ensure_branch(
            session,
            code="SG-CCB-01",
            name="建设银行寿光支行",
            bank_code="CCB",
            district_code="370783",
        )
        clerk = ensure_staff(
            session, username="wangfang", name="王芳", role=Role.CLERK,
            district_code="370783", branch=branch,
        )  # fmt: skip
        other_clerk = ensure_staff(
            session, username="liming", name="李明", role=Role.CLERK,
            district_code="370783", branch=other,
        )  # fmt: skip
        officer = ensure_staff(
            session, username="zhaojing", name="赵静", role=Role.OFFICER, district_code="370783"
        )
        far_officer = ensure_staff(
            session, username="sunli", name="孙丽", role=Role.OFFICER, district_code="370811"
        )
        return BranchStaff(
            branch_id=branch.id,
            clerk_id=clerk.id,
            clerk_token=issue_token(session, clerk, now=now),
            other_clerk_token=issue_token(session, other_clerk, now=now),
            officer_token=issue_token(session, officer, now=now),
            other_district_officer_token=issue_token(session, far_officer, now=now),
            clerk=Actor(name="staff:wangfang", scope=Scope.of(clerk)),
        )
