"""HTTP hygiene: the headers every response carries, no copy kept of personal data or a
licence, and the API's documentation served whole from the API itself."""

from __future__ import annotations

from html.parser import HTMLParser

import httpx
import pytest
from fastapi.testclient import TestClient

from orchestrator.runtime import Runtime
from tests.api import (
    FILINGS,
    api_client,
    auth,
    file_undispatched,
    file_via_api,
    new_filing,
    steps_of,
    wait_for,
)
from tests.people import BranchStaff


@pytest.fixture(scope="module")
def licensed(_embedded: Runtime, branch_staff: BranchStaff) -> tuple[str, str]:
    """A filing whose licence is issued: its tracking code and its licence number."""
    token = branch_staff.clerk_token
    with api_client() as api:
        code = file_via_api(api, branch_staff)
        filing = wait_for(api, token, code, lambda f: steps_of(f)["registration"] == "done")
    registration = next(s for s in filing["steps"] if s["name"] == "registration")
    return code, registration["result"]["licence_id"]


def requests_of_every_kind(
    api: TestClient, staff: BranchStaff, licensed: tuple[str, str]
) -> dict[str, httpx.Response]:
    """One response of each kind the API gives: successes, refusals, documents, assets."""
    code, licence_no = licensed
    clerk = auth(staff.clerk_token)
    pdf = api.get(f"{FILINGS}/{code}/licence", headers=clerk)
    return {
        "list": api.get(FILINGS, headers=clerk),
        "detail": api.get(f"{FILINGS}/{code}", headers=clerk),
        "licence download": pdf,
        "licence upload check": api.post("/api/v1/licences/verify", content=pdf.content),
        "licence number check": api.get(f"/api/v1/licences/{licence_no}"),
        "no token": api.get(FILINGS),
        "not found": api.get(f"{FILINGS}/OSNOSUCHCODE", headers=clerk),
        "invalid": api.get(FILINGS, params={"page": 0}, headers=clerk),
        "unknown route": api.get("/api/v1/companies"),
        "too large": api.post(FILINGS, content=b"x" * (2 * 1024 * 1024), headers=clerk),
        "schema": api.get("/openapi.json"),
        "docs": api.get("/docs"),
        "docs asset": api.get("/static/swagger-ui/swagger-ui.css"),
        "health": api.get("/healthz"),
    }


class TestEveryResponse:
    def test_forbids_sniffing_and_names_its_request(
        self, api: TestClient, branch_staff: BranchStaff, licensed: tuple[str, str]
    ) -> None:
        responses = requests_of_every_kind(api, branch_staff, licensed)
        assert responses["too large"].status_code == 413
        for kind, response in responses.items():
            assert response.headers["X-Content-Type-Options"] == "nosniff", kind
            assert len(response.headers["X-Request-ID"]) == 32, kind
        assert len({r.headers["X-Request-ID"] for r in responses.values()}) == len(responses)

    def test_of_the_json_api_is_never_stored(
        self, api: TestClient, branch_staff: BranchStaff, licensed: tuple[str, str]
    ) -> None:
        # Filings carry personal data, licences are licences; the API's errors echo its paths.
        responses = requests_of_every_kind(api, branch_staff, licensed)
        for kind, response in responses.items():
            if str(response.url.path).startswith("/api/"):
                assert response.headers["Cache-Control"] == "no-store", kind
        assert responses["licence download"].headers["content-type"] == "application/pdf"
        assert responses["licence upload check"].json()["status"] == "genuine"


class TestChangingAFiling:
    def test_its_receipt_and_every_answer_are_never_stored(
        self, onestop: Runtime, api: TestClient, branch_staff: BranchStaff
    ) -> None:
        clerk = auth(branch_staff.clerk_token)
        receipt = api.post(FILINGS, json=new_filing(), headers=clerk)
        assert receipt.status_code == 201
        code = file_undispatched(onestop, branch_staff)
        cancelled = api.post(f"{FILINGS}/{code}/cancel", headers=clerk)
        assert cancelled.status_code == 200
        for response in (receipt, cancelled):
            assert response.headers["Cache-Control"] == "no-store"


class _References(HTMLParser):
    """Every address an HTML page makes the browser load (src, href)."""

    def __init__(self) -> None:
        super().__init__()
        self.addresses: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.addresses += [value for name, value in attrs if name in ("src", "href") and value]


class TestDocs:
    def test_the_page_loads_nothing_from_another_host(self, api: TestClient) -> None:
        page = api.get("/docs")
        assert page.status_code == 200
        references = _References()
        references.feed(page.text)
        assert len(references.addresses) == 3  # script, stylesheet, icon
        for address in references.addresses:
            assert address.startswith("/") and not address.startswith("//"), address
        assert "http://" not in page.text and "https://" not in page.text
        # Swagger UI would send the schema's address to its online validator.
        assert '"validatorUrl": null' in page.text

    def test_its_assets_load_as_what_they_are(self, api: TestClient) -> None:
        references = _References()
        references.feed(api.get("/docs").text)
        kinds = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
        for address in references.addresses:
            response = api.get(address)
            assert response.status_code == 200, address
            expected = next(kind for suffix, kind in kinds.items() if address.endswith(suffix))
            assert response.headers["content-type"].startswith(expected), address
            assert len(response.content) > 500, address
        bundle = api.get("/static/swagger-ui/swagger-ui-bundle.js").text
        assert "SwaggerUIBundle" in bundle

    def test_the_page_points_at_the_schema_it_documents(self, api: TestClient) -> None:
        page = api.get("/docs").text
        assert "url: '/openapi.json'" in page
        assert api.get("/openapi.json").json()["info"]["title"] == "OneStop API"

    def test_redoc_and_its_cdn_are_gone(self, api: TestClient) -> None:
        assert api.get("/redoc").status_code == 404
