"""Least privilege on the JSON API (promise 9): who is let in, what each role may do, and
which filings and personal data each role sees."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from orchestrator.api.app import create_app
from orchestrator.filings import transitions
from orchestrator.filings.models import Filing
from orchestrator.identity.models import Role, Staff
from orchestrator.identity.service import (
    DEFAULT_TOKEN_LIFETIME,
    TokenStatus,
    ensure_branch,
    ensure_staff,
    issue_token,
    list_tokens,
    revoke_token,
)
from orchestrator.privacy import mask_id_number, mask_mobile
from orchestrator.runtime import Runtime
from tests.api import (
    FILINGS,
    Undispatched,
    assert_bilingual,
    auth,
    complete,
    file_undispatched,
    file_via_api,
    post_filing,
    wait_for,
)
from tests.people import BranchStaff

pytestmark = pytest.mark.databases("sqlite", "postgresql")

RESIDENT_ID = re.compile(r"\d{17}[\dX]")
MOBILE = re.compile(r"1[3-9]\d{9}")


@pytest.fixture
def completed(api: TestClient, branch_staff: BranchStaff) -> str:
    """A complete filing of the clerk's branch, every agency's result in its history."""
    code = file_via_api(api, branch_staff)
    wait_for(api, branch_staff.clerk_token, code, complete)
    return code


def personal_numbers(application: dict[str, Any]) -> set[str]:
    """Every resident ID and mobile number a filing's application names."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in ("id_number", "mobile") and isinstance(item, str):
                    found.add(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(application)
    return found


def token_for(
    rt: Runtime,
    username: str,
    *,
    role: Role,
    branch_code: str | None = None,
    active: bool = True,
    issued_ago: timedelta = timedelta(0),
    ttl: timedelta = DEFAULT_TOKEN_LIFETIME,
) -> str:
    """A token for a (new or updated) Shouguang member of staff."""
    with rt.database.transaction() as session:
        branch = None
        if branch_code is not None:
            branch = ensure_branch(
                session, code=branch_code, name=branch_code, bank_code="ABC", district_code="370783"
            )
        staff = ensure_staff(
            session,
            username=username,
            name=username,
            role=role,
            district_code="370783",
            branch=branch,
        )
        staff.active = active
        return issue_token(session, staff, now=rt.clock.now() - issued_ago, ttl=ttl)


class TestAuthentication:
    def test_no_token_is_401_with_a_bearer_challenge(self, api: TestClient) -> None:
        response = api.get(FILINGS)
        assert_bilingual(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"] == "Bearer"

    @pytest.mark.parametrize(
        "authorization",
        ["Bearer ost_not-a-token", "Bearer ", "Basic d2FuZ2Zhbmc6c2VjcmV0", "ost_no_scheme"],
    )
    def test_a_bad_token_is_401(self, api: TestClient, authorization: str) -> None:
        response = api.get(FILINGS, headers={"Authorization": authorization})
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"

    @pytest.mark.parametrize(
        ("username", "days_ago", "status"), [("fresh_clerk", 29, 200), ("expired_clerk", 31, 401)]
    )
    def test_a_token_is_live_until_its_expiry(
        self, onestop: Runtime, api: TestClient, username: str, days_ago: int, status: int
    ) -> None:
        token = token_for(
            onestop,
            username,
            role=Role.CLERK,
            branch_code="SG-ABC-01",
            issued_ago=timedelta(days=days_ago),
            ttl=timedelta(days=30),
        )
        assert api.get(FILINGS, headers=auth(token)).status_code == status

    def test_a_revoked_token_is_401(self, onestop: Runtime, api: TestClient) -> None:
        token = token_for(onestop, "revoked_clerk", role=Role.CLERK, branch_code="SG-ABC-01")
        assert api.get(FILINGS, headers=auth(token)).status_code == 200
        now, max_lifetime = onestop.clock.now(), onestop.settings.token_max_lifetime
        with onestop.database.transaction() as session:
            listed = list_tokens(
                session, username="revoked_clerk", now=now, max_lifetime=max_lifetime
            )
            live = [t.id for t in listed.tokens if t.status == TokenStatus.LIVE]
            for token_id in live:
                revoke_token(session, token_id=token_id, now=now, max_lifetime=max_lifetime)
        assert live
        assert api.get(FILINGS, headers=auth(token)).status_code == 401

    def test_the_token_of_a_deactivated_member_of_staff_is_401(
        self, onestop: Runtime, api: TestClient
    ) -> None:
        token = token_for(onestop, "departed_clerk", role=Role.CLERK, branch_code="SG-ABC-01")
        with onestop.database.transaction() as session:
            staff = session.query(Staff).filter_by(username="departed_clerk").one()
            staff.active = False
        assert api.get(FILINGS, headers=auth(token)).status_code == 401

    def test_every_api_route_requires_a_token(self, onestop: Runtime) -> None:
        app = create_app()
        # FastAPI 0.165 keeps included routers' routes behind a private wrapper in
        # `app.routes`; the OpenAPI document lists every operation publicly.
        operations = [
            (method.upper(), path)
            for path, item in app.openapi()["paths"].items()
            if path.startswith("/api/")
            for method in item
            if (method.upper(), path) not in PUBLIC_OPERATIONS
        ]
        assert len(operations) >= 6
        with TestClient(app) as client:
            for method, template in operations:
                path = re.sub(r"\{[^}]+\}", "OSXXXXXXXXXX", template)
                for headers in ({}, auth("ost_bogus")):
                    response = client.request(method, path, headers=headers, json={})
                    assert response.status_code == 401, (method, template, headers)
                    assert response.headers["WWW-Authenticate"] == "Bearer"


# Anyone may check an e-business licence (电子营业执照): these alone need no token.
PUBLIC_OPERATIONS = {
    ("POST", "/api/v1/licences/verify"),
    ("GET", "/api/v1/licences/check/{token}"),
    ("GET", "/api/v1/licences/{licence_no}"),
}


class TestRoles:
    def test_an_officer_cannot_file(self, api: TestClient, branch_staff: BranchStaff) -> None:
        response = post_filing(api, branch_staff.officer_token)
        assert response.status_code == 403
        assert response.json()["message_zh"] and response.json()["message_en"]

    def test_a_clerk_without_a_branch_sees_nothing_and_cannot_file(
        self, onestop: Runtime, api: TestClient, branch_staff: BranchStaff, completed: str
    ) -> None:
        token = token_for(onestop, "unplaced_clerk", role=Role.CLERK)
        listed = api.get(FILINGS, headers=auth(token)).json()
        assert listed["total"] == 0 and listed["items"] == []
        assert api.get(f"{FILINGS}/{completed}", headers=auth(token)).status_code == 404
        assert post_filing(api, token).status_code == 403


class TestVisibility:
    def test_a_clerk_of_another_branch_neither_sees_nor_lists_it(
        self, api: TestClient, branch_staff: BranchStaff, completed: str
    ) -> None:
        other = auth(branch_staff.other_clerk_token)
        response = api.get(f"{FILINGS}/{completed}", headers=other)
        assert response.status_code == 404  # not 403: its existence is not theirs to know
        assert response.json()["error"] == "not_found"
        listed = api.get(FILINGS, headers=other, params={"page_size": 200}).json()
        assert completed not in {item["tracking_code"] for item in listed["items"]}
        by_branch = api.get(
            FILINGS, headers=other, params={"branch_id": branch_staff.branch_id}
        ).json()
        assert by_branch["total"] == 0

    def test_an_officer_of_another_district_neither_sees_nor_lists_it(
        self, api: TestClient, branch_staff: BranchStaff, completed: str
    ) -> None:
        far = auth(branch_staff.other_district_officer_token)
        assert api.get(f"{FILINGS}/{completed}", headers=far).status_code == 404
        listed = api.get(FILINGS, headers=far, params={"page_size": 200}).json()
        assert completed not in {item["tracking_code"] for item in listed["items"]}
        by_district = api.get(FILINGS, headers=far, params={"district_code": "370783"}).json()
        assert by_district["total"] == 0

    @pytest.mark.parametrize("action", ["cancel", "handover", "materials/staff_roster"])
    @pytest.mark.parametrize(
        ("holder", "status"),
        [
            ("officer_token", 403),  # sees it, but an officer changes no filing
            ("other_clerk_token", 404),  # not 403: its existence is not theirs to know
            ("other_district_officer_token", 404),
        ],
    )
    def test_only_a_clerk_of_its_branch_can_act_on_it(
        self,
        undispatched: Undispatched,
        api: TestClient,
        branch_staff: BranchStaff,
        action: str,
        holder: str,
        status: int,
    ) -> None:
        code = undispatched("staff_roster")
        token = getattr(branch_staff, holder)
        response = api.post(f"{FILINGS}/{code}/{action}", headers=auth(token))
        assert response.status_code == status
        filing = api.get(f"{FILINGS}/{code}", headers=auth(branch_staff.clerk_token)).json()
        assert filing["status"] == "accepted" and len(filing["events"]) == 1

    def test_an_officer_of_the_district_sees_and_lists_it(
        self, api: TestClient, branch_staff: BranchStaff, completed: str
    ) -> None:
        officer = auth(branch_staff.officer_token)
        assert api.get(f"{FILINGS}/{completed}", headers=officer).status_code == 200
        listed = api.get(FILINGS, headers=officer, params={"status": "complete"}).json()
        assert completed in {item["tracking_code"] for item in listed["items"]}

    def test_an_administrator_sees_every_district_masked(
        self, onestop: Runtime, api: TestClient, branch_staff: BranchStaff, completed: str
    ) -> None:
        token = token_for(onestop, "admin", role=Role.ADMIN)
        response = api.get(f"{FILINGS}/{completed}", headers=auth(token))
        assert response.status_code == 200
        rep = response.json()["application"]["legal_representative"]
        assert "*" in rep["id_number"] and "*" in rep["mobile"]
        listed = api.get(FILINGS, headers=auth(token), params={"page_size": 200}).json()
        assert completed in {item["tracking_code"] for item in listed["items"]}


class TestPersonalData:
    def test_the_clerk_of_its_branch_sees_full_resident_ids_and_mobiles(
        self, api: TestClient, branch_staff: BranchStaff, completed: str
    ) -> None:
        filing = api.get(f"{FILINGS}/{completed}", headers=auth(branch_staff.clerk_token)).json()
        application = filing["application"]
        assert RESIDENT_ID.fullmatch(application["legal_representative"]["id_number"])
        assert MOBILE.fullmatch(application["legal_representative"]["mobile"])
        assert all(RESIDENT_ID.fullmatch(s["id_number"]) for s in application["staff"])

    def test_an_officer_sees_them_masked(
        self, api: TestClient, branch_staff: BranchStaff, completed: str
    ) -> None:
        full = api.get(f"{FILINGS}/{completed}", headers=auth(branch_staff.clerk_token)).json()
        response = api.get(f"{FILINGS}/{completed}", headers=auth(branch_staff.officer_token))
        masked = response.json()["application"]
        rep = full["application"]["legal_representative"]
        assert masked["legal_representative"]["id_number"] == mask_id_number(rep["id_number"])
        assert masked["legal_representative"]["id_number"].count("*") == 8
        assert masked["legal_representative"]["mobile"] == mask_mobile(rep["mobile"])
        assert masked["delivery"]["mobile"] == mask_mobile(
            full["application"]["delivery"]["mobile"]
        )
        assert masked["legal_representative"]["name"] == rep["name"]
        # Nowhere in the officer's view, steps' results and events included.
        numbers = personal_numbers(full["application"])
        assert len(numbers) >= 8
        for number in numbers:
            assert number not in response.text

    def test_an_agency_message_quoting_a_resident_id_is_masked_for_officers(
        self, onestop: Runtime, api: TestClient, branch_staff: BranchStaff
    ) -> None:
        # Agencies word their refusals themselves, and some quote the person's number.
        code = file_undispatched(onestop, branch_staff)
        clerk = api.get(f"{FILINGS}/{code}", headers=auth(branch_staff.clerk_token)).json()
        rep = clerk["application"]["legal_representative"]
        message = f"法定代表人{rep['name']}的身份证号码{rep['id_number']}无效，手机{rep['mobile']}"
        with onestop.database.transaction() as session:
            filing = session.scalars(select(Filing).where(Filing.tracking_code == code)).one()
            registration = filing.steps[0].id
            now = onestop.clock.now()
            conn = session.connection()
            assert transitions.claim(conn, registration, now=now, lease_until=now)
            assert transitions.reject(
                conn, registration, now=now, code="invalid_id_number", message=message
            )

        for_clerk = api.get(f"{FILINGS}/{code}", headers=auth(branch_staff.clerk_token))
        assert for_clerk.json()["steps"][0]["reason"] == message  # the clerk must act on it
        for_officer = api.get(f"{FILINGS}/{code}", headers=auth(branch_staff.officer_token))
        assert for_officer.status_code == 200
        view = for_officer.json()
        assert view["status"] == "action_required"
        assert rep["id_number"] not in for_officer.text
        assert rep["mobile"] not in for_officer.text
        assert mask_id_number(rep["id_number"]) in view["steps"][0]["reason"]
        rejected = next(e for e in view["events"] if e["kind"] == "rejected")
        assert mask_mobile(rep["mobile"]) in rejected["detail"]["message"]
