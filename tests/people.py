"""Branches and staff for tests: who files, who watches, with their API tokens."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy.orm import Session

from orchestrator.filings.service import Actor
from orchestrator.identity.models import Branch, Role, Staff
from orchestrator.identity.service import Scope, ensure_branch, ensure_staff, issue_token
from orchestrator.runtime import Runtime

SHOUGUANG = "370783"


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


def shouguang_branch(session: Session, code: str, name: str, bank_code: str) -> Branch:
    """A partner branch in Shouguang, created or updated."""
    return ensure_branch(
        session, code=code, name=name, bank_code=bank_code, district_code=SHOUGUANG
    )


def staff_at(
    session: Session,
    branch: Branch,
    username: str,
    name: str,
    *,
    role: Role = Role.CLERK,
    password: str | None = None,
) -> Staff:
    """A member of `branch`'s staff (a clerk unless `role` says otherwise)."""
    return ensure_staff(
        session,
        username=username,
        name=name,
        role=role,
        district_code=branch.district_code,
        branch=branch,
        password=password,
    )


def actor_of(staff: Staff) -> Actor:
    """`staff` as the services' actor, named as the portal and the API name them."""
    return Actor(name=f"staff:{staff.username}", scope=Scope.of(staff))


def filing_as(staff: BranchStaff, clerk: Staff) -> BranchStaff:
    """`staff` with `clerk` as the clerk who files (the rest, tokens included, as they were)."""
    return replace(staff, clerk=actor_of(clerk), clerk_id=clerk.id)


def make_branch_staff(rt: Runtime) -> BranchStaff:
    """Two Shouguang branches with a clerk each, a Shouguang and a Rencheng officer."""
    now = rt.clock.now()
    with rt.database.transaction() as session:
        branch = shouguang_branch(session, "SG-ABC-01", "农业银行寿光支行", "ABC")
        other = shouguang_branch(session, "SG-CCB-01", "建设银行寿光支行", "CCB")
        clerk = staff_at(session, branch, "wangfang", "王芳")
        other_clerk = staff_at(session, other, "liming", "李明")
        officer = ensure_staff(
            session, username="zhaojing", name="赵静", role=Role.OFFICER, district_code=SHOUGUANG
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
            clerk=actor_of(clerk),
        )
