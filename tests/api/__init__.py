"""Helpers for the JSON API tests: a client, filing and following a filing through the API,
and the row counts that show a refused request left nothing behind."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, or_, select

from orchestrator.api.app import create_app
from orchestrator.filings.models import ACTIVE_STEP_STATUSES, Event, Filing, Material, Step
from orchestrator.runtime import Runtime
from tests.factories import TRADE_NAMES, filing_input
from tests.filings import file_undispatched as file_undispatched  # the API tests' too
from tests.people import BranchStaff

FILINGS = "/api/v1/filings"

Filed = dict[str, Any]  # a filing as the API shows it (FilingDetail as JSON)
# The `undispatched` fixture: files with the materials named missing; the tracking code.
Undispatched = Callable[..., str]


def api_client() -> TestClient:
    """A client of a fresh API application on the installed runtime."""
    return TestClient(create_app())


def auth(token: str) -> dict[str, str]:
    """The Authorization header for `token`."""
    return {"Authorization": f"Bearer {token}"}


def assert_bilingual(response: Response, status: int, error: str) -> dict[str, Any]:
    """An error in the API's JSON shape: `status`, code `error`, said in Chinese and in
    English; its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["error"] == error and body["message_zh"] and body["message_en"]
    return body


def assert_unavailable(response: Response) -> None:
    """The API's answer while the database is away: a 503 that says when to come back."""
    assert_bilingual(response, 503, "database_unavailable")
    assert int(response.headers["Retry-After"]) > 0
    assert "X-Request-ID" in response.headers


def new_filing(**overrides: Any) -> dict[str, Any]:
    """The default filing payload with a fresh trade name (no name conflict at registration)."""
    return filing_input(**({"company_name__trade_name": next(TRADE_NAMES)} | overrides))


def post_filing(
    api: TestClient,
    token: str,
    body: dict[str, Any] | None = None,
    *,
    key: str | None = None,
) -> Response:
    """POST a filing (default: a fresh valid one) as the holder of `token`."""
    headers = auth(token) | ({"Idempotency-Key": key} if key is not None else {})
    return api.post(FILINGS, json=new_filing() if body is None else body, headers=headers)


def supplement(api: TestClient, token: str, code: str, material: str, data: Any = None) -> Response:
    """POST a 容缺 material of the filing as the holder of `token`, with `data` if any."""
    return api.post(
        f"{FILINGS}/{code}/materials/{material}",
        json=None if data is None else {"data": data},
        headers=auth(token),
    )


def file_via_api(api: TestClient, staff: BranchStaff, /, **overrides: Any) -> str:
    """File a fresh filing as the clerk; its tracking code."""
    response = post_filing(api, staff.clerk_token, new_filing(**overrides))
    assert response.status_code == 201, response.text
    code: str = response.json()["tracking_code"]
    return code


def steps_of(filing: Filed) -> dict[str, str]:
    """Step name -> status."""
    return {step["name"]: step["status"] for step in filing["steps"]}


def wait_for(
    api: TestClient,
    token: str,
    code: str,
    done: Callable[[Filed], bool],
    *,
    timeout: float = 20,
) -> Filed:
    """Poll GET /filings/{code} until `done(filing)` holds; fail with its steps if it never does."""
    deadline = time.monotonic() + timeout
    while True:
        response = api.get(f"{FILINGS}/{code}", headers=auth(token))
        assert response.status_code == 200, response.text
        filing: Filed = response.json()
        if done(filing):
            return filing
        if time.monotonic() > deadline:
            pytest.fail(f"filing {code} stuck in {filing['status']}: {steps_of(filing)}")
        time.sleep(0.05)


def complete(filing: Filed) -> bool:
    """Whether the filing is complete."""
    return bool(filing["status"] == "complete")


def at_rest(filing: Filed) -> bool:
    """Whether no step of the filing is under way (complete, rejected, blocked, cancelled)."""
    return not {"ready", "running", "submitted"} & set(steps_of(filing).values())


def row_counts(rt: Runtime) -> dict[str, int]:
    """Rows in the tables a filing writes."""
    with rt.database.transaction() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Filing, Step, Event, Material)
        }


def settle(
    rt: Runtime,
    *,
    quiet: float = 0.5,
    margin: timedelta = timedelta(seconds=10),
    timeout: float = 30,
) -> None:
    """Wait until nothing else writes, so that only the request under test does: no event for
    `quiet` seconds (every transition writes one), and no active step due within `margin`
    (the sweeper's next work). Steps that other tests park for minutes may stay active."""
    deadline = time.monotonic() + timeout
    newest, since = None, time.monotonic()
    while True:
        with rt.database.transaction() as session:
            latest = session.scalar(select(func.max(Event.id)))
            due = session.scalar(
                select(func.count())
                .select_from(Step)
                .where(
                    Step.status.in_(ACTIVE_STEP_STATUSES),
                    or_(
                        Step.next_check_at.is_(None),
                        Step.next_check_at <= rt.clock.now() + margin,
                    ),
                )
            )
        if latest != newest:
            newest, since = latest, time.monotonic()
        elif not due and time.monotonic() - since >= quiet:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"still writing after {timeout} s ({due} active steps due soon)")
        time.sleep(0.05)
