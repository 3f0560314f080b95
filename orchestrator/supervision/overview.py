"""Every supervision figure at once, for one set of filters: the dashboard's page and the
API's `/overview` read the same model."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy.orm import Session

from orchestrator.calendar import WorkingCalendar
from orchestrator.supervision.at_risk import AtRisk, at_risk
from orchestrator.supervision.figures import (
    Feedback,
    Filters,
    Grouping,
    Histogram,
    Period,
    Shares,
    Supplements,
    completion_histogram,
    feedback,
    shares,
    supplements_outstanding,
)
from orchestrator.supervision.subsidy_spend import SubsidySpend, subsidy_spend


class Overview(BaseModel):
    """Every figure of the dashboard for one set of filters."""

    period: Period
    histogram: Histogram
    shares_by_branch: Shares
    shares_by_step: Shares
    shares_by_agency: Shares
    shares_by_week: Shares
    at_risk: AtRisk
    supplements: Supplements
    subsidy_spend: SubsidySpend
    feedback: Feedback


def overview(
    session: Session, filters: Filters, *, now: datetime, calendar: WorkingCalendar
) -> Overview:
    """Every figure for `filters`."""
    return Overview(
        period=Period.of(filters),
        histogram=completion_histogram(session, filters),
        shares_by_branch=shares(session, filters, Grouping.BRANCH),
        shares_by_step=shares(session, filters, Grouping.STEP),
        shares_by_agency=shares(session, filters, Grouping.AGENCY),
        shares_by_week=shares(session, filters, Grouping.WEEK),
        at_risk=at_risk(session, filters, now=now, calendar=calendar),
        supplements=supplements_outstanding(session, filters, now=now),
        subsidy_spend=subsidy_spend(session, filters),
        feedback=feedback(session, filters),
    )
