"""With the database away, the API answers 503 with `Retry-After`, in JSON, never a 500:
whether the database refuses connections from the start or its connections are cut while
the API holds them (a TCP proxy in front of PostgreSQL, stopped and started again)."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from orchestrator import runtime
from orchestrator.api.app import create_app
from orchestrator.api.deps import get_runtime
from orchestrator.db import Database
from orchestrator.runtime import Runtime
from orchestrator.settings import Settings
from tests.api import FILINGS, assert_unavailable, auth, new_filing
from tests.faults.soak import TcpProxy, free_port
from tests.people import BranchStaff

# Routes that answer without the database.
WITHOUT_DATABASE = {("POST", "/api/v1/licences/verify")}


# A well-formed value of each path parameter, so that the route reaches the database.
PARAMETERS = {"token": "NoSuchVerificationToken"}


def operations() -> list[tuple[str, str]]:
    """(method, path) of every documented route, its parameters filled in."""
    paths: dict[str, dict[str, Any]] = create_app().openapi()["paths"]
    return [
        (
            method.upper(),
            re.sub(r"\{([^}]+)\}", lambda m: PARAMETERS.get(m[1], "OSNOSUCHCODE"), path),
        )
        for path, item in paths.items()
        for method in item
        if (method.upper(), path) not in WITHOUT_DATABASE
    ]


def api_on(rt: Runtime) -> TestClient:
    """A client of an API application working with `rt`; the process's runtime untouched,
    so that the embedded worker carries on with the real database meanwhile."""
    app = create_app()
    app.dependency_overrides[get_runtime] = lambda: rt
    return TestClient(app)


@pytest.fixture
def nowhere() -> Iterator[Runtime]:
    """A runtime whose database is on a port nobody listens on."""
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/onestop"
    rt = runtime.from_settings(Settings(database_url=url))
    yield rt
    rt.database.dispose()


class TestADatabaseThatRefusesConnections:
    @pytest.mark.parametrize(("method", "path"), operations())
    def test_every_route_that_needs_it_answers_503(
        self, nowhere: Runtime, method: str, path: str
    ) -> None:
        with api_on(nowhere) as api:
            started = time.monotonic()
            response = api.request(method, path, headers=auth("ost_any"), json=new_filing())
        assert_unavailable(response)
        assert time.monotonic() - started < 5  # told at once, not left hanging

    def test_a_licence_can_still_be_checked_by_upload(self, nowhere: Runtime) -> None:
        with api_on(nowhere) as api:
            response = api.post("/api/v1/licences/verify", content=b"not a pdf")
        assert response.status_code == 400
        assert response.json()["error"] == "not_a_pdf"


@pytest.mark.databases("postgresql")
class TestConnectionsCutWhileTheApiHoldsThem:
    @pytest.fixture
    def proxy(self, onestop: Runtime) -> Iterator[TcpProxy]:
        """A proxy in front of the embedded runtime's PostgreSQL."""
        proxy = TcpProxy(onestop.database.url).start()
        yield proxy
        proxy.close()

    @pytest.fixture
    def through_proxy(self, onestop: Runtime, proxy: TcpProxy) -> Iterator[Runtime]:
        """The embedded runtime, its database reached through the proxy."""
        through = Database(proxy.url(onestop.database.url))
        yield dataclasses.replace(onestop, database=through)
        through.dispose()

    def test_answers_503_while_cut_and_carries_on_after(
        self, through_proxy: Runtime, branch_staff: BranchStaff, proxy: TcpProxy
    ) -> None:
        clerk = auth(branch_staff.clerk_token)
        body = new_filing()
        with api_on(through_proxy) as api:
            assert api.get(FILINGS, headers=clerk).status_code == 200  # connections pooled
            assert proxy.cut() > 0
            assert_unavailable(api.get(FILINGS, headers=clerk))
            assert_unavailable(api.get("/api/v1/licences/NOSUCHLICENCE"))
            assert_unavailable(
                api.post(FILINGS, json=body, headers=clerk | {"Idempotency-Key": "cut-1"})
            )
            proxy.resume()
            assert api.get(FILINGS, headers=clerk).status_code == 200
            # The refused filing left nothing behind: sent again, it is filed, once.
            again = api.post(FILINGS, json=body, headers=clerk | {"Idempotency-Key": "cut-1"})
            assert again.status_code == 201, again.text
