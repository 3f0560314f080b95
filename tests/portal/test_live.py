"""The fragments an open page refreshes itself with: only for signed-in branch staff, and a
refresh is not the session's activity (an open page left alone still times out)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from orchestrator.api.app import web_app
from orchestrator.filings.models import Filing, FilingStatus, SlaState
from orchestrator.identity.models import StaffSession
from tests.portal.conftest import PASSWORD, PortalWorld


@pytest.fixture
def client(portal: PortalWorld) -> Iterator[TestClient]:
    settings = portal.rt.settings.model_copy(
        update={"rate_limit_portal_new_sessions": "10000/minute"}
    )
    with TestClient(web_app(settings)) as client:
        yield client


def sign_in(client: TestClient, username: str) -> None:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/portal/login").text)
    assert found
    data = {"username": username, "password": PASSWORD, "csrf_token": found.group(1)}
    assert client.post("/portal/login", data=data, follow_redirects=False).status_code == 303


def idle_for(portal: PortalWorld, minutes: int) -> None:
    """Make every session look as if its last request came `minutes` ago."""
    with portal.rt.database.transaction() as session:
        ago = portal.rt.clock.now() - timedelta(minutes=minutes)
        session.execute(update(StaffSession).values(last_seen_at=ago))


def last_seen(portal: PortalWorld) -> set[object]:
    with portal.rt.database.reading() as session:
        return set(session.scalars(select(StaffSession.last_seen_at)))


def test_without_a_session_the_page_is_sent_to_sign_in(client: TestClient) -> None:
    for path in ("/portal/live/queue", "/portal/live/filings/OS0000000000"):
        response = client.get(path)
        assert response.status_code == 204
        assert response.headers["HX-Redirect"] == "/portal/login"


def test_the_fragments_show_the_own_branch_only(client: TestClient, portal: PortalWorld) -> None:
    sign_in(client, portal.clerk)
    rows = client.get("/portal/live/queue").text
    assert portal.own_codes[0] in rows and portal.other_code not in rows
    assert 'id="queue-live"' in rows and "<html" not in rows
    assert client.get(f"/portal/live/filings/{portal.own_codes[0]}").status_code == 200
    assert client.get(f"/portal/live/filings/{portal.other_code}").status_code == 404


def test_a_refresh_is_not_activity(client: TestClient, portal: PortalWorld) -> None:
    sign_in(client, portal.clerk)
    idle_for(portal, 5)
    before = last_seen(portal)
    assert client.get("/portal/live/queue").status_code == 200
    assert last_seen(portal) == before
    assert client.get("/portal/").status_code == 200  # a person asked for a page
    assert last_seen(portal) != before


def test_the_queue_and_a_filing_show_the_sla_state_and_estimate(
    client: TestClient, portal: PortalWorld
) -> None:
    code = portal.own_codes[0]
    kept = ("status", "sla_state", "ready_at", "completed_at", "predicted_ready_at")
    with portal.rt.database.transaction() as session:  # as the tracker's beat job left it
        before = session.execute(
            select(*(getattr(Filing, column) for column in (*kept, "blocked_seconds")))
            .where(Filing.tracking_code == code)
        ).one()._asdict()  # fmt: skip
        session.execute(
            update(Filing)
            .where(Filing.tracking_code == code)
            .values(status=FilingStatus.ACCEPTED, sla_state=SlaState.AT_RISK, ready_at=None,
                    completed_at=None, predicted_ready_at=portal.rt.clock.now(),
                    blocked_seconds=5400)
        )  # fmt: skip
    try:
        sign_in(client, portal.clerk)
        rows = client.get(f"/portal/live/queue?bucket=at_risk&q={code}").text
        assert code in rows and 'data-test="sla-state">有超期风险<' in rows
        assert "期限顺延 1.5 工作小时" in rows
        page = client.get(f"/portal/filings/{code}").text
        assert 'data-test="sla-state">' in page
        assert 'data-test="deadline-extended"' in page and "1.5" in page
    finally:
        with portal.rt.database.transaction() as session:
            session.execute(update(Filing).where(Filing.tracking_code == code).values(**before))
