"""Load what the database refers to: districts from the reference data, and the branches,
staff and officers a scenario names."""

from __future__ import annotations

from sqlalchemy.orm import Session

from orchestrator.identity.models import Role
from orchestrator.identity.service import ensure_branch, ensure_district, ensure_staff
from orchestrator.reference import load_reference
from orchestrator.scenarios import Scenario


def seed_reference(session: Session) -> None:
    """Insert every district of the reference data that the database lacks."""
    for district in load_reference().districts.values():
        ensure_district(session, district.code, district.name_zh)


def seed_people(session: Session, scenario: Scenario) -> dict[str, int]:
    """Create or update the scenario's branches, staff and officers; staff ids by username."""
    ids: dict[str, int] = {}
    for spec in scenario.branches:
        branch = ensure_branch(
            session,
            code=spec.code,
            name=spec.name,
            bank_code=spec.bank_code,
            district_code=spec.district_code,
        )
        for person in spec.staff:
            staff = ensure_staff(
                session,
                username=person.username,
                name=person.name,
                role=Role(person.role),
                district_code=spec.district_code,
                branch=branch,
            )
            ids[staff.username] = staff.id
    for officer in scenario.officers:
        staff = ensure_staff(
            session,
            username=officer.username,
            name=officer.name,
            role=Role.OFFICER,
            district_code=officer.district_code,
        )
        ids[staff.username] = staff.id
    return ids
