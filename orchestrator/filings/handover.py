"""Who collected the licence and seals at the branch: checked in person, kept masked.

Branch staff check the collector's resident identity card at the counter and record their
name and ID number with the hand-over; the filing's history keeps the number masked (first
six and last four characters), enough to match the card again, never the whole number.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from orchestrator.errors import Invalid
from orchestrator.filings.fields import PersonName, ResidentId
from orchestrator.privacy import mask_id_number
from orchestrator.validation import FieldError, field_errors


class Collector(BaseModel):
    """The person who collects licence and seals, as staff typed them at the counter."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: PersonName
    id_number: ResidentId


def checked_collector(name: str, id_number: str, *, checked_in_person: bool) -> dict[str, Any]:
    """The collector as the hand-over records them (ID masked); Invalid naming each field
    at fault, the in-person check among them."""
    errors: list[dict[str, Any]] = []
    collector: Collector | None = None
    try:
        collector = Collector.model_validate({"name": name, "id_number": id_number})
    except ValidationError as exc:
        errors = [error.model_dump() for error in field_errors(exc)]
    if not checked_in_person:
        errors.append(
            FieldError(
                field="identity_checked",
                code="collector_not_checked",
                message_zh="请先当面核验领取人的身份证件",
                message_en="Check the collector's identity card in person first",
            ).model_dump()
        )
    if errors or collector is None:
        raise Invalid("领取人信息有误", "the collector's details are invalid", errors=errors)
    return {
        "name": collector.name,
        "id_number": mask_id_number(collector.id_number),
        "identity_checked_in_person": True,
    }
