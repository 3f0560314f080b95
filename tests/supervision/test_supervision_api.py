"""/api/v1/supervision: officers only, their district only, filters checked (422, never
500), the same figures as CSV, and every route in /openapi.json."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

from orchestrator.runtime import Runtime
from tests.api import assert_bilingual, auth
from tests.people import SHOUGUANG, BranchStaff
from tests.supervision.known import write_known

pytestmark = pytest.mark.databases("sqlite", "postgresql")

SUPERVISION = "/api/v1/supervision"
MARCH = {"from": "2025-03-01", "to": "2025-03-31"}
FIGURES = (
    "overview",
    "completion-time",
    "shares",
    "at-risk",
    "supplements",
    "subsidy-spend",
    "feedback",
)
BY_STEP = {"by": "step"}  # what the shares need, and the others ignore


@pytest.fixture
def branch_id(onestop: Runtime) -> int:
    """The branch of the known history, March 2025 folded."""
    return write_known(onestop)


class TestAccess:
    @pytest.mark.parametrize("path", FIGURES)
    def test_an_officer_sees_the_figures_of_their_district(
        self, api: TestClient, branch_staff: BranchStaff, branch_id: int, path: str
    ) -> None:
        response = api.get(
            f"{SUPERVISION}/{path}",
            params={**MARCH, **BY_STEP, "branch_id": branch_id},
            headers=auth(branch_staff.officer_token),
        )
        assert response.status_code == 200, response.text
        assert response.json()["period"]["district_code"] == SHOUGUANG

    @pytest.mark.parametrize("path", FIGURES)
    def test_a_clerk_is_refused(
        self, api: TestClient, branch_staff: BranchStaff, path: str
    ) -> None:
        response = api.get(
            f"{SUPERVISION}/{path}", params=BY_STEP, headers=auth(branch_staff.clerk_token)
        )
        assert_bilingual(response, 403, "forbidden")

    def test_no_token_no_figures(self, api: TestClient) -> None:
        assert api.get(f"{SUPERVISION}/overview").status_code == 401

    def test_an_officer_may_not_ask_for_another_district(
        self, api: TestClient, branch_staff: BranchStaff
    ) -> None:
        response = api.get(
            f"{SUPERVISION}/overview",
            params={"district_code": SHOUGUANG},
            headers=auth(branch_staff.other_district_officer_token),
        )
        assert_bilingual(response, 403, "forbidden")

    def test_nor_for_a_branch_of_another_district(
        self, api: TestClient, branch_staff: BranchStaff, branch_id: int
    ) -> None:
        response = api.get(
            f"{SUPERVISION}/feedback",
            params={"branch_id": branch_id},
            headers=auth(branch_staff.other_district_officer_token),
        )
        body = assert_bilingual(response, 422, "invalid")
        assert body["errors"][0]["field"] == "branch_id"


class TestFilters:
    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"from": "2025-04-01", "to": "2025-03-01"}, "from"),
            ({"from": "2024-01-01", "to": "2025-03-01"}, "from"),
            ({"branch_id": 2_000_000_000}, "branch_id"),
            ({"to": "0001-01-05"}, "to"),
            ({"from": "9999-12-31"}, "from"),
        ],
    )
    def test_a_bad_filter_is_named(
        self, api: TestClient, branch_staff: BranchStaff, params: dict[str, object], field: str
    ) -> None:
        response = api.get(
            f"{SUPERVISION}/completion-time",
            params=params,
            headers=auth(branch_staff.officer_token),
        )
        body = assert_bilingual(response, 422, "invalid")
        assert [e["field"] for e in body["errors"]] == [field]

    @pytest.mark.parametrize(
        "params",
        [
            {"from": "2025-13-01"},
            {"to": "yesterday"},
            {"district_code": "37078"},
            {"branch_id": "0"},
            {"branch_id": "9" * 30},
            {"format": "xml"},
        ],
    )
    def test_malformed_filters_are_422_not_500(
        self, api: TestClient, branch_staff: BranchStaff, params: dict[str, str]
    ) -> None:
        response = api.get(
            f"{SUPERVISION}/supplements", params=params, headers=auth(branch_staff.officer_token)
        )
        assert_bilingual(response, 422, "invalid")

    def test_shares_need_a_known_grouping(self, api: TestClient, branch_staff: BranchStaff) -> None:
        response = api.get(
            f"{SUPERVISION}/shares",
            params={"by": "month"},
            headers=auth(branch_staff.officer_token),
        )
        assert_bilingual(response, 422, "invalid")


class TestFigures:
    def test_the_histogram_of_the_known_history(
        self, api: TestClient, branch_staff: BranchStaff, branch_id: int
    ) -> None:
        response = api.get(
            f"{SUPERVISION}/completion-time",
            params={**MARCH, "branch_id": branch_id},
            headers=auth(branch_staff.officer_token),
        )
        body = response.json()
        assert body["count"] == 4
        assert {b["hours"]: b["count"] for b in body["buckets"] if b["count"]} == {
            1: 1,
            3: 1,
            14: 1,
            35: 1,
        }

    def test_csv_has_the_same_figures(
        self, api: TestClient, branch_staff: BranchStaff, branch_id: int
    ) -> None:
        response = api.get(
            f"{SUPERVISION}/shares",
            params={**MARCH, "branch_id": branch_id, "by": "week", "format": "csv"},
            headers=auth(branch_staff.officer_token),
        )
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert [(r["week"], r["count"], r["within_half_day"]) for r in rows] == [
            ("2025-W10", "3", "2"),
            ("2025-W12", "1", "0"),
        ]


def test_every_route_is_documented(api: TestClient) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    for path in FIGURES:
        assert f"{SUPERVISION}/{path}" in paths
    shares = paths[f"{SUPERVISION}/shares"]["get"]
    assert "text/csv" in shares["responses"]["200"]["content"]
    assert {"401", "403", "422"} <= set(shares["responses"])
