"""The filings domain's rules: accept a filing, supplement, cancel, hand over, and read.

Services never commit: the request or task boundary does, and Celery work is queued
with `after_commit` so that no message ever names a row that is not there.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar, cast

from pydantic import ValidationError
from sqlalchemy import Table, false, func, insert, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from orchestrator.calendar import WorkingCalendar, WorkingDuration
from orchestrator.db import after_commit
from orchestrator.errors import Conflict, Forbidden, Invalid, NotFound
from orchestrator.filings.materials import assess_materials
from orchestrator.filings.models import (
    Event,
    Filing,
    FilingStatus,
    Material,
    MaterialStatus,
    Step,
    StepStatus,
)
from orchestrator.filings.schemas import (
    FilingInput,
    accept,
    application_of,
    supplemented,
)
from orchestrator.filings.transitions import event_row, record
from orchestrator.identity.models import Branch
from orchestrator.identity.service import Scope
from orchestrator.privacy import masked
from orchestrator.reference import load_reference
from orchestrator.validation import FieldError, field_errors
from orchestrator.workflow import STEPS

_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud at a counter


@dataclass(frozen=True)
class Actor:
    """Who acts (for events) and within which scope."""

    name: str
    scope: Scope


def new_tracking_code() -> str:
    """A hard-to-guess tracking code printed on the receipt (OS + 10 characters)."""
    return "OS" + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))


@dataclass(frozen=True)
class Filed:
    """The outcome of filing: the filing (steps and materials loaded) and whether it is new."""

    filing: Filing
    created: bool
    history: list[Event]  # the events written with it: its receipt needs no read-back


def file_filing(
    session: Session,
    *,
    actor: Actor,
    staff_id: int,
    data: FilingInput,
    idempotency_key: str | None,
    now: datetime,
    lease_until: datetime,
    calendar: WorkingCalendar,
) -> Filed:
    """Accept a filing (or return the one already filed under this key), dated by `now`."""
    branch = _filing_branch(session, actor)
    idempotency_key = idempotency_key or None  # an empty key is no key (and not unique)
    if idempotency_key:
        existing = filed_under_key(session, branch.id, idempotency_key, data)
        if existing is not None:
            return Filed(existing, created=False, history=[])
    if data.district_code != branch.district_code:
        raise _invalid_field(
            "district_code",
            "wrong_district",
            f"本网点只能代办 {branch.district_code} 的申请",
            f"this branch files for district {branch.district_code} only",
        )
    reference = load_reference()
    district = reference.districts[data.district_code]
    try:
        payload = accept(
            data,
            accepted_at=now,
            branch_bank=branch.bank_code,
            reference=reference,
        ).model_dump(mode="json")
    except ValidationError as exc:
        raise _invalid(exc) from None
    materials = _materials(data, now=now, calendar=calendar)
    sla = district.policy.sla_working_days
    deadline = committed_deadline(calendar, accepted_at=now, sla_working_days=sla)
    # Core inserts, one statement per table, the receipt's objects built from the same
    # values: the unit of work's flush of these rows was a large part of the API's CPU.
    filing = _inserted(
        session,
        Filing,
        [
            {
                "tracking_code": new_tracking_code(),
                "district_code": data.district_code,
                "branch_id": branch.id,
                "created_by": staff_id,
                "idempotency_key": idempotency_key,
                "company_name": data.company_name.full,
                "status": FilingStatus.ACCEPTED,
                "payload": payload,
                "accepted_at": now,
                "sla_working_days": sla,
                "deadline_at": deadline,
            }
        ],
    )[0]
    of_filing = {"filing_id": filing.id}
    steps = _inserted(session, Step, [{**row, **of_filing} for row in _steps(lease_until)])
    set_committed_value(filing, "steps", steps)
    rows = [{**row, **of_filing} for row in materials]
    set_committed_value(filing, "materials", _inserted(session, Material, rows))
    missing = [row["code"] for row in materials if row["status"] == MaterialStatus.MISSING]
    accepted = event_row(
        filing.id,
        "accepted",
        at=now,
        step=None,
        actor=actor.name,
        deadline_at=deadline.isoformat(),
        deadline_provisional=calendar.touches_provisional(now, deadline),
        materials_to_supplement=missing,
    )
    history = _inserted(session, Event, [accepted])
    roots = [step.id for step in steps if step.status == StepStatus.READY]
    after_commit(session, lambda: _dispatch(roots))
    return Filed(filing, created=True, history=history)


_Row = TypeVar("_Row", Filing, Step, Material, Event)


def _inserted(session: Session, entity: type[_Row], rows: list[dict[str, Any]]) -> list[_Row]:
    """Insert `rows` and return them as objects (not in the session: nothing to flush)."""
    if not rows:
        return []
    table = cast(Table, entity.__table__)
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    ids = session.connection().execute(statement, rows).scalars()
    return [entity(id=row_id, **row) for row_id, row in zip(ids, rows, strict=True)]


def _steps(lease_until: datetime) -> list[dict[str, Any]]:
    return [
        {
            "name": spec.name,
            "position": position,
            "status": StepStatus.WAITING if spec.needs else StepStatus.READY,
            "pending_needs": len(spec.needs),
            "attempts": 0,
            "next_check_at": None if spec.needs else lease_until,
        }
        for position, spec in enumerate(STEPS)
    ]


def _dispatch(step_ids: list[int]) -> None:
    from orchestrator.filings.tasks import dispatch  # tasks import this module's neighbours

    dispatch(step_ids)


def _filing_branch(session: Session, actor: Actor) -> Branch:
    if not actor.scope.can_file or actor.scope.branch_id is None:
        raise Forbidden("只有网点代办员可以提交申请", "only branch staff can file")
    branch = session.get(Branch, actor.scope.branch_id)
    if branch is None:
        raise Forbidden("网点不存在", "your branch no longer exists")
    return branch


def _materials(
    data: FilingInput, *, now: datetime, calendar: WorkingCalendar
) -> list[dict[str, Any]]:
    # Essential materials are all there: `FilingInput` refuses a filing without them.
    assessment = assess_materials(data, load_reference())
    provided: list[dict[str, Any]] = [
        {
            "code": code,
            "status": MaterialStatus.PROVIDED,
            "blocks": [],
            "due_at": None,
            "supplied_at": now,
        }
        for code in data.materials
    ]
    return provided + [
        {
            "code": item.code,
            "status": MaterialStatus.MISSING,
            "blocks": list(item.blocks),
            "due_at": supplement_due(calendar, accepted_at=now, days=item.deadline_working_days),
            "supplied_at": None,
        }
        for item in assessment.to_supplement
    ]


def committed_deadline(
    calendar: WorkingCalendar, *, accepted_at: datetime, sla_working_days: float
) -> datetime:
    """When a filing accepted at `accepted_at` must be ready: its committed working time on."""
    return calendar.add(accepted_at, WorkingDuration(days=Decimal(str(sla_working_days))))


def supplement_due(calendar: WorkingCalendar, *, accepted_at: datetime, days: int) -> datetime:
    """When a 容缺 material accepted at `accepted_at` is due: `days` working days on."""
    return calendar.add(accepted_at, WorkingDuration(days=Decimal(days)))


def _invalid_field(field: str, code: str, zh: str, en: str) -> Invalid:
    error = FieldError(field=field, code=code, message_zh=zh, message_en=en)
    return Invalid("填写有误，请按字段修改", "some fields are invalid", errors=[error.model_dump()])


def _invalid(
    exc: ValidationError,
    message_zh: str = "填写有误，请按字段修改",
    message_en: str = "some fields are invalid",
    *,
    within: str = "",
) -> Invalid:
    """The 422 naming each field of `exc`, under `within` (the request's part) if given."""
    errors = [error.model_dump() for error in field_errors(exc)]
    if within:
        for error in errors:
            error["field"] = f"{within}.{error['field']}" if error["field"] else within
    return Invalid(message_zh, message_en, errors=errors)


def find_by_idempotency_key(session: Session, branch_id: int, key: str) -> Filing | None:
    """The filing a branch already filed under `key`, if any."""
    return session.scalars(
        select(Filing).where(Filing.branch_id == branch_id, Filing.idempotency_key == key)
    ).first()


def filed_under_key(session: Session, branch_id: int, key: str, data: FilingInput) -> Filing | None:
    """The filing a branch already filed under `key` (a replay), if any; Conflict if that
    filing is not `data`. The date the server stamped on it is no part of the comparison:
    a retry after midnight is the same application."""
    existing = find_by_idempotency_key(session, branch_id, key)
    if existing is not None and application_of(existing.payload) != data.model_dump(mode="json"):
        raise Conflict(
            "该幂等键已用于另一份申请",
            "this Idempotency-Key was already used for a different filing",
        )
    return existing


def _visible(scope: Scope) -> Any:
    conditions: list[Any] = [false()] if scope.sees_nothing else []
    if scope.branch_id is not None:
        conditions.append(Filing.branch_id == scope.branch_id)
    if scope.district_code is not None:
        conditions.append(Filing.district_code == scope.district_code)
    return conditions


def get_filing(session: Session, scope: Scope, tracking_code: str, *, lock: bool = False) -> Filing:
    """One filing the scope may see, with steps and materials; NotFound otherwise."""
    query = (
        select(Filing)
        .where(Filing.tracking_code == tracking_code, *_visible(scope))
        .options(selectinload(Filing.steps), selectinload(Filing.materials))
    )
    if lock:
        query = query.with_for_update(of=Filing)
    filing = session.scalars(query).first()
    if filing is None:
        # Another branch's filing is a 404 too: its existence is not ours to reveal.
        raise NotFound("未找到该申请", "no such filing", tracking_code=tracking_code)
    return filing


def events_of(session: Session, filing: Filing) -> list[Event]:
    """The filing's history, oldest first."""
    return list(
        session.scalars(select(Event).where(Event.filing_id == filing.id).order_by(Event.id))
    )


def list_filings(
    session: Session,
    scope: Scope,
    *,
    status: FilingStatus | None = None,
    district_code: str | None = None,
    branch_id: int | None = None,
    page: int = 1,
    page_size: int = 20,
) -> tuple[list[Filing], int]:
    """A page of the filings the scope may see, newest first, and how many match in all."""
    conditions = _visible(scope)
    if status is not None:
        conditions.append(Filing.status == status)
    if district_code is not None:
        conditions.append(Filing.district_code == district_code)
    if branch_id is not None:
        conditions.append(Filing.branch_id == branch_id)
    total = session.scalar(select(func.count()).select_from(Filing).where(*conditions)) or 0
    rows = session.scalars(
        select(Filing)
        .where(*conditions)
        .options(selectinload(Filing.steps))
        .order_by(Filing.accepted_at.desc(), Filing.id.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    return list(rows), total


def cancel_filing(session: Session, *, actor: Actor, tracking_code: str, now: datetime) -> Filing:
    """Cancel a filing whose registration has not been sent to the agency yet."""
    filing = get_filing(session, actor.scope, tracking_code, lock=True)
    _require_branch_staff(actor)
    registration = _locked_step(session, filing, "registration")
    if filing.status == FilingStatus.CANCELLED:
        return filing
    # A failed attempt may have reached the agency all the same (a timeout, a lost reply):
    # once registration has been tried, it counts as sent.
    if registration.status not in (StepStatus.READY, StepStatus.WAITING) or registration.attempts:
        raise Conflict(
            "登记申请已提交市场监管部门，无法撤销",
            "registration has already been sent to market supervision; it cannot be cancelled",
            step_status=registration.status.value,
        )
    for step in filing.steps:
        if step.status not in (StepStatus.DONE, StepStatus.CANCELLED):
            step.status = StepStatus.CANCELLED
            step.next_check_at = None
    filing.status = FilingStatus.CANCELLED
    record(session, filing.id, "cancelled", at=now, actor=actor.name)
    return filing


def supplement_material(
    session: Session,
    *,
    actor: Actor,
    tracking_code: str,
    material_code: str,
    data: dict[str, Any],
    now: datetime,
    lease_until: datetime,
) -> Filing:
    """Record a 容缺 material as supplied, with the data it carries (only the fields the
    catalogue says it carries, validated as at intake); unblock its steps. Its event says
    what changed, with resident IDs and mobiles masked."""
    filing = get_filing(session, actor.scope, tracking_code, lock=True)
    _require_branch_staff(actor)
    material = next((m for m in filing.materials if m.code == material_code), None)
    entry = load_reference().materials.get(material_code)  # says what the material carries
    if material is None or entry is None or material.status == MaterialStatus.PROVIDED:
        raise NotFound(
            "该申请没有待补正的此项材料",
            "this filing has no such material to supplement",
            material=material_code,
        )
    if material.status == MaterialStatus.SUPPLEMENTED:
        # Steps may already have used what it carried: a second supplement must not patch it.
        raise Conflict(
            "该材料已补正",
            "this material has already been supplemented",
            material=material_code,
        )
    changed: dict[str, Any] = {}
    if data:
        try:
            patched = supplemented(filing.payload, entry, data).model_dump(mode="json")
        except ValidationError as exc:
            raise _invalid(
                exc, "补正内容有误", "the supplement is invalid", within="data"
            ) from None
        changed = {
            field: {"before": masked(filing.payload.get(field)), "after": masked(patched[field])}
            for field in data
            if filing.payload.get(field) != patched[field]
        }
        filing.payload = patched
    material.status = MaterialStatus.SUPPLEMENTED
    material.supplied_at = now
    record(
        session,
        filing.id,
        "material_supplemented",
        at=now,
        actor=actor.name,
        material=material_code,
        changed=changed,
    )
    _unblock(session, filing, now=now, lease_until=lease_until)
    return filing


def _unblock(session: Session, filing: Filing, *, now: datetime, lease_until: datetime) -> None:
    still_missing = {
        name for m in filing.materials if m.status == MaterialStatus.MISSING for name in m.blocks
    }
    ready = []
    for step in filing.steps:
        if step.status == StepStatus.BLOCKED and step.name not in still_missing:
            step.status = StepStatus.READY
            step.reason = None
            step.next_check_at = lease_until
            record(session, filing.id, "unblocked", at=now, step=step.name)
            ready.append(step.id)
    if ready:
        after_commit(session, lambda: _dispatch(ready))


def hand_over(session: Session, *, actor: Actor, tracking_code: str, now: datetime) -> Filing:
    """Staff handed licence and seals to the client at the branch: the filing is complete."""
    from orchestrator.filings.transitions import succeed

    filing = get_filing(session, actor.scope, tracking_code, lock=True)
    _require_branch_staff(actor)
    delivery = _locked_step(session, filing, "delivery")
    if delivery.status != StepStatus.AT_BRANCH:
        raise Conflict(
            "证照和印章尚未到达网点，无法交付",
            "licence and seals are not waiting at the branch; nothing to hand over",
            step_status=delivery.status.value,
        )
    succeed(
        session.connection(),
        delivery.id,
        {"handed_over_by": actor.name},
        now=now,
        lease_until=now,
        actor=actor.name,
    )
    session.expire_all()  # `succeed` wrote with Core statements: reload what the reply shows
    return filing


def _locked_step(session: Session, filing: Filing, name: str) -> Step:
    step = session.scalars(
        select(Step)
        .where(Step.filing_id == filing.id, Step.name == name)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    return step


def _require_branch_staff(actor: Actor) -> None:
    if not actor.scope.can_file:
        raise Forbidden("只读账户不能修改申请", "read-only accounts cannot change filings")
