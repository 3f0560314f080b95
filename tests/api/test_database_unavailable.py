"""With the database out of reach the API tells clients to come back (503, Retry-After, in
JSON), never a server error: a filing retried with its Idempotency-Key is filed once."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from orchestrator import runtime
from orchestrator.api.app import create_app
from orchestrator.settings import Settings
from tests.api import FILINGS, auth, new_filing
from tests.faults.soak import free_port


@pytest.fixture
def api_without_database(monkeypatch: pytest.MonkeyPatch) -> TestClient:
    """The API of a runtime whose PostgreSQL refuses every connection (nothing listens)."""
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/onestop"
    monkeypatch.setattr(runtime, "_current", runtime.from_settings(Settings(database_url=url)))
    return TestClient(create_app())


class TestDatabaseUnreachable:
    @pytest.mark.parametrize(
        ("method", "path"),
        [("POST", FILINGS), ("GET", f"{FILINGS}/OS0000000000"), ("GET", FILINGS)],
    )
    def test_answers_503_with_retry_after(
        self, api_without_database: TestClient, method: str, path: str
    ) -> None:
        headers = auth("any-token") | {"Idempotency-Key": "k-1"}
        body = new_filing() if method == "POST" else None
        response = api_without_database.request(method, path, json=body, headers=headers)
        assert response.status_code == 503, response.text
        assert int(response.headers["Retry-After"]) > 0
        assert response.json()["error"] == "database_unavailable"
        assert response.json()["message_zh"] and response.json()["message_en"]
