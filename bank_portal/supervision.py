"""The supervision dashboard (/portal/supervision; /supervision leads there): the figures of
`orchestrator.supervision` for a market-supervision officer's district, filtered by branch
and period, with charts, CSV exports and the monthly subsidy reimbursement to approve.

Read-only but for that approval. Officers see their own district; administrators choose
one (or every district); branch staff are shown that the page is not for their role. The
figures are those of the JSON API (`/api/v1/supervision/...`), computed by the same code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from functools import partial
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from bank_portal import auth
from bank_portal.follow_ups import FOLLOW_UP_STATUS
from bank_portal.i18n import DEFAULT_LANGUAGE, N_, said_in
from bank_portal.pages import Elsewhere, base, see_other
from bank_portal.routes import check_csrf, not_found, page, supervises
from bank_portal.sessions import CsrfToken
from bank_portal.sla import SLA_STATE
from orchestrator import runtime
from orchestrator.api.responses import CSV, csv_response, file_response
from orchestrator.errors import DomainError, Invalid
from orchestrator.feedback.service import BAD_SCORE
from orchestrator.identity.models import Branch, District, Staff
from orchestrator.identity.sessions import SignedIn
from orchestrator.reference import load_reference
from orchestrator.subsidies import reimbursement
from orchestrator.subsidies.ledger import period_of
from orchestrator.supervision.at_risk import at_risk
from orchestrator.supervision.figures import (
    Filters,
    Grouping,
    Table,
    completion_histogram,
    feedback,
    filters_for,
    shares,
    supplements_outstanding,
)
from orchestrator.supervision.overview import Overview, overview
from orchestrator.supervision.subsidy_spend import subsidy_spend

router = APIRouter()

MONTH = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")
# The filters an approval came back with: a query string of the dashboard's own fields.
FILTER_QUERY = re.compile(r"^(?:(?:district|branch|from|to)=[0-9-]*&?)*$")


def _exports() -> dict[str, Callable[[Session, Filters], Table]]:
    """Each CSV the dashboard offers, by the name in its address."""
    rt = runtime.current()
    now = rt.clock.now()
    exports: dict[str, Callable[[Session, Filters], Table]] = {
        "completion-time": completion_histogram,
        "at-risk": lambda s, f: at_risk(s, f, now=now, calendar=rt.calendar),
        "supplements": lambda s, f: supplements_outstanding(s, f, now=now),
        "subsidy-spend": subsidy_spend,
        "feedback": feedback,
    }
    for grouping in Grouping:
        exports[f"shares-by-{grouping.value}"] = partial(_shares_by, grouping)
    return exports


def _shares_by(grouping: Grouping, session: Session, filters: Filters) -> Table:
    return shares(session, filters, grouping)


def _officer(visit: auth.Visit, request: Request) -> SignedIn:
    """Who signed in, if they supervise a district (or administer); else `Elsewhere`: the
    sign-in form, or the page that says the role may not."""
    if visit.staff is None:
        raise Elsewhere(see_other(f"{base(request)}/login"))
    if not supervises(visit.staff):
        raise Elsewhere(page(visit, request, "portal/role.html", status_code=403))
    return visit.staff


def _asked(
    district: Annotated[str, Query(max_length=20)] = "",
    branch: Annotated[str, Query(max_length=20)] = "",
    start: Annotated[str, Query(alias="from", max_length=20)] = "",
    end: Annotated[str, Query(alias="to", max_length=20)] = "",
) -> dict[str, str]:
    """The filters as the dashboard's form sends them (text), by its fields' names."""
    return {"district": district, "branch": branch, "from": start, "to": end}


Asked = Annotated[dict[str, str], Depends(_asked)]


def _filters(session: Session, staff: SignedIn, asked: Mapping[str, str]) -> Filters:
    """The filters as the form sent them (text), checked as the API checks its own."""
    try:
        branch_id = int(asked["branch"]) if asked["branch"] else None
        first = date.fromisoformat(asked["from"]) if asked["from"] else None
        last = date.fromisoformat(asked["to"]) if asked["to"] else None
    except ValueError as exc:
        raise _not_understood() from exc
    return filters_for(
        session,
        staff.scope,
        district_code=asked["district"] or None,
        branch_id=branch_id,
        start=first,
        end=last,
        today=runtime.current().clock.now().date(),
    )


def _not_understood() -> DomainError:
    return Invalid(
        "筛选条件无法识别", "a filter is not understood (a branch, or a date YYYY-MM-DD)"
    )


def _choices(session: Session, staff: SignedIn, district: str | None) -> dict[str, Any]:
    """The districts (administrators only) and branches the filters offer."""
    districts = (
        session.execute(select(District.code, District.name).order_by(District.code)).all()
        if staff.scope.everything
        else []
    )
    branches = (
        session.execute(
            select(Branch.id, Branch.name)
            .where(Branch.district_code == district)
            .order_by(Branch.name)
        ).all()
        if district
        else []
    )
    return {"districts": districts, "branches": branches}


def _charts(figures: Overview, language: str) -> dict[str, Any]:
    """What the page's script draws: plain numbers and labels, in the page's language."""
    zh = language == "zh_Hans"
    histogram = figures.histogram.buckets
    weeks = figures.shares_by_week.rows
    return {
        "histogram": {
            "labels": [f"{b.hours}+" if b.open_ended else str(b.hours) for b in histogram],
            "counts": [b.count for b in histogram],
        },
        "weeks": {
            "labels": [row.key for row in weeks],
            "half": [_percent(row.share_half_day) for row in weeks],
            "one": [_percent(row.share_one_day) for row in weeks],
            "three": [_percent(row.share_three_days) for row in weeks],
        },
        "steps": {
            "labels": [row.label_zh if zh else row.label_en for row in figures.shares_by_step.rows],
            "hours": [row.mean_working_hours or 0 for row in figures.shares_by_step.rows],
        },
    }


def _totals(figures: Overview) -> dict[str, float | int | None]:
    """The period's filings over every branch: how many were ready, the shares within."""
    rows = figures.shares_by_branch.rows
    count = sum(row.count for row in rows)

    def share(within: int) -> float | None:
        return round(within * 100 / count, 1) if count else None

    return {
        "count": count,
        "half": share(sum(row.within_half_day for row in rows)),
        "one": share(sum(row.within_one_day for row in rows)),
        "three": share(sum(row.within_three_days for row in rows)),
    }


