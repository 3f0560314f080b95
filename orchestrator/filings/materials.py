"""The materials checklist of a filing: what is provided, what is missing and essential,
and what may be supplemented later (容缺), against the materials catalogue."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from orchestrator.reference import ReferenceData, Step

if TYPE_CHECKING:
    from orchestrator.filings.schemas import FilingInput


class _Output(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MaterialRef(_Output):
    """A catalogue material, named for the clerk."""

    code: str
    name_zh: str
    name_en: str


class SupplementItem(MaterialRef):
    """A missing may-be-supplemented material (容缺): what it blocks and by when to supply it."""

    blocks: tuple[Step, ...]
    deadline_working_days: int


class MaterialAssessment(_Output):
    """Essential materials missing (the filing is refused) and those to supplement (容缺)."""

    missing_essential: tuple[MaterialRef, ...] = ()
    to_supplement: tuple[SupplementItem, ...] = ()

    @property
    def acceptable(self) -> bool:
        """Whether the filing can be accepted (no essential material missing)."""
        return not self.missing_essential

    @property
    def blocked_steps(self) -> frozenset[Step]:
        """Steps that wait for a supplement."""
        return frozenset(step for item in self.to_supplement for step in item.blocks)


def assess_material_codes(provided: Iterable[str], reference: ReferenceData) -> MaterialAssessment:
    """What is missing from the catalogue, given the codes of the materials provided."""
    have = set(provided)
    missing: list[MaterialRef] = []
    supplement: list[SupplementItem] = []
    for material in reference.materials.values():
        if material.code in have or material.generated:
            continue
        if material.kind == "essential":
            missing.append(
                MaterialRef(code=material.code, name_zh=material.name_zh, name_en=material.name_en)
            )
        else:
            supplement.append(
                SupplementItem(
                    code=material.code,
                    name_zh=material.name_zh,
                    name_en=material.name_en,
                    blocks=material.needed_by,
                    deadline_working_days=material.supplement_deadline_working_days or 0,
                )
            )
    return MaterialAssessment(missing_essential=tuple(missing), to_supplement=tuple(supplement))


def assess_materials(filing: FilingInput, reference: ReferenceData) -> MaterialAssessment:
    """The filing's missing essential and may-be-supplemented (容缺) materials."""
    return assess_material_codes(filing.materials, reference)
