"""The supervision figures as JSON, and as CSV (/api/v1/supervision): officers of market
supervision see their district's, administrators any district's; nobody else any."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from orchestrator.api.deps import Caller, CallerDep, RuntimeDep
from orchestrator.api.responses import csv_response, error_responses
from orchestrator.runtime import Runtime
from orchestrator.supervision import figures
from orchestrator.supervision.at_risk import AtRisk, at_risk
from orchestrator.supervision.figures import (
    Feedback,
    Filters,
    Grouping,
    Histogram,
    Shares,
    Supplements,
    Table,
)
from orchestrator.supervision.overview import Overview, overview
from orchestrator.supervision.subsidy_spend import SubsidySpend, subsidy_spend

router = APIRouter(
    prefix="/supervision",
    tags=["supervision"],
    responses=error_responses(
        401,
        described={
            403: "Not a supervision officer (or administrator), or another district asked",
            422: "A filter is invalid: an unknown district or branch, a period backwards or "
            "longer than 366 days",
        },
    ),
)

DistrictCode = Annotated[
    str | None,
    Query(
        pattern=r"^[0-9]{6}$",
        description="District (GB/T 2260); an officer's own by default, and only theirs",
    ),
]
BranchId = Annotated[int | None, Query(ge=1, le=2**31 - 1, description="One branch only")]
From = Annotated[
    date | None,
    Query(alias="from", description="First China day counted (default: 29 days before `to`)"),
]
To = Annotated[date | None, Query(description="Last China day counted (default: today)")]
Format = Annotated[
    Literal["json", "csv"], Query(description="`csv`: the same figures as a CSV table")
]


FigureT = TypeVar("FigureT", bound=BaseModel)


@dataclass(frozen=True)
class _Asked:
    """A request for figures: the filters it asks for, not yet checked against the caller
    (who asks, and the runtime that computes them)."""

    rt: Runtime
    caller: Caller
    district_code: str | None
    branch_id: int | None
    start: date | None
    end: date | None

    def figure(self, compute: Callable[[Session, Filters], FigureT]) -> FigureT:
        """`compute` for the filters asked, checked against what the caller may see."""
        with self.rt.database.reading() as session:
            filters = figures.filters_for(
                session,
                self.caller.scope,
                district_code=self.district_code,
                branch_id=self.branch_id,
                start=self.start,
                end=self.end,
                today=self.rt.clock.now().date(),
            )
            return compute(session, filters)

    def answer(
        self, compute: Callable[[Session, Filters], Table], fmt: str, name: str
    ) -> BaseModel | Response:
        """The figure `compute` gives, as JSON, or as the CSV file `name`.csv."""
        figure = self.figure(compute)
        if fmt == "json":
            return figure
        header, rows = figure.csv()
        return csv_response(header, rows, f"{name}.csv")


def _asked(
    rt: RuntimeDep,
    caller: CallerDep,
    district_code: DistrictCode = None,
    branch_id: BranchId = None,
    start: From = None,
    to: To = None,
) -> _Asked:
    return _Asked(rt, caller, district_code, branch_id, start, to)


Asked = Annotated[_Asked, Depends(_asked)]

_CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}


@router.get(
    "/overview", response_model=Overview, summary="Every supervision figure for the filters"
)
def overview_figures(asked: Asked) -> Overview:
    """The dashboard's figures at once: histogram, shares, at risk and breached, 容缺
    outstanding, subsidy spend, 好差评."""
    rt = asked.rt
    now = rt.clock.now()
    return asked.figure(
        lambda session, filters: overview(session, filters, now=now, calendar=rt.calendar)
    )


@router.get(
    "/completion-time",
    response_model=Histogram,
    responses=_CSV,
    summary="Histogram of working hours from acceptance to ready",
)
def completion_time(
    asked: Asked,
    format: Format = "json",
) -> BaseModel | Response:
    """Filings ready in the period, by whole working hours (the last bucket open-ended)."""
    return asked.answer(figures.completion_histogram, format, "completion-time")


@router.get(
    "/shares",
    response_model=Shares,
    responses=_CSV,
    summary="Shares within 0.5 / 1 / 3 working days by branch, step, agency or week",
)
def shares(
    by: Annotated[Grouping, Query(description="What to break the shares down by")],
    asked: Asked,
    format: Format = "json",
) -> BaseModel | Response:
    """Filings (acceptance to ready) by branch or ISO week; steps (start to finish) by step
    or agency."""
    return asked.answer(
        lambda session, filters: figures.shares(session, filters, by),
        format,
        f"shares-by-{by.value}",
    )


@router.get(
    "/at-risk",
    response_model=AtRisk,
    responses=_CSV,
    summary="Open filings at risk and past their deadline, with the step holding them back",
)
def at_risk_filings(
    asked: Asked,
    format: Format = "json",
) -> BaseModel | Response:
    """The state now (the period is not used): counts by state and cause, and the most late
    filings, each with the unfinished step that has run longest and its agency."""
    rt = asked.rt
    now = rt.clock.now()
    return asked.answer(
        lambda session, filters: at_risk(session, filters, now=now, calendar=rt.calendar),
        format,
        "at-risk",
    )


@router.get(
    "/subsidy-spend",
    response_model=SubsidySpend,
    responses=_CSV,
    summary="Free seals and courier: the months' reservations and settlements against budget",
)
def subsidy_spend_figures(
    asked: Asked,
    format: Format = "json",
) -> BaseModel | Response:
    """The district's months from the period's first to its last, in fen."""
    return asked.answer(subsidy_spend, format, "subsidy-spend")


@router.get(
    "/supplements",
    response_model=Supplements,
    responses=_CSV,
    summary="容缺 materials still missing, by material and branch",
)
def supplements(
    asked: Asked,
    format: Format = "json",
) -> BaseModel | Response:
    """Missing now, and past their due date, on filings not cancelled."""
    now = asked.rt.clock.now()
    return asked.answer(
        lambda session, filters: figures.supplements_outstanding(session, filters, now=now),
        format,
        "supplements",
    )


@router.get(
    "/feedback",
    response_model=Feedback,
    responses=_CSV,
    summary="好差评: good rate of the period's ratings, open follow-ups",
)
def feedback(
    asked: Asked,
    format: Format = "json",
) -> BaseModel | Response:
    """Ratings given in the period and how many were good; follow-ups not yet answered."""
    return asked.answer(figures.feedback, format, "feedback")