def _percent(share: float | None) -> float | None:
    return None if share is None else round(share * 100, 1)


@router.get("/supervision", name="supervision")
def dashboard(
    request: Request, asked: Asked, approved: Annotated[str, Query(max_length=20)] = ""
) -> Response:
    """The district's figures for the filters (30 days up to today by default)."""
    visit = auth.visit(request)
    staff = _officer(visit, request)
    rt = runtime.current()
    with rt.database.reading() as session:
        try:
            filters = _filters(session, staff, asked)
        except DomainError as refused:
            district = staff.scope.district_code or asked["district"] or None
            choices = _choices(session, staff, district)
            return page(
                visit,
                request,
                "portal/supervision.html",
                status_code=refused.status_code,
                refused=_in_language(refused, visit.language),
                asked=asked,
                figures=None,
                **choices,
            )
        figures = overview(session, filters, now=rt.clock.now(), calendar=rt.calendar)
        choices = _choices(session, staff, filters.district_code)
    return page(
        visit,
        request,
        "portal/supervision.html",
        refused=None,
        asked=asked,
        figures=figures,
        filters=filters,
        charts=_charts(figures, visit.language),
        materials=load_reference().materials,
        branch_names={str(b_id): name for b_id, name in choices["branches"]},
        sla_state=SLA_STATE,
        follow_up_status=FOLLOW_UP_STATUS,
        yuan=reimbursement.yuan,
        this_month=period_of(rt.clock.now()),
        approved=approved if MONTH.match(approved) else "",
        totals=_totals(figures),
        bad_score=BAD_SCORE,
        filter_query=urlencode({name: value for name, value in asked.items() if value}),
        **choices,
    )


def _in_language(refused: DomainError, language: str) -> str:
    """The refusal's message, and its first field's, in the page's language."""
    errors = getattr(refused, "errors", None) or []
    if errors:
        first = errors[0]
        return str(first["message_zh" if language == DEFAULT_LANGUAGE else "message_en"])
    return said_in(refused, language)


@router.get("/supervision/export/{name}.csv", name="supervision_export")
def export(
    request: Request,
    name: str,
    asked: Asked,
) -> Response:
    """One figure of the dashboard as CSV, for the same filters."""
    visit = auth.visit(request)
    staff = _officer(visit, request)
    compute = _exports().get(name)
    if compute is None:
        return not_found(request)
    with runtime.current().database.reading() as session:
        filters = _filters(session, staff, asked)
        figure: BaseModel = compute(session, filters)
    assert isinstance(figure, Table)
    header, rows = figure.csv()
    return csv_response(header, rows, f"{name}.csv")


def _district_of(staff: SignedIn, district: str) -> str | None:
    """The district whose reimbursement is asked: an officer's own, any for administrators."""
    return district if staff.scope.everything and district else staff.scope.district_code


@router.get("/supervision/reimbursement/{month}.{kind}", name="supervision_reimbursement")
def reimbursement_report(
    request: Request,
    month: str,
    kind: str,
    district: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """The month's reimbursement report per vendor, as CSV or PDF."""
    visit = auth.visit(request)
    staff = _officer(visit, request)
    code = _district_of(staff, district)
    if not MONTH.match(month) or kind not in ("csv", "pdf") or code is None:
        return not_found(request)
    rt = runtime.current()
    with rt.database.reading() as session:
        known = session.get(District, code)
        if known is None:
            return not_found(request)
        report = reimbursement.report(session.connection(), district_code=code, period=month)
        district_name = known.name
    filename = f"reimbursement-{code}-{month}.{kind}"
    if kind == "csv":
        return file_response(reimbursement.to_csv(report), media_type=CSV, filename=filename)
    return file_response(
        reimbursement.to_pdf(report, district_name=district_name),
        media_type="application/pdf",
        filename=filename,
    )


@router.post("/supervision/reimbursement/{month}/approve", name="supervision_approve")
def approve(
    request: Request,
    month: str,
    csrf_token: CsrfToken = "",
    district: Annotated[str, Form(max_length=20)] = "",
    back: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """The officer approves the month's reimbursement (audited; the month closes)."""
    visit = auth.visit(request)
    staff = _officer(visit, request)
    check_csrf(visit, request, csrf_token)
    code = _district_of(staff, district)
    if not MONTH.match(month) or code is None:
        return not_found(request)
    rt = runtime.current()
    try:
        with rt.database.transaction() as session:
            officer = session.get(Staff, staff.staff_id)
            assert officer is not None, "a signed-in member of staff exists"
            reimbursement.approve(
                session.connection(),
                district_code=code,
                period=month,
                officer=officer,
                now=rt.clock.now(),
            )
    except DomainError as refused:
        return page(
            visit,
            request,
            "portal/error.html",
            status_code=refused.status_code,
            title=N_("The reimbursement was not approved"),
            message=N_("Nothing was changed."),
            detail=said_in(refused, visit.language),
        )
    query = back.rstrip("&") if FILTER_QUERY.match(back) else ""
    separator = "&" if query else ""
    return see_other(f"{base(request)}/supervision?{query}{separator}approved={month}")
