"""A 容缺 material past due: the branch withdraws the step waiting for it, and the rest of
the filing goes on to completion; not before the due date, and never a step whose result
another step needs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from orchestrator.errors import Conflict
from orchestrator.filings import step_withdrawal
from orchestrator.filings.models import Filing, Material, MaterialStatus, StepStatus
from orchestrator.runtime import Runtime
from orchestrator.workflow import of_entries
from tests.factories import ALL_MATERIALS
from tests.filings import complete, duplicate_effects, events, file, wait_for
from tests.people import BranchStaff

pytestmark = pytest.mark.databases("sqlite", "postgresql")

MATERIAL = "housing_fund_authorisation"  # 容缺 at intake; the housing fund waits for it
STEP = "housing_fund"


def waiting_for_the_material(rt: Runtime, staff: BranchStaff) -> str:
    code = file(rt, staff, materials=[m for m in ALL_MATERIALS if m != MATERIAL])
    wait_for(rt, code, lambda f: {s.name: s.status for s in f.steps}[STEP] == StepStatus.BLOCKED)
    return code


def past_due(rt: Runtime, code: str) -> None:
    """Let the material's due date pass (as the working days would)."""
    with rt.database.transaction() as session:
        filing_id = select(Filing.id).where(Filing.tracking_code == code).scalar_subquery()
        session.execute(
            update(Material)
            .where(Material.filing_id == filing_id, Material.code == MATERIAL)
            .values(due_at=rt.clock.now() - timedelta(minutes=1))
        )


def withdraw(rt: Runtime, staff: BranchStaff, code: str, step: str = STEP) -> None:
    with rt.database.transaction() as session:
        step_withdrawal.withdraw_step(
            session,
            actor=staff.clerk,
            tracking_code=code,
            step_name=step,
            now=rt.clock.now(),
            lease_until=rt.clock.after(rt.settings.step_lease_seconds),
            calendar=rt.calendar,
        )


def withdrawable(rt: Runtime, code: str) -> list[str]:
    with rt.database.reading() as session:
        filing = session.scalars(select(Filing).where(Filing.tracking_code == code)).one()
        return [item.step for item in step_withdrawal.withdrawable(filing, now=rt.clock.now())]


def test_past_due_the_step_is_withdrawn_and_the_filing_completes_without_it(
    onestop: Runtime, branch_staff: BranchStaff
) -> None:
    code = waiting_for_the_material(onestop, branch_staff)
    assert withdrawable(onestop, code) == []
    with pytest.raises(Conflict) as refused:  # the applicant may still send it
        withdraw(onestop, branch_staff, code)
    assert "not past due" in refused.value.message_en
    past_due(onestop, code)
    assert withdrawable(onestop, code) == [STEP]

    withdraw(onestop, branch_staff, code)
    filing = wait_for(onestop, code, complete)
    statuses = {s.name: s.status for s in filing.steps}
    assert statuses.pop(STEP) == StepStatus.CANCELLED
    assert set(statuses.values()) == {StepStatus.DONE}
    assert {m.code: m.status for m in filing.materials}[MATERIAL] == MaterialStatus.WAIVED
    kinds = [e.kind for e in events(onestop, code)]
    assert kinds.count("step_withdrawn") == 1 and kinds.count("materials_waived") == 1
    with pytest.raises(Conflict):  # withdrawn already
        withdraw(onestop, branch_staff, code)
    assert duplicate_effects(onestop) == 0


def test_over_the_api_a_bad_step_is_a_422_an_unknown_one_a_404(
    onestop: Runtime, api: TestClient, branch_staff: BranchStaff
) -> None:
    code = waiting_for_the_material(onestop, branch_staff)
    headers = {"Authorization": f"Bearer {branch_staff.clerk_token}"}
    url = f"/api/v1/filings/{code}/steps"
    assert api.post(f"{url}/Tax/withdraw", headers=headers).status_code == 422
    assert api.post(f"{url}/tax%00/withdraw", headers=headers).status_code == 404
    assert api.post(f"{url}/no_such_step/withdraw", headers=headers).status_code == 404
    assert api.post(f"{url}/{STEP}/withdraw", headers=headers).status_code == 409
    past_due(onestop, code)
    answer = api.post(f"{url}/{STEP}/withdraw", headers=headers)
    assert answer.status_code == 200, answer.text
    assert {s["name"]: s["status"] for s in answer.json()["steps"]}[STEP] == "cancelled"


def test_only_a_step_whose_result_nobody_after_it_uses_may_go() -> None:
    split = of_entries(
        (
            ("registration", ()),
            ("seal_design", ("registration",)),
            ("seal", ("seal_design",)),
            ("bank_precheck", ()),
            ("bank_account", ("bank_precheck", "seal_design")),
            ("tax", ("registration",)),
            ("delivery", ("seal", "bank_account", "tax")),
        )
    )
    assert split.may_go_without("tax") and split.may_go_without("bank_account")
    assert not split.may_go_without("registration")  # every later request names its code
    assert not split.may_go_without("seal_design")  # the bank reserves its impressions
