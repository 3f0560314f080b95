"""Control characters in a request's path or query: refused as a 404 (path) or a 422 (query)
before any route or the database sees them, on every route and on both databases.

PostgreSQL refuses a NUL in any text it is given: `/api/v1/licences/%00` was a plain-text
500 there, and a 404 on SQLite, where these tests used to run only.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from orchestrator.api.app import create_app
from tests.api import FILINGS, assert_bilingual, auth
from tests.people import BranchStaff

pytestmark = pytest.mark.databases("sqlite", "postgresql")

# NUL, the other C0 controls at both ends and in between, DEL, and a C1 control (U+0085),
# percent-encoded as a client sends them.
CONTROLS = ["%00", "%01", "%09", "%0A", "%0D", "%1B", "%1F", "%7F", "%C2%85"]


def operations() -> list[tuple[str, str]]:
    """(method, path template) of every route the API documents."""
    paths: dict[str, dict[str, Any]] = create_app().openapi()["paths"]
    return [(method.upper(), path) for path, item in paths.items() for method in item]


TEMPLATED = [(method, path) for method, path in operations() if "{" in path]


def with_params(template: str, value: str) -> str:
    """`template` with every path parameter set to `value`."""
    return re.sub(r"\{[^}]+\}", value, template)


class TestInThePath:
    def test_every_route_with_a_path_parameter_is_covered(self) -> None:
        assert {path for _, path in TEMPLATED} >= {
            f"{FILINGS}/{{tracking_code}}",
            f"{FILINGS}/{{tracking_code}}/materials/{{material_code}}",
            f"{FILINGS}/{{tracking_code}}/cancel",
            f"{FILINGS}/{{tracking_code}}/handover",
            f"{FILINGS}/{{tracking_code}}/licence",
            "/api/v1/licences/{licence_no}",
        }

    @pytest.mark.parametrize(
        ("method", "template"), TEMPLATED, ids=[" ".join(o) for o in TEMPLATED]
    )
    def test_is_404_on_every_route(
        self, api: TestClient, branch_staff: BranchStaff, method: str, template: str
    ) -> None:
        for control in CONTROLS:
            for value in (control, f"OS{control}ABCDEFGH", f"{control}OSABCDEFGHJK"):
                response = api.request(
                    method,
                    with_params(template, value),
                    headers=auth(branch_staff.clerk_token),
                    json={},
                )
                assert_bilingual(response, 404, "not_found")

    @pytest.mark.parametrize(("method", "path"), [("GET", "/%00"), ("POST", "/%00/cancel")])
    def test_is_404_before_the_token_is_checked(
        self, api: TestClient, method: str, path: str
    ) -> None:
        # The token check reads the database: with a NUL in the path, nobody's token is read.
        response = api.request(method, FILINGS + path, headers=auth("ost_bogus"))
        assert_bilingual(response, 404, "not_found")

    def test_the_public_licence_check_needs_no_token_to_be_refused(self, api: TestClient) -> None:
        assert_bilingual(api.get("/api/v1/licences/%00"), 404, "not_found")

    @pytest.mark.parametrize("path", ["/api/v1/%00", "/static/swagger-ui/%00.js", "/docs%0A"])
    def test_so_is_any_other_path_with_one(self, api: TestClient, path: str) -> None:
        # Routes of every kind: unknown, mounted (files), the documentation.
        assert_bilingual(api.get(path), 404, "not_found")


def listing_errors(api: TestClient, staff: BranchStaff, query: str) -> list[dict[str, Any]]:
    """The errors of the 422 that the clerk's GET /filings?`query` is answered with."""
    response = api.get(f"{FILINGS}?{query}", headers=auth(staff.clerk_token))
    errors: list[dict[str, Any]] = assert_bilingual(response, 422, "invalid")["errors"]
    return errors


class TestInTheQuery:
    @pytest.mark.parametrize("parameter", ["status", "district_code", "branch_id", "page"])
    def test_is_422_naming_the_parameter(
        self, api: TestClient, branch_staff: BranchStaff, parameter: str
    ) -> None:
        for control in CONTROLS:
            errors = listing_errors(api, branch_staff, f"{parameter}=1{control}")
            assert [(e["field"], e["code"]) for e in errors] == [
                (f"query.{parameter}", "control_character")
            ]

    def test_a_parameter_no_route_declares_is_refused_as_well(
        self, api: TestClient, branch_staff: BranchStaff
    ) -> None:
        errors = listing_errors(api, branch_staff, "q%00=1&page=2")
        assert [e["field"] for e in errors] == ["query.q\\x00"]

    def test_is_422_on_every_route(self, api: TestClient, branch_staff: BranchStaff) -> None:
        for method, template in operations():
            path = with_params(template, "OSNOSUCHCODE") + "?x=%00"
            response = api.request(method, path, headers=auth(branch_staff.clerk_token), json={})
            assert_bilingual(response, 422, "invalid")

    def test_printable_text_of_any_script_passes(
        self, api: TestClient, branch_staff: BranchStaff
    ) -> None:
        # Only control characters are refused: a query in Chinese is merely not a status.
        errors = listing_errors(api, branch_staff, "status=已受理")
        assert [e["field"] for e in errors] == ["query.status"]
        assert errors[0]["code"] != "control_character"
