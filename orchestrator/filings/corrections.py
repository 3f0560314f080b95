"""Correcting what an agency refused, and sending the step again.

An agency's refusal names the fields it concerns (`RejectedError.fields`, recorded on the
step's `rejected` event as fields of the filing). Branch staff may change those fields,
unless a finished step has already used one (its request was built from it: see
`field_use`), validated as at intake; the changes are recorded in the filing's history
(resident IDs and mobiles masked), and the filing's rejected steps run again under a new
attempt through the resubmit transition. The agency keeps the step's idempotency key free
after a refusal, so the corrected request is acted on once.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from orchestrator.errors import Conflict, Forbidden, Invalid
from orchestrator.filings import service
from orchestrator.filings.acceptance import AcceptedFiling
from orchestrator.filings.field_use import used_by
from orchestrator.filings.history import record
from orchestrator.filings.models import Event, Filing, FilingStatus, StepStatus
from orchestrator.privacy import mask_id_number, mask_mobile
from orchestrator.validation import FieldError, field_errors


@dataclass(frozen=True)
class Refusal:
    """A rejected step of a filing: the agency's code and words, and what it concerns."""

    step: str
    code: str
    message: str
    fields: tuple[str, ...]  # of the filing, as the refusal named them
    locked: Mapping[str, str]  # those a finished step has used, with that step

    @property
    def editable(self) -> tuple[str, ...]:
        """The fields staff may correct: those the refusal concerns that nothing used yet."""
        return tuple(path for path in self.fields if path not in self.locked)


def refusals(filing: Filing, events: list[Event]) -> list[Refusal]:
    """The filing's rejected steps, each with its latest refusal (none unless it needs action)."""
    rejected = [s.name for s in filing.steps if s.status == StepStatus.REJECTED]
    if not rejected:
        return []
    latest = {e.step: e for e in events if e.kind == "rejected" and e.step in rejected}
    finished = [s.name for s in filing.steps if s.status == StepStatus.DONE]
    used = used_by(finished, AcceptedFiling.model_validate(filing.payload))
    found = []
    for name in rejected:
        event = latest.get(name)
        detail = event.detail if event is not None else {}
        fields = tuple(str(path) for path in detail.get("fields", []))
        found.append(
            Refusal(
                step=name,
                code=str(detail.get("code", "")),
                message=str(detail.get("message", "")),
                fields=fields,
                locked={path: used[path] for path in fields if path in used},
            )
        )
    return found


def value_at(payload: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path of a stored filing (list indexes as digits); None if none."""
    value: Any = payload
    for segment in path.split("."):
        if isinstance(value, list) and segment.isdigit() and int(segment) < len(value):
            value = value[int(segment)]
        elif isinstance(value, dict) and segment in value:
            value = value[segment]
        else:
            return None
    return value


def _patched(payload: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of `payload` with each path of `changes` set (each path exists)."""
    patched: Any = copy.deepcopy(payload)
    for path, value in changes.items():
        *parents, last = path.split(".")
        target = patched
        for segment in parents:
            target = target[int(segment)] if isinstance(target, list) else target[segment]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
    assert isinstance(patched, dict)
    return patched


def masked_value(path: str, value: Any) -> Any:
    """`value` as the history keeps it: a resident ID or mobile number at `path` masked."""
    last = path.rsplit(".", 1)[-1]
    if isinstance(value, str) and last == "id_number":
        return mask_id_number(value)
    if isinstance(value, str) and last == "mobile":
        return mask_mobile(value)
    return value


def _not_correctable(path: str) -> FieldError:
    return FieldError(
        field=path,
        code="not_correctable",
        message_zh="此项不在驳回所涉内容之内，或已被办结的事项使用，不能在此修改",
        message_en="This field is not one the refusal concerns, or a finished step has "
        "used it: it cannot be corrected here",
    )


def correct_and_resubmit(
    session: Session,
    *,
    actor: service.Actor,
    tracking_code: str,
    step: str,
    changes: Mapping[str, Any],
    now: datetime,
    lease_until: datetime,
) -> Filing:
    """Set the fields `changes` names (paths of the filing) on a filing whose `step` an agency
    refused, validated as at intake, then send its rejected steps again.

    Only fields the refusal concerns and no finished step has used may change (Invalid
    naming each other one); the filing must need action and `step` be rejected (Conflict).
    """
    filing = service.get_filing(session, actor.scope, tracking_code, lock=True)
    if not actor.scope.can_file:
        raise Forbidden("只读账户不能修改申请", "read-only accounts cannot change filings")
    refusal = next(
        (r for r in refusals(filing, service.events_of(session, filing)) if r.step == step), None
    )
    if filing.status != FilingStatus.ACTION_REQUIRED or refusal is None:
        raise Conflict(
            "该事项没有被驳回，无需更正",
            "this step was not rejected; there is nothing to correct",
            filing_status=filing.status.value,
            step=step,
        )
    if wrong := [path for path in changes if path not in refusal.editable]:
        errors = [_not_correctable(path).model_dump() for path in wrong]
        raise Invalid("更正内容有误", "the correction is invalid", errors=errors)
    patched = _patched(filing.payload, changes)
    try:
        corrected = AcceptedFiling.model_validate(patched)
    except ValidationError as exc:
        errors = [error.model_dump() for error in field_errors(exc)]
        raise Invalid("更正内容有误", "the correction is invalid", errors=errors) from None
    stored = corrected.model_dump(mode="json")
    changed = {
        path: {
            "before": masked_value(path, value_at(filing.payload, path)),
            "after": masked_value(path, value_at(stored, path)),
        }
        for path in changes
        if value_at(filing.payload, path) != value_at(stored, path)
    }
    filing.payload = stored
    filing.company_name = corrected.company_name.full
    record(session, filing.id, "corrected", at=now, actor=actor.name, step=step, changed=changed)
    session.flush()  # the corrected filing, before its steps are sent again
    return service.resubmit_filing(
        session, actor=actor, tracking_code=tracking_code, now=now, lease_until=lease_until
    )
