"""`onestop supervision bench`: how fast each supervision endpoint answers on the database
configured (after `onestop history`), at p50 and p95, through the whole API stack in
process (token check, filters, figure, JSON); and what one beat's fold costs.

A benchmark run by hand (its figures go in docs/benchmarks.md), not a timed test.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from orchestrator.api.app import create_app
from orchestrator.filings.models import Filing
from orchestrator.identity.models import Branch, Role
from orchestrator.identity.service import ensure_staff, issue_token
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
    "supplements",
    "feedback",
)
BENCH_OFFICER = "supervision_bench_officer"


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
    """Every endpoint's times, the district measured and its filings, and a fold's cost."""

    district_code: str
    filings: int
    district_filings: int
    endpoints: list[EndpointTimes]
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


def run_bench(
    rt: Runtime,
    *,
    district_code: str | None,
    requests: int,
    progress: Callable[[str], None] | None = None,
) -> BenchFigures:
    """Time `requests` answers of every endpoint, after three to warm up."""
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
    today = rt.clock.now().date()
    client = TestClient(create_app())
    headers = {"Authorization": f"Bearer {token}"}
    timed: list[EndpointTimes] = []
    for endpoint in ENDPOINTS:
        path, _, query = endpoint.partition("?")
        extra = dict([query.split("=")]) if query else {}
        samples: list[float] = []
        for i, params in enumerate(_queries(today, branches, requests + 3)):
            started = time.perf_counter()
            response = client.get(
                f"/api/v1/supervision/{path}", params={**params, **extra}, headers=headers
            )
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise RuntimeError(f"{endpoint}: {response.status_code} {response.text[:300]}")
            if i >= 3:
                samples.append(elapsed)
        timed.append(
            EndpointTimes(
                endpoint=endpoint,
                requests=len(samples),
                p50_ms=round(percentile(samples, 50), 1),
                p95_ms=round(percentile(samples, 95), 1),
                max_ms=round(max(samples), 1),
            )
        )
        if progress is not None:
            progress(f"{endpoint}: p95 {timed[-1].p95_ms} ms")
    started = time.perf_counter()
    with rt.database.transaction() as session:
        rows = fold_days(session, today - timedelta(days=1), today, calendar=rt.calendar)
    return BenchFigures(
        district_code=district_code,
        filings=total,
        district_filings=in_district or 0,
        endpoints=timed,
        fold_seconds=round(time.perf_counter() - started, 2),
        fold_rows=rows,
    )
