"""What the API shows of a filing: response models, with personal data masked by role."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from orchestrator.calendar import WorkingCalendar
from orchestrator.filings.models import Event, Filing, Material, Step
from orchestrator.privacy import mask_id_number, mask_mobile, masked
from orchestrator.workflow import by_name


class StepView(BaseModel):
    name: str
    label_zh: str
    label_en: str
    status: str
    attempts: int
    started_at: datetime | None
    finished_at: datetime | None
    next_check_at: datetime | None
    result: dict[str, Any] | None
    reason: str | None
    last_error: str | None


class MaterialView(BaseModel):
    code: str
    status: str
    blocks: list[str]
    due_at: datetime | None
    due_provisional: bool = Field(
        description="The due date reaches into a year whose official holiday schedule is not "
        "published yet: counted on weekends and statutory holidays, it may still move."
    )
    supplied_at: datetime | None
    reminded_at: datetime | None = Field(
        description="When the applicant was texted that it falls due within a working day."
    )
    overdue_at: datetime | None = Field(
        description="When its due date was found passed and the filing flagged to its branch."
    )


class EventView(BaseModel):
    at: datetime
    actor: str
    kind: str
    step: str | None
    detail: dict[str, Any]


class FilingSummary(BaseModel):
    tracking_code: str
    company_name: str
    status: str
    district_code: str
    branch_id: int
    credit_code: str | None
    accepted_at: datetime
    deadline_at: datetime
    deadline_provisional: bool = Field(
        description="The committed deadline reaches into a year whose official holiday schedule "
        "is not published yet: counted on weekends and statutory holidays, it may still move."
    )
    ready_at: datetime | None
    completed_at: datetime | None
    working_days_to_ready: float | None
    steps_done: int
    steps_total: int


class FilingDetail(FilingSummary):
    steps: list[StepView]
    materials: list[MaterialView]
    events: list[EventView]
    application: dict[str, Any]


class FilingPage(BaseModel):
    items: list[FilingSummary]
    total: int
    page: int
    page_size: int


def summary(filing: Filing, calendar: WorkingCalendar) -> FilingSummary:
    """The list-row view of a filing."""
    return FilingSummary(**_summary_fields(filing, calendar))


def _summary_fields(filing: Filing, calendar: WorkingCalendar) -> dict[str, Any]:
    ready_days = (
        calendar.elapsed_days(filing.accepted_at, filing.ready_at) if filing.ready_at else None
    )
    return {
        "tracking_code": filing.tracking_code,
        "company_name": filing.company_name,
        "status": filing.status.value,
        "district_code": filing.district_code,
        "branch_id": filing.branch_id,
        "credit_code": filing.credit_code,
        "accepted_at": filing.accepted_at,
        "deadline_at": filing.deadline_at,
        "deadline_provisional": calendar.touches_provisional(
            filing.accepted_at, filing.deadline_at
        ),
        "ready_at": filing.ready_at,
        "completed_at": filing.completed_at,
        "working_days_to_ready": ready_days,
        "steps_done": sum(1 for s in filing.steps if s.status == "done"),
        "steps_total": len(filing.steps),
    }


def detail(
    filing: Filing, events: list[Event], calendar: WorkingCalendar, *, reveal_personal_data: bool
) -> FilingDetail:
    """The full view of a filing; personal data unmasked only for its own branch's staff."""
    view = FilingDetail(
        **_summary_fields(filing, calendar),
        steps=[_step(s) for s in filing.steps],
        materials=[_material(m, filing, calendar) for m in filing.materials],
        events=[
            EventView(at=e.at, actor=e.actor, kind=e.kind, step=e.step, detail=e.detail)
            for e in events
        ],
        application=filing.payload,
    )
    if reveal_personal_data:
        return view
    # Agencies word their own reasons, errors and results, and may quote a person's numbers.
    numbers = _personal_numbers(filing.payload)
    return FilingDetail.model_validate(_scrubbed(masked(view.model_dump()), numbers))


def _personal_numbers(payload: Any) -> dict[str, str]:
    """Every resident ID and mobile number in an application, with its masked form."""
    found: dict[str, str] = {}
    if isinstance(payload, dict):
        for key, item in payload.items():
            if key == "id_number" and isinstance(item, str) and item:
                found[item] = mask_id_number(item)
            elif key == "mobile" and isinstance(item, str) and item:
                found[item] = mask_mobile(item)
            else:
                found |= _personal_numbers(item)
    elif isinstance(payload, list):
        for item in payload:
            found |= _personal_numbers(item)
    return found


def _scrubbed(value: Any, numbers: dict[str, str]) -> Any:
    """`value` with each of `numbers` masked wherever it appears inside a string."""
    if isinstance(value, str):
        for number, mask in numbers.items():
            value = value.replace(number, mask)
        return value
    if isinstance(value, dict):
        return {key: _scrubbed(item, numbers) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrubbed(item, numbers) for item in value]
    return value


def _step(step: Step) -> StepView:
    spec = by_name()[step.name]
    return StepView(
        name=step.name,
        label_zh=spec.label_zh,
        label_en=spec.label_en,
        status=step.status.value,
        attempts=step.attempts,
        started_at=step.started_at,
        finished_at=step.finished_at,
        next_check_at=step.next_check_at,
        result=step.result,
        reason=step.reason,
        last_error=step.last_error,
    )


def _material(material: Material, filing: Filing, calendar: WorkingCalendar) -> MaterialView:
    due = material.due_at
    return MaterialView(
        code=material.code,
        status=material.status.value,
        blocks=material.blocks,
        due_at=due,
        due_provisional=due is not None and calendar.touches_provisional(filing.accepted_at, due),
        supplied_at=material.supplied_at,
        reminded_at=material.reminded_at,
        overdue_at=material.overdue_at,
    )
