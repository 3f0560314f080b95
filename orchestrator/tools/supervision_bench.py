"""`onestop supervision bench`: how fast each supervision endpoint and each view of the
dashboard answers on the database configured (after `onestop history`), at p50 and p95,
through the whole web stack in process (token check or portal session, filters, figures,
JSON or the rendered page); and what one beat's fold costs.

A benchmark run by hand (its figures go in docs/benchmarks.md), not a timed test.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from orchestrator.api.app import web_app
from orchestrator.filings.models import Filing
from orchestrator.identity.models import Branch, Role
from orchestrator.identity.service import ensure_staff, issue_token
from orchestrator.identity.sessions import set_password
from orchestrator.runtime import Runtime
from orchestrator.supervision.fold import fold_days
from orchestrator.tools.percentiles import percentile

ENDPOINTS = (
    "overview",
    "completion-time",
    "shares?by=branch",
    "shares?by=step",
    "shares?by=agency",
    "shares?by=week",
    "at-risk",
    "supplements",
    "subsidy-spend",
    "feedback",
)
# The dashboard's views: the page itself, and the CSV of each figure it offers.
VIEWS = (
    "supervision",
    "supervision/export/completion-time.csv",
    "supervision/export/shares-by-branch.csv",
    "supervision/export/at-risk.csv",
)
BENCH_OFFICER = "supervision_bench_officer"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class EndpointTimes:
    """One endpoint's answers: how many, and their p50, p95 and slowest, in ms."""

    endpoint: str
    requests: int
    p50_ms: float
    p95_ms: float
    max_ms: float


@dataclass(frozen=True)
class BenchFigures:
    """Every endpoint's and view's times, the district measured and its filings, and a
    fold's cost."""

    district_code: str
    filings: int
    district_filings: int
    endpoints: list[EndpointTimes]
    views: list[EndpointTimes]
    fold_seconds: float
    fold_rows: int


def _queries(today: date, branches: list[int], requests: int) -> Iterator[dict[str, Any]]:
    """Filters as officers vary them: the last month, quarter and year, all branches or one."""
    periods = (30, 90, 365)
    for i in range(requests):
        days = periods[i % len(periods)]
        params: dict[str, Any] = {
            "from": (today - timedelta(days=days - 1)).isoformat(),
            "to": today.isoformat(),
        }
        if i % 2 and branches:
            params["branch_id"] = branches[i % len(branches)]
        yield params


def _timed(
    name: str,
    requests: int,
    ask: Callable[[dict[str, Any]], Response],
    queries: Iterator[dict[str, Any]],
) -> EndpointTimes:
    """`requests` answers of `ask`, timed, after three to warm up; any but a 200 stops."""
    samples: list[float] = []
    for i, params in enumerate(queries):
        started = time.perf_counter()
        response = ask(params)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"{name}: {response.status_code} {response.text[:300]}")
        if i >= 3:
            samples.append(elapsed)
    return EndpointTimes(
        endpoint=name,
        requests=len(samples),
        p50_ms=round(percentile(samples, 50), 1),
        p95_ms=round(percentile(samples, 95), 1),
        max_ms=round(max(samples), 1),
    )


def _signed_in(client: TestClient, password: str) -> None:
    """Sign the bench officer in to the portal: the client keeps the session's cookie."""
    form = client.get("/portal/login")
    token = _CSRF.search(form.text)
    if token is None:
        raise RuntimeError(f"the portal's sign-in page has no form: {form.status_code}")
    signed = client.post(
        "/portal/login",
        data={"username": BENCH_OFFICER, "password": password, "csrf_token": token[1]},
        follow_redirects=False,
    )
    if signed.status_code != 303:
        raise RuntimeError(f"the bench officer could not sign in: {signed.status_code}")


def _api(
    client: TestClient,
    path: str,
    headers: dict[str, str],
    extra: dict[str, str],
    params: dict[str, Any],
) -> Response:
    response: Response = client.get(path, params={**params, **extra}, headers=headers)
    return response


def _page(client: TestClient, path: str, params: dict[str, Any]) -> Response:
    """A view of the dashboard, with the API's filters as its form names them."""
    renamed = {"branch" if name == "branch_id" else name: value for name, value in params.items()}
    response: Response = client.get(path, params=renamed)
    return response


def run_bench(
    rt: Runtime,
    *,
    district_code: str | None,
    requests: int,
    progress: Callable[[str], None] | None = None,
) -> BenchFigures:
    """Time `requests` answers of every endpoint and view, after three to warm up."""
    password = secrets.token_urlsafe(16)
    with rt.database.transaction() as session:
        total = session.scalar(select(func.count()).select_from(Filing)) or 0
        if district_code is None:  # the busiest district
            busiest = (
                select(Filing.district_code)
                .group_by(Filing.district_code)
                .order_by(func.count().desc())
                .limit(1)
            )
            district_code = session.scalar(busiest) or "370783"
        in_district = session.scalar(
            select(func.count()).select_from(Filing).where(Filing.district_code == district_code)
        )
        branches = list(
            session.scalars(select(Branch.id).where(Branch.district_code == district_code))
        )
        officer = ensure_staff(
            session,
            username=BENCH_OFFICER,
            name="监管基准",
            role=Role.OFFICER,
            district_code=district_code,
        )
        token = issue_token(session, officer, now=rt.clock.now(), label="supervision bench")
        set_password(session, BENCH_OFFICER, password)
    today = rt.clock.now().date()
    client = TestClient(web_app(rt.settings))
    headers = {"Authorization": f"Bearer {token}"}
    timed: list[EndpointTimes] = []
    for endpoint in ENDPOINTS:
        path, _, query = endpoint.partition("?")
        extra = dict([query.split("=")]) if query else {}
        timed.append(
            _timed(
                endpoint,
                requests,
                partial(_api, client, f"/api/v1/supervision/{path}", headers, extra),
                _queries(today, branches, requests + 3),
            )
        )
        if progress is not None:
            progress(f"{endpoint}: p95 {timed[-1].p95_ms} ms")
    _signed_in(client, password)
    views: list[EndpointTimes] = []
    for view in VIEWS:
        views.append(
            _timed(
                f"/portal/{view}",
                requests,
                partial(_page, client, f"/portal/{view}"),
                _queries(today, branches, requests + 3),
            )
        )
        if progress is not None:
            progress(f"/portal/{view}: p95 {views[-1].p95_ms} ms")
    started = time.perf_counter()
    with rt.database.transaction() as session:
        rows = fold_days(session, today - timedelta(days=1), today, calendar=rt.calendar)
    return BenchFigures(
        district_code=district_code,
        filings=total,
        district_filings=in_district or 0,
        endpoints=timed,
        views=views,
        fold_seconds=round(time.perf_counter() - started, 2),
        fold_rows=rows,
    )
