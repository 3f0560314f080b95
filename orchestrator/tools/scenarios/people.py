"""The people of a scenario: branches and their staff, and market-supervision officers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator

from orchestrator.filings.schemas import check_partner_bank
from orchestrator.reference import reference_from
from orchestrator.tools.scenarios.base import ScenarioModel
from orchestrator.validation import fail

StaffRole = Literal["clerk", "branch_manager"]

Username = Annotated[str, Field(pattern=r"^[a-z][a-z0-9._-]{1,59}$")]
_Name = Annotated[str, Field(min_length=1, max_length=60)]


class BranchStaff(ScenarioModel):
    """A member of a branch's staff."""

    username: Username
    name: _Name
    role: StaffRole = "clerk"


def _known_district(value: str, info: ValidationInfo) -> str:
    if value not in reference_from(info).districts:
        raise fail("district_unknown", code=value)
    return value


class Branch(ScenarioModel):
    """A partner bank branch taking filings (银行网点代办)."""

    code: Annotated[str, Field(pattern=r"^[0-9A-Za-z-]{1,32}$")]
    name: Annotated[str, Field(min_length=1, max_length=100)]
    district_code: str
    bank_code: str
    staff: tuple[BranchStaff, ...] = Field(min_length=1)

    @field_validator("district_code")
    @classmethod
    def _district_known(cls, value: str, info: ValidationInfo) -> str:
        return _known_district(value, info)

    @field_validator("bank_code")
    @classmethod
    def _partner_bank(cls, value: str, info: ValidationInfo) -> str:
        reference = reference_from(info)
        district = reference.districts.get(info.data.get("district_code", ""))
        return check_partner_bank(value, district, reference)

    @property
    def usernames(self) -> tuple[str, ...]:
        """Everyone on the branch's staff."""
        return tuple(member.username for member in self.staff)

    @property
    def clerks(self) -> tuple[str, ...]:
        """Who files at this branch: its clerks, or its whole staff if it has none."""
        return tuple(m.username for m in self.staff if m.role == "clerk") or self.usernames


class Officer(ScenarioModel):
    """A market-supervision officer watching a district."""

    username: Username
    name: _Name
    district_code: str

    @field_validator("district_code")
    @classmethod
    def _district_known(cls, value: str, info: ValidationInfo) -> str:
        return _known_district(value, info)
