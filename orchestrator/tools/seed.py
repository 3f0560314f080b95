"""Load what the database refers to: districts from the reference data, and the branches,
staff and officers a scenario names."""

from __future__ import annotations

from sqlalchemy.orm import Session

from orchestrator.identity.models import Branch, Role
from orchestrator.identity.service import ensure_branch, ensure_district, ensure_staff
from orchestrator.reference import load_reference
from orchestrator.tools.scenarios import Scenario
from orchestrator.tools.scenarios.people import BranchStaff, Officer


def seed_reference(session: Session) -> None:
    """Insert every district of the reference data that the database lacks."""
    for district in load_reference().districts.values():
        ensure_district(session, district.code, district.name_zh)


def seed_people(session: Session, scenario: Scenario) -> dict[str, int]:
    """Create or update the scenario's branches, staff and officers; staff ids by username."""
    people: list[tuple[BranchStaff | Officer, Role, str, Branch | None]] = []
    for spec in scenario.branches:
        branch = ensure_branch(
            session,
            code=spec.code,
            name=spec.name,
            bank_code=spec.bank_code,
            district_code=spec.district_code,
        )
        people += [(person, Role(person.role), spec.district_code, branch) for person in spec.staff]
    people += [(o, Role.OFFICER, o.district_code, None) for o in scenario.officers]
    ids: dict[str, int] = {}
    for person, role, district_code, at in people:
        staff = ensure_staff(
            session,
            username=person.username,
            name=person.name,
            role=role,
            district_code=district_code,
            branch=at,
        )
        ids[staff.username] = staff.id
    return ids
