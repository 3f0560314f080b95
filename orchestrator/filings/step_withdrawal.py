"""A 容缺 material past due: the branch may withdraw the step it blocks, and the rest of the
filing goes on without it.

Only a step the filing can do without is withdrawn (no other step uses what it would give:
tax or the housing fund, never registration), and only once a material it waits for is
past its due date: until then the applicant may still send it. A material whose every step
was withdrawn is waived: nobody waits for it any more, and no reminder or flag follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from orchestrator.calendar import WorkingCalendar
from orchestrator.db import after_commit
from orchestrator.errors import Conflict, NotFound
from orchestrator.filings import service, transitions
from orchestrator.filings.dispatch import dispatch
from orchestrator.filings.history import record
from orchestrator.filings.models import Filing, Material, MaterialStatus, Step, StepStatus
from orchestrator.reference import load_reference
from orchestrator.workflow import Graph, by_name, of_entries


@dataclass(frozen=True)
class Overdue:
    """A material past due that a step waits for, as the branch is shown it."""

    code: str
    name_zh: str
    name_en: str
    due_at: datetime


@dataclass(frozen=True)
class Withdrawable:
    """A step the branch may withdraw now, and the materials past due it waits for."""

    step: str
    label_zh: str
    label_en: str
    materials: tuple[Overdue, ...]


def withdrawable(filing: Filing, *, now: datetime) -> list[Withdrawable]:
    """The filing's steps the branch may withdraw at `now`, in the graph's order."""
    graph, catalogue = _graph(filing), load_reference().materials
    found = []
    for step in filing.steps:
        if _refusal(filing, graph, step, now) is None:
            spec = by_name()[step.name]
            overdue = tuple(
                Overdue(m.code, catalogue[m.code].name_zh, catalogue[m.code].name_en, m.due_at)
                for m in _past_due(filing, step.name, now)
                if m.due_at is not None
            )
            found.append(Withdrawable(step.name, spec.label_zh, spec.label_en, overdue))
    return found


def withdraw_step(
    session: Session,
    *,
    actor: service.Actor,
    tracking_code: str,
    step_name: str,
    now: datetime,
    lease_until: datetime,
    calendar: WorkingCalendar,
) -> Filing:
    """Withdraw the filing's step `step_name`, blocked by a material past due (Conflict if
    it is not, or if another step needs its result)."""
    filing = service.get_filing(session, actor.scope, tracking_code, lock=True)
    service.require_branch_staff(actor)
    step = next((s for s in filing.steps if s.name == step_name), None)
    if step is None:
        raise NotFound("该申请没有此事项", "this filing has no such step", step=step_name)
    refusal = _refusal(filing, _graph(filing), step, now)
    if refusal is not None:
        raise refusal
    waiting_for = [m for m in filing.materials if _blocks(m, step_name)]
    for material in waiting_for:
        material.blocks = [name for name in material.blocks if name != step_name]
        if not material.blocks:
            material.status = MaterialStatus.WAIVED
    if waived := [m.code for m in waiting_for if m.status == MaterialStatus.WAIVED]:
        record(session, filing.id, "materials_waived", at=now, actor=actor.name,
               step=step_name, materials=waived)  # fmt: skip
    session.flush()
    ready = transitions.withdraw_blocked(
        session.connection(),
        step.id,
        now=now,
        lease_until=lease_until,
        calendar=calendar,
        actor=actor.name,
    )
    if ready:
        after_commit(session, lambda: dispatch(ready))
    session.expire_all()  # the transition wrote with Core statements
    return filing


def _refusal(filing: Filing, graph: Graph, step: Step, now: datetime) -> Conflict | None:
    """Why `step` may not be withdrawn at `now`; None if it may."""
    if step.status != StepStatus.BLOCKED:
        return Conflict("只能撤回等待补正材料的事项", "only a step waiting for a material can "
                        "be withdrawn", step=step.name, step_status=step.status.value)  # fmt: skip
    if not graph.may_go_without(step.name):
        spec = by_name()[step.name]
        return Conflict(f"其他事项需要“{spec.label_zh}”的结果，不能撤回",
                        f"other steps need the result of '{spec.label_en}'; it cannot be "
                        "withdrawn", step=step.name)  # fmt: skip
    if not _past_due(filing, step.name, now):
        return Conflict("所缺材料尚未逾期，申请人仍可补交",
                        "the material is not past due yet: the applicant may still send it",
                        step=step.name)  # fmt: skip
    return None


def _graph(filing: Filing) -> Graph:
    return of_entries(tuple((name, tuple(needs)) for name, needs in filing.graph))


def _past_due(filing: Filing, step_name: str, now: datetime) -> list[Material]:
    return [
        m
        for m in filing.materials
        if _blocks(m, step_name) and m.due_at is not None and m.due_at <= now
    ]


def _blocks(material: Material, step_name: str) -> bool:
    return material.status == MaterialStatus.MISSING and step_name in material.blocks
