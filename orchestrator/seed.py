"""Load the reference data the database refers to (districts) from the versioned files."""

from __future__ import annotations

from sqlalchemy.orm import Session

from orchestrator.identity.service import ensure_district
from orchestrator.reference import load_reference


def seed_reference(session: Session) -> None:
    """Insert every district of the reference data that the database lacks."""
    for district in load_reference().districts.values():
        ensure_district(session, district.code, district.name_zh)
