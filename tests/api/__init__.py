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
from sqlalchemy import func, or_, select, update

from orchestrator.api.app import create_app
from orchestrator.filings import service
from orchestrator.filings.models import ACTIVE_STEP_STATUSES, Event, Filing, Material, Step
from orchestrator.filings.schemas import FilingInput
from orchestrator.runtime import Runtime
from tests.factories import TRADE_NAMES, filing_input
from tests.people import BranchStaff

FILINGS = "/api/v1/filings"

Filed = dict[str, Any]  # a filing as the API shows it (FilingDetail as JSON)


def api_client() -> TestClient:
    """A client of a fresh API application on the installed runtime."""
    return TestClient(create_app())


def auth(token: str) -> dict[str, str]:
    """The Authorization header for `token`."""
    return {"Authorization": f"Bearer {token}"}


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


def file_via_api(api: TestClient, staff: BranchStaff, /, **overrides: Any) -> str:
    """File a fresh filing as the clerk; its tracking code."""
    response = post_filing(api, staff.clerk_token, new_filing(**overrides))
    assert response.status_code == 201, response.text
    code: str = response.json()["tracking_code"]
    return code


def file_undispatched(rt: Runtime, staff: BranchStaff, /, **overrides: Any) -> str:
    """File through the service as if the process died before dispatching any work, and
    as if the sweeper had just looked: no worker touches the filing for a minute."""
    data = FilingInput.model_validate(new_filing(**overrides))
    with rt.database.transaction() as session:
        filing = service.file_filing(
            session,
            actor=staff.clerk,
            staff_id=staff.clerk_id,
            data=data,
            idempotency_key=None,
            now=rt.clock.now(),
            lease_until=rt.clock.after(rt.settings.step_lease_seconds),
            calendar=rt.calendar,
        ).filing
        session.info["after_commit"].clear()
        session.execute(
            update(Step)
            .where(Step.filing_id == filing.id, Step.next_check_at.is_not(None))
            .values(next_check_at=rt.clock.now() + timedelta(minutes=1))
        )
        return filing.tracking_code


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
