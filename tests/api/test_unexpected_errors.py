"""An error nobody expected: a JSON 500 that says nothing of it but a request id, and one log
line with the traceback under that id, for an operator to find."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from integrations.simulators.server import serve_in_thread
from orchestrator.api import licences as licences_api
from orchestrator.api.app import create_app
from orchestrator.filings import service
from orchestrator.logs import RequestIdFilter
from orchestrator.runtime import Runtime
from tests.api import FILINGS, api_client, assert_bilingual, auth
from tests.leaks import planted_in_logs
from tests.people import BranchStaff

# What the fault says: the kind of detail an exception carries and a client must never see.
PLANTED_ID = "370783198503141315"
SECRET = f"connection to 10.0.0.7 as onestop_admin; row {PLANTED_ID}"


@pytest.fixture(autouse=True)
def _planted() -> Iterator[None]:
    # The fault's resident ID is logged with its traceback on purpose (the lines a process
    # writes are masked: tests/orchestrator/test_logs.py); not held against the run.
    with planted_in_logs(PLANTED_ID):
        yield


def fail(*_: Any, **__: Any) -> Any:
    raise RuntimeError(SECRET)


# (where the fault is injected, the request that meets it): a sync route that reads the
# database on a worker thread, and an async one.
FAULTS = {
    "list filings": ((service, "list_filings"), ("GET", FILINGS, True)),
    "verify a licence": ((licences_api, "verify"), ("POST", "/api/v1/licences/verify", False)),
}


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Captured log records, each with the request id it was written under."""
    caplog.handler.addFilter(RequestIdFilter())
    caplog.set_level(logging.INFO)
    return caplog


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.exc_info]


class TestAnUnexpectedError:
    @pytest.mark.parametrize("fault", list(FAULTS))
    def test_is_a_json_500_with_a_request_id_and_nothing_internal(
        self,
        onestop: Runtime,
        branch_staff: BranchStaff,
        monkeypatch: pytest.MonkeyPatch,
        logged: pytest.LogCaptureFixture,
        fault: str,
    ) -> None:
        (module, name), (method, path, with_token) = FAULTS[fault]
        monkeypatch.setattr(module, name, fail)
        headers = auth(branch_staff.clerk_token) if with_token else {}
        with api_client() as api:
            response = api.request(method, path, headers=headers, content=b"%PDF-1.7 ...")
        body = assert_bilingual(response, 500, "internal_error")
        assert set(body) == {"error", "message_zh", "message_en", "request_id"}
        assert body["request_id"] == response.headers["X-Request-ID"]
        for internal in ("10.0.0.7", "370783", "RuntimeError", "Traceback", ".py"):
            assert internal not in response.text

        (record,) = errors_logged(logged)
        assert getattr(record, "request_id", None) == body["request_id"]
        assert record.exc_info and record.exc_info[1] is not None
        assert SECRET in str(record.exc_info[1])  # the operator's log has what the client has not

    def test_each_request_has_its_own_id(
        self, onestop: Runtime, branch_staff: BranchStaff, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(service, "list_filings", fail)
        with api_client() as api:
            ids = {
                api.get(FILINGS, headers=auth(branch_staff.clerk_token)).json()["request_id"]
                for _ in range(3)
            }
        assert len(ids) == 3

    def test_is_logged_once_by_a_real_server(
        self,
        onestop: Runtime,
        branch_staff: BranchStaff,
        monkeypatch: pytest.MonkeyPatch,
        logged: pytest.LogCaptureFixture,
    ) -> None:
        # Left to the server, the exception would be logged a second time, by uvicorn,
        # without the request's id.
        monkeypatch.setattr(service, "list_filings", fail)
        server = serve_in_thread(create_app())
        try:
            with httpx.Client(base_url=server.base_url, timeout=10) as client:
                response = client.get(FILINGS, headers=auth(branch_staff.clerk_token))
                assert response.status_code == 500
                assert client.get("/healthz").status_code == 200  # the server carries on
        finally:
            server.stop()
        (record,) = errors_logged(logged)
        assert getattr(record, "request_id", None) == response.json()["request_id"]
