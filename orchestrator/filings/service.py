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
from sqlalchemy import Table, false, func, insert, or_, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from orchestrator.calendar import WorkingCalendar, WorkingDuration, default_calendar
from orchestrator.db import after_commit
from orchestrator.errors import Conflict, Forbidden, Invalid, NotFound
from orchestrator.filings import documents, transitions
from orchestrator.filings.acceptance import accept, application_of, supplemented
from orchestrator.filings.dispatch import dispatch
from orchestrator.filings.history import event_row, record
from orchestrator.filings.lifecycle import FILING
from orchestrator.filings.materials import assess_materials
from orchestrator.filings.models import (
    Document,
    Event,
    Filing,
    FilingStatus,
    Material,
    MaterialStatus,
    Step,
    StepStatus,
)
from orchestrator.filings.schemas import FilingInput
from orchestrator.identity.models import Branch
from orchestrator.identity.service import Scope
from orchestrator.notifications import notices, outbox
from orchestrator.notifications.notices import DueMaterial, FilingFacts
from orchestrator.privacy import masked
from orchestrator.reference import load_reference
from orchestrator.subsidies import ledger
from orchestrator.validation import FieldError, field_errors
from orchestrator.workflow import CREDIT_CODE, HANDOVER_STEP, Graph, step_giving

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
    graph = reference.graph_of(data.district_code)
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
                "graph": graph.to_json(),
                "accepted_at": now,
                "sla_working_days": sla,
                "deadline_at": deadline,
            }
        ],
    )[0]
    of_filing = {"filing_id": filing.id}
    rows = [{**row, **of_filing} for row in _steps(graph, lease_until)]
    steps = _inserted(session, Step, rows)
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
    _announce_acceptance(session, filing, materials, now=now, send_by=lease_until)
    # Last: the month's budget row stays locked until the commit, which comes right after.
    ledger.reserve_for_filing(
        session.connection(),
        filing_id=filing.id,
        district_code=data.district_code,
        payload=payload,
        now=now,
        actor=actor.name,
    )
    roots = [step.id for step in steps if step.status == StepStatus.READY]
    after_commit(session, lambda: dispatch(roots))
    return Filed(filing, created=True, history=history)


def _announce_acceptance(
    session: Session,
    filing: Filing,
    materials: list[dict[str, Any]],
    *,
    now: datetime,
    send_by: datetime,
) -> None:
    """Text the applicant the acceptance and each 容缺 material due (sent after commit)."""
    catalogue = load_reference().materials
    due = tuple(
        DueMaterial(
            name_zh=catalogue[row["code"]].name_zh,
            name_en=catalogue[row["code"]].name_en,
            due_at=row["due_at"],
        )
        for row in materials
        if row["status"] == MaterialStatus.MISSING and row["due_at"] is not None
    )
    facts = FilingFacts(
        filing_id=filing.id,
        tracking_code=filing.tracking_code,
        company_name=filing.company_name,
        mobile=filing.payload["legal_representative"]["mobile"],
        materials_due=due,
    )
    notices.announce(session.connection(), "accepted", facts, now=now, send_by=send_by)
    outbox.send_after_commit(session)


_Row = TypeVar("_Row", Filing, Step, Material, Event)


def _inserted(session: Session, entity: type[_Row], rows: list[dict[str, Any]]) -> list[_Row]:
    """Insert `rows` and return them as objects (not in the session: nothing to flush)."""
    if not rows:
        return []
    table = cast(Table, entity.__table__)
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    ids = session.connection().execute(statement, rows).scalars()
    return [entity(id=row_id, **row) for row_id, row in zip(ids, rows, strict=True)]


def _steps(graph: Graph, lease_until: datetime) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "position": position,
            "status": StepStatus.WAITING if needs else StepStatus.READY,
            "pending_needs": len(needs),
            "attempts": 0,
            "next_check_at": None if needs else lease_until,
        }
        for position, (name, needs) in enumerate(graph.steps)
    ]


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


def visible_matching(scope: Scope, search: str | None) -> list[Any]:
    """The conditions of the filings `scope` may see that `search` finds (see `list_filings`)."""
    conditions: list[Any] = _visible(scope)
    if search := (search or "").strip():
        conditions.append(
            or_(
                Filing.company_name.contains(search, autoescape=True),
                Filing.tracking_code == search.upper(),
                Filing.credit_code == search.upper(),
            )
        )
    return conditions


def get_filing(session: Session, scope: Scope, tracking_code: str, *, lock: bool = False) -> Filing:
    """One filing the scope may see, with steps and materials; NotFound otherwise."""
    query = (
        select(Filing)
        .where(Filing.tracking_code == tracking_code, *_visible(scope))
        .options(selectinload(Filing.steps), selectinload(Filing.materials))
    )
    if lock:  # in the order every transaction takes them: see `transitions`
        visible = select(Filing.id).where(Filing.tracking_code == tracking_code, *_visible(scope))
        session.execute(
            select(Step.id)
            .where(Step.filing_id.in_(visible.scalar_subquery()))
            .order_by(Step.position)
            .with_for_update()
        )
        query = query.with_for_update(of=Filing, key_share=True)
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
    search: str | None = None,
    page: int = 1,
    page_size: int = 20,
    where: tuple[Any, ...] = (),
) -> tuple[list[Filing], int]:
    """A page of the filings the scope may see, newest first, and how many match in all.

    `search` keeps the filings whose company name contains it, or whose tracking code or
    credit code is it; `where` adds conditions of the caller's (a work queue's bucket).
    """
    conditions = [*visible_matching(scope, search), *where]
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
    require_branch_staff(actor)
    registration = _locked_step(session, filing, step_giving(CREDIT_CODE))
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
    transitions.cancel(
        session.connection(), filing.id, now=now, actor=actor.name, event="cancelled"
    )
    return _reloaded(session, filing)


