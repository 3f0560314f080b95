"""Every mapped class, imported once so that `Base.metadata` is complete (Alembic, tests)."""

from orchestrator.calendar.schedules import ImportedSchedule
from orchestrator.db import Base
from orchestrator.feedback.models import FollowUp, Rating
from orchestrator.filings.drafts import Draft, Upload
from orchestrator.filings.models import Document, Event, Filing, Material, Step
from orchestrator.filings.supplements import PendingSupplement
from orchestrator.filings.tracking import TrackingSession
from orchestrator.identity.models import ApiToken, Branch, District, Staff, StaffSession
from orchestrator.identity.one_time_codes import OneTimeCode
from orchestrator.notifications.inbox import StaffNotice
from orchestrator.notifications.models import OutboxMessage
from orchestrator.subsidies.models import SubsidyEntry, SubsidyPeriod
from orchestrator.supervision.models import SupervisionDay, SupervisionHours, SupervisionRatings
from orchestrator.tracker.models import Prediction, StepDuration, TrackerCursor

__all__ = [
    "ApiToken",
    "Base",
    "Branch",
    "District",
    "Document",
    "Draft",
    "Event",
    "Filing",
    "FollowUp",
    "ImportedSchedule",
    "Material",
    "OneTimeCode",
    "OutboxMessage",
    "PendingSupplement",
    "Prediction",
    "Rating",
    "Staff",
    "StaffNotice",
    "StaffSession",
    "Step",
    "StepDuration",
    "SubsidyEntry",
    "SubsidyPeriod",
    "SupervisionDay",
    "SupervisionHours",
    "SupervisionRatings",
    "TrackerCursor",
    "TrackingSession",
    "Upload",
]
