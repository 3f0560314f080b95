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

from orchestrator.api.deps import CallerDep, RuntimeDep
from orchestrator.api.responses import csv_response, error_responses
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


@dataclass(frozen=True)
class _Asked:
    """The filters a request asks for, before they are checked against the caller."""

    district_code: str | None
    branch_id: int | None
    start: date | None
    end: date | None


def _asked(
    district_code: DistrictCode = None,
    branch_id: BranchId = None,
    start: From = None,
    to: To = None,
) -> _Asked:
    return _Asked(district_code, branch_id, start, to)


Asked = Annotated[_Asked, Depends(_asked)]

_CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}

FigureT = TypeVar("FigureT", bound=BaseModel)


def _figure(
    rt: RuntimeDep,
    caller: CallerDep,
    compute: Callable[[Session, Filters], FigureT],
    asked: _Asked,
) -> FigureT:
    """`compute` for the filters asked, checked against what the caller may see."""
    with rt.database.reading() as session:
        filters = figures.filters_for(
            session,
            caller.scope,
            district_code=asked.district_code,
            branch_id=asked.branch_id,
            start=asked.start,
            end=asked.end,
            today=rt.clock.now().date(),
        )
        return compute(session, filters)


def _answer(figure: Table, fmt: str, name: str) -> BaseModel | Response:
    if fmt == "json":
        return figure
    header, rows = figure.csv()
    return csv_response(header, rows, f"{name}.csv")


@router.get(
    "/overview", response_model=Overview, summary="Every supervision figure for the filters"
)
def overview_figures(
    rt: RuntimeDep,
    caller: CallerDep,
    asked: Asked,
) -> Overview:
    """The dashboard's figures at once: histogram, shares, at risk and breached, 容缺
    outstanding, subsidy spend, 好差评."""
    now = rt.clock.now()
    return _figure(
        rt,
        caller,
        lambda session, filters: overview(session, filters, now=now, calendar=rt.calendar),
        asked,
    )


@router.get(
    "/completion-time",
    response_model=Histogram,
    responses=_CSV,
    summary="Histogram of working hours from acceptance to ready",
)
def completion_time(
    rt: RuntimeDep,
    caller: CallerDep,
    asked: Asked,
    format: Format = "json",
) -> BaseModel | Response:
    """Filings ready in the period, by whole working hours (the last bucket open-ended)."""
    figure = _figure(rt, caller, figures.completion_histogram, asked)
    return _answer(figure, format, "completion-time")


@router.get(
    "/shares",
    response_model=Shares,
    responses=_CSV,
    summary="Shares within 0.5 / 1 / 3 working days by branch, step, agency or week",
)
def shares(
    rt: RuntimeDep,
    caller: CallerDep,
    by: Annotated[Grouping, Query(description="What to break the shares down by")],
    asked: Asked,
    format: Format = "json",
) -> BaseModel | Response:
    """Filings (acceptance to ready) by branch or ISO week; steps (start to finish) by step
    or agency."""
    figure = _figure(
        rt, caller, lambda session, filters: figures.shares(session, filters, by), asked
    )
    return _answer(figure, format, f"shares-by-{by.value}")


@router.get(
    "/at-risk",
    response_model=AtRisk,
    responses=_CSV,
    summary="Open filings at risk and past their deadline, with the step holding them back",
)
def at_risk_filings(
    rt: RuntimeDep,
    caller: CallerDep,
    asked: Asked,
    format: Format = "json",
) -> BaseModel | Response:
    """The state now (the period is not used): counts by state and cause, and the most late
    filings, each with the unfinished step that has run longest and its agency."""
    now = rt.clock.now()
    figure = _figure(
        rt,
        caller,
        lambda session, filters: at_risk(session, filters, now=now, calendar=rt.calendar),
        asked,
    )
    return _answer(figure, format, "at-risk")


@router.get(
    "/subsidy-spend",
    response_model=SubsidySpend,
    responses=_CSV,
    summary="Free seals and courier: the months' reservations and settlements against budget",
)
def subsidy_spend_figures(
    rt: RuntimeDep,
    caller: CallerDep,
    asked: Asked,
    format: Format = "json",
) -> BaseModel | Response:
    """The district's months from the period's first to its last, in fen."""
    figure = _figure(rt, caller, subsidy_spend, asked)
    return _answer(figure, format, "subsidy-spend")


@router.get(
    "/supplements",
    response_model=Supplements,
    responses=_CSV,
    summary="容缺 materials still missing, by material and branch",
)
def supplements(
    rt: RuntimeDep,
    caller: CallerDep,
    asked: Asked,
    format: Format = "json",
) -> BaseModel | Response:
    """Missing now, and past their due date, on filings not cancelled."""
    now = rt.clock.now()
    figure = _figure(
        rt,
        caller,
        lambda session, filters: figures.supplements_outstanding(session, filters, now=now),
        asked,
    )
    return _answer(figure, format, "supplements")


@router.get(
    "/feedback",
    response_model=Feedback,
    responses=_CSV,
    summary="好差评: good rate of the period's ratings, open follow-ups",
)
def feedback(
    rt: RuntimeDep,
    caller: CallerDep,
    asked: Asked,
    format: Format = "json",
) -> BaseModel | Response:
    """Ratings given in the period and how many were good; follow-ups not yet answered."""
    figure = _figure(rt, caller, figures.feedback, asked)
    return _answer(figure, format, "feedback")
