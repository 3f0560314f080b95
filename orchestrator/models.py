"""Every mapped class, imported once so that `Base.metadata` is complete (Alembic, tests)."""

from orchestrator.calendar.schedules import ImportedSchedule
from orchestrator.db import Base
from orchestrator.filings.models import Document, Event, Filing, Material, Step
from orchestrator.identity.models import ApiToken, Branch, District, Staff

__all__ = [
    "ApiToken",
    "Base",
    "Branch",
    "District",
    "Document",
    "Event",
    "Filing",
    "ImportedSchedule",
    "Material",
    "Staff",
    "Step",
]