def withdraw_filing(session: Session, *, tracking_code: str, actor: str, now: datetime) -> Filing:
    """The entrepreneur withdraws a filing that is not ready yet: every step not done stops.

    For the tracker, which has checked that `actor` holds the filing (its tracking code and
    the applicant's mobile). Steps an agency has already done stay done.
    """
    filing = get_filing(session, Scope(everything=True), tracking_code, lock=True)
    if filing.status == FilingStatus.CANCELLED:
        return filing
    if filing.status not in FILING.sources("withdrawn"):
        raise Conflict(
            "该申请已办结，无法撤回",
            "every agency step of this filing is done; it can no longer be withdrawn",
            filing_status=filing.status.value,
        )
    transitions.cancel(session.connection(), filing.id, now=now, actor=actor, event="withdrawn")
    return _reloaded(session, filing)


def resubmit_filing(
    session: Session, *, actor: Actor, tracking_code: str, now: datetime, lease_until: datetime
) -> Filing:
    """Branch staff corrected a filing an agency rejected: its rejected steps run again."""
    filing = get_filing(session, actor.scope, tracking_code, lock=True)
    require_branch_staff(actor)
    if filing.status not in FILING.sources("resubmitted"):
        raise Conflict(
            "该申请没有被驳回的事项，无需重新提交",
            "no step of this filing was rejected; there is nothing to resubmit",
            filing_status=filing.status.value,
        )
    ready = transitions.resubmit(
        session.connection(), filing.id, now=now, lease_until=lease_until, actor=actor.name
    )
    after_commit(session, lambda: dispatch(ready))
    return _reloaded(session, filing)


def _reloaded(session: Session, filing: Filing) -> Filing:
    """`filing`, to be read again as the transitions left it: they wrote with Core statements."""
    session.expire_all()
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
    calendar: WorkingCalendar | None = None,
) -> Filing:
    """Record a 容缺 material as supplied, with the data it carries (only the fields the
    catalogue says it carries, validated as at intake); unblock its steps, crediting the
    working time they waited to the deadline (on `calendar`, the shipped one by default).
    Its event says what changed, with resident IDs and mobiles masked."""
    filing = get_filing(session, actor.scope, tracking_code, lock=True)
    require_branch_staff(actor)
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
    session.flush()  # the material's new status, before the steps are unblocked on it
    ready = transitions.unblock(
        session.connection(),
        filing.id,
        now=now,
        lease_until=lease_until,
        calendar=calendar or default_calendar(),
        actor=actor.name,
    )
    if ready:
        after_commit(session, lambda: dispatch(ready))
    return _reloaded(session, filing)


def hand_over(
    session: Session,
    *,
    actor: Actor,
    tracking_code: str,
    now: datetime,
    collector: dict[str, Any] | None = None,
) -> Filing:
    """Staff handed licence and seals to the client at the branch: the filing is complete.

    `collector` is who collected them, as `handover.checked_collector` records them (ID
    masked): kept in the step's result and its event."""
    filing = get_filing(session, actor.scope, tracking_code, lock=True)
    require_branch_staff(actor)
    delivery = _locked_step(session, filing, HANDOVER_STEP)
    if delivery.status != StepStatus.AT_BRANCH:
        raise Conflict(
            "证照和印章尚未到达网点，无法交付",
            "licence and seals are not waiting at the branch; nothing to hand over",
            step_status=delivery.status.value,
        )
    transitions.succeed(
        session.connection(),
        delivery.id,
        {"handed_over_by": actor.name, **({"collector": collector} if collector else {})},
        now=now,
        lease_until=now,
        actor=actor.name,
    )
    return _reloaded(session, filing)


def licence_of(session: Session, scope: Scope, tracking_code: str) -> tuple[str, Document]:
    """The filing's e-business licence as registration issued it, and its file name;
    NotFound if the scope may not see the filing or registration has not issued it."""
    filing = get_filing(session, scope, tracking_code)
    licence = documents.latest_of_filing(session, filing.id, documents.LICENCE)
    if licence is None:
        raise NotFound(
            "营业执照尚未签发（登记完成后可下载）",
            "the licence has not been issued yet (registration is not done)",
            tracking_code=tracking_code,
        )
    return f"licence-{filing.credit_code or tracking_code}.pdf", licence


def _locked_step(session: Session, filing: Filing, name: str) -> Step:
    step = session.scalars(
        select(Step)
        .where(Step.filing_id == filing.id, Step.name == name)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    return step


def require_branch_staff(actor: Actor) -> None:
    """Refuse a read-only account (Forbidden): only branch staff change a filing."""
    if not actor.scope.can_file:
        raise Forbidden("只读账户不能修改申请", "read-only accounts cannot change filings")
