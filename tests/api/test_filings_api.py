"""The filings endpoints of the JSON API, as a bank clerk's software uses them: file, follow,
list, cancel, supplement a 容缺 material, hand over at the branch."""

from __future__ import annotations

import copy
import json
import threading
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from orchestrator.clock import CHINA
from orchestrator.filings import service
from orchestrator.filings.models import Event, Filing
from orchestrator.filings.schemas import FilingInput
from orchestrator.filings.views import mask_id_number
from orchestrator.runtime import Runtime
from tests.api import (
    FILINGS,
    Undispatched,
    auth,
    complete,
    file_undispatched,
    file_via_api,
    new_filing,
    post_filing,
    steps_of,
    supplement,
    wait_for,
)
from tests.factories import ALL_MATERIALS, FULL_WIDTH, graph_steps, resident_id
from tests.people import BranchStaff

pytestmark = pytest.mark.databases("sqlite", "postgresql")


def filings_with_key(rt: Runtime, key: str) -> int:
    with rt.database.transaction() as session:
        return (
            session.scalar(
                select(func.count()).select_from(Filing).where(Filing.idempotency_key == key)
            )
            or 0
        )


def set_behaviour(rt: Runtime, agency: str, **behaviour: Any) -> None:
    assert rt.agencies_url
    httpx.put(
        f"{rt.agencies_url}/_sim/{agency}/behaviour", json=behaviour, timeout=5
    ).raise_for_status()


class TestCreate:
    def test_returns_201_with_tracking_code_steps_and_deadline(
        self, api: TestClient, branch_staff: BranchStaff
    ) -> None:
        response = post_filing(api, branch_staff.clerk_token)
        assert response.status_code == 201, response.text
        filing = response.json()
        assert filing["tracking_code"].startswith("OS") and len(filing["tracking_code"]) == 12
        assert filing["status"] == "accepted"
        assert [s["name"] for s in filing["steps"]] == list(graph_steps())
        assert filing["steps_total"] == len(graph_steps())
        accepted = datetime.fromisoformat(filing["accepted_at"])
        assert datetime.fromisoformat(filing["deadline_at"]) > accepted
        assert accepted.tzinfo is not None
        accepted_event = filing["events"][0]  # the worker may have started already
        assert accepted_event["kind"] == "accepted" and accepted_event["actor"] == "staff:wangfang"

    def test_the_server_stamps_the_filing_date_on_its_clock_in_china(
        self, onestop: Runtime, api: TestClient, branch_staff: BranchStaff
    ) -> None:
        response = post_filing(api, branch_staff.clerk_token)
        assert response.status_code == 201, response.text
        filing = response.json()
        accepted = datetime.fromisoformat(filing["accepted_at"]).astimezone(CHINA)
        assert filing["application"]["filing_date"] == accepted.date().isoformat()
        assert accepted.date() == onestop.clock.now().astimezone(CHINA).date()

    def test_full_width_digits_are_stored_as_ascii(
        self, api: TestClient, branch_staff: BranchStaff
    ) -> None:
        body = new_filing()
        typed = copy.deepcopy(body)
        for person in (typed["legal_representative"], *typed["shareholders"], *typed["staff"]):
            person["id_number"] = person["id_number"].translate(FULL_WIDTH)
            if "mobile" in person:
                person["mobile"] = person["mobile"].translate(FULL_WIDTH)
        typed["district_code"] = typed["district_code"].translate(FULL_WIDTH)
        response = post_filing(api, branch_staff.clerk_token, typed)
        assert response.status_code == 201, response.text
        application = response.json()["application"]
        assert application["legal_representative"] == body["legal_representative"]
        assert application["shareholders"] == body["shareholders"]
        assert application["staff"] == body["staff"]
        assert application["district_code"] == "370783"

    def test_the_account_may_be_at_a_bank_the_district_opens_to_every_branch(
        self, api: TestClient, branch_staff: BranchStaff
    ) -> None:
        # An ABC branch files for an account at Shouguang's rural commercial bank.
        response = post_filing(api, branch_staff.clerk_token, new_filing(bank_code="SGRCB"))
        assert response.status_code == 201, response.text
        assert response.json()["application"]["bank_code"] == "SGRCB"

    def test_the_filing_then_completes(self, api: TestClient, branch_staff: BranchStaff) -> None:
        code = file_via_api(api, branch_staff)
        filing = wait_for(api, branch_staff.clerk_token, code, complete)
        assert set(steps_of(filing).values()) == {"done"}
        assert filing["steps_done"] == len(graph_steps())
        assert filing["credit_code"] and filing["ready_at"] and filing["completed_at"]


class TestIdempotencyKey:
    def test_a_retry_with_the_same_key_returns_the_same_filing(
        self, onestop: Runtime, api: TestClient, branch_staff: BranchStaff
    ) -> None:
        body = new_filing()
        first = post_filing(api, branch_staff.clerk_token, body, key="retry-1")
        again = post_filing(api, branch_staff.clerk_token, body, key="retry-1")
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json()["tracking_code"] == first.json()["tracking_code"]
        assert filings_with_key(onestop, "retry-1") == 1

    def test_a_retry_typed_in_full_width_digits_is_the_same_filing(
        self, api: TestClient, branch_staff: BranchStaff
    ) -> None:
        body = new_filing()
        typed = copy.deepcopy(body)
        typed["legal_representative"]["mobile"] = body["legal_representative"]["mobile"].translate(
            FULL_WIDTH
        )
        first = post_filing(api, branch_staff.clerk_token, body, key="retry-typed")
        again = post_filing(api, branch_staff.clerk_token, typed, key="retry-typed")
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json()["tracking_code"] == first.json()["tracking_code"]

    def test_a_retry_on_another_day_is_the_same_filing(
        self, onestop: Runtime, api: TestClient, branch_staff: BranchStaff
    ) -> None:
        # Filed yesterday (dated yesterday by the server), retried today: the date the server
        # stamped is no part of the application the retry is compared with.
        body = new_filing()
        yesterday = onestop.clock.now() - timedelta(days=1)
        with onestop.database.transaction() as session:
            filed = service.file_filing(
                session,
                actor=branch_staff.clerk,
                staff_id=branch_staff.clerk_id,
                data=FilingInput.model_validate(body),
                idempotency_key="retry-next-day",
                now=yesterday,
                lease_until=yesterday,
                calendar=onestop.calendar,
            )
            code = filed.filing.tracking_code
            stamped = filed.filing.payload["filing_date"]
        assert stamped == yesterday.astimezone(CHINA).date().isoformat()
        again = post_filing(api, branch_staff.clerk_token, body, key="retry-next-day")
        assert again.status_code == 200, again.text
        assert again.json()["tracking_code"] == code
        assert again.json()["application"]["filing_date"] == stamped

    def test_the_same_key_with_a_different_body_is_a_conflict(
        self, onestop: Runtime, api: TestClient, branch_staff: BranchStaff
    ) -> None:
        assert post_filing(api, branch_staff.clerk_token, key="retry-2").status_code == 201
        response = post_filing(api, branch_staff.clerk_token, key="retry-2")
        assert response.status_code == 409
        assert response.json()["message_zh"] and response.json()["message_en"]
        assert filings_with_key(onestop, "retry-2") == 1

    def test_concurrent_posts_with_the_same_key_make_one_filing(
        self, onestop: Runtime, api: TestClient, branch_staff: BranchStaff
    ) -> None:
        body = new_filing()
        start = threading.Barrier(6)
        responses: list[httpx.Response] = []

        def post() -> None:
            start.wait()
            responses.append(post_filing(api, branch_staff.clerk_token, body, key="race-1"))

        threads = [threading.Thread(target=post) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(r.status_code for r in responses) == [200] * 5 + [201]
        assert len({r.json()["tracking_code"] for r in responses}) == 1
        assert filings_with_key(onestop, "race-1") == 1

    @pytest.mark.parametrize(("same_body", "status"), [(True, 200), (False, 409)])
    def test_a_post_that_loses_the_insert_race_answers_like_a_retry(
        self,
        onestop: Runtime,
        api: TestClient,
        branch_staff: BranchStaff,
        monkeypatch: pytest.MonkeyPatch,
        same_body: bool,
        status: int,
    ) -> None:
        # On PostgreSQL two requests can both miss the key and race to insert; the loser
        # hits the unique constraint. Replay that on SQLite: the lookup misses once.
        body = new_filing()
        first = post_filing(api, branch_staff.clerk_token, body, key=f"lost-{same_body}")
        assert first.status_code == 201
        real = service.find_by_idempotency_key
        misses = [True]

        def find(*args: Any, **kwargs: Any) -> Filing | None:
            return None if misses and misses.pop() else real(*args, **kwargs)

        monkeypatch.setattr(service, "find_by_idempotency_key", find)
        retry = body if same_body else new_filing()
        response = post_filing(api, branch_staff.clerk_token, retry, key=f"lost-{same_body}")
        assert response.status_code == status, response.text
        if same_body:
            assert response.json()["tracking_code"] == first.json()["tracking_code"]
        assert filings_with_key(onestop, f"lost-{same_body}") == 1

    def test_an_empty_key_is_refused(
        self, onestop: Runtime, api: TestClient, branch_staff: BranchStaff
    ) -> None:
        for _ in range(2):
            response = post_filing(api, branch_staff.clerk_token, key="")
            assert response.status_code == 422, response.text
        assert filings_with_key(onestop, "") == 0


class TestRead:
    def test_one_filing_with_its_steps_materials_and_events(
        self, api: TestClient, branch_staff: BranchStaff
    ) -> None:
        code = file_via_api(api, branch_staff)
        filing = wait_for(api, branch_staff.clerk_token, code, complete)
        assert filing["tracking_code"] == code
        assert all(s["label_zh"] and s["label_en"] for s in filing["steps"])
        assert {m["code"] for m in filing["materials"]} == set(ALL_MATERIALS)
        kinds = [e["kind"] for e in filing["events"]]
        assert kinds[0] == "accepted" and kinds[-1] == "complete"
        assert kinds.count("done") == len(graph_steps())

    def test_the_list_filters_by_status_and_pages(
        self, onestop: Runtime, api: TestClient, branch_staff: BranchStaff
    ) -> None:
        codes = [file_undispatched(onestop, branch_staff) for _ in range(3)]
        for code in codes:
            cancel = api.post(f"{FILINGS}/{code}/cancel", headers=auth(branch_staff.clerk_token))
            assert cancel.status_code == 200
        listed = api.get(
            FILINGS,
            params={"status": "cancelled", "page_size": 2},
            headers=auth(branch_staff.clerk_token),
        )
        assert listed.status_code == 200
        first = listed.json()
        assert first["page"] == 1 and first["page_size"] == 2
        assert first["total"] >= 3 and len(first["items"]) == 2
        assert all(item["status"] == "cancelled" for item in first["items"])
        second = api.get(
            FILINGS,
            params={"status": "cancelled", "page_size": 2, "page": 2},
            headers=auth(branch_staff.clerk_token),
        ).json()
        assert second["total"] == first["total"]
        seen = [item["tracking_code"] for item in first["items"] + second["items"]]
        assert len(set(seen)) == len(seen)
        # newest first: the last three filed lead the list
        assert seen[:3] == codes[::-1]

    def test_the_list_shows_summaries_without_personal_data(
        self, api: TestClient, branch_staff: BranchStaff
    ) -> None:
        file_via_api(api, branch_staff)
        items = api.get(FILINGS, headers=auth(branch_staff.clerk_token)).json()["items"]
        assert items and "application" not in items[0] and "steps" not in items[0]


class TestCancel:
    def test_cancel_before_registration_is_sent(
        self, onestop: Runtime, api: TestClient, branch_staff: BranchStaff
    ) -> None:
        code = file_undispatched(onestop, branch_staff)
        response = api.post(f"{FILINGS}/{code}/cancel", headers=auth(branch_staff.clerk_token))
        assert response.status_code == 200, response.text
        filing = response.json()
        assert filing["status"] == "cancelled"
        assert set(steps_of(filing).values()) == {"cancelled"}
        assert filing["events"][-1]["kind"] == "cancelled"

    def test_cancelling_twice_is_harmless(
        self, onestop: Runtime, api: TestClient, branch_staff: BranchStaff
    ) -> None:
        code = file_undispatched(onestop, branch_staff)
        for _ in range(2):
            response = api.post(f"{FILINGS}/{code}/cancel", headers=auth(branch_staff.clerk_token))
            assert response.status_code == 200
        history = [(e["kind"], e["step"]) for e in response.json()["events"]]
        assert history.count(("cancelled", None)) == 1  # the filing's; each step's once too
        assert history.count(("cancelled", "registration")) == 1

    def test_cancel_after_registration_is_done_is_a_conflict(
        self, api: TestClient, branch_staff: BranchStaff
    ) -> None:
        token = branch_staff.clerk_token
        code = file_via_api(api, branch_staff)
        wait_for(api, token, code, lambda f: steps_of(f)["registration"] == "done")
        response = api.post(f"{FILINGS}/{code}/cancel", headers=auth(token))
        assert response.status_code == 409
        body = response.json()
        assert body["error"] == "conflict"
        assert "无法撤销" in body["message_zh"] and "cannot be cancelled" in body["message_en"]
        wait_for(api, token, code, complete)

    def test_cancel_while_registration_awaits_a_retry_is_a_conflict(
        self, onestop: Runtime, api: TestClient, branch_staff: BranchStaff
    ) -> None:
        # A failed attempt may still have reached the agency: the request counts as sent.
        token = branch_staff.clerk_token
        set_behaviour(onestop, "registration", transient_error_rate=1.0)
        code = file_via_api(api, branch_staff)
        wait_for(
            api,
            token,
            code,
            lambda f: any(e["kind"] == "retry_scheduled" for e in f["events"]),
        )
        response = api.post(f"{FILINGS}/{code}/cancel", headers=auth(token))
        assert response.status_code == 409, response.text
        set_behaviour(onestop, "registration")
        wait_for(api, token, code, complete)


class TestSupplement:
    def test_a_supplied_material_unblocks_its_step_and_the_filing_completes(
        self, api: TestClient, branch_staff: BranchStaff
    ) -> None:
        token = branch_staff.clerk_token
        provided = [m for m in ALL_MATERIALS if m != "housing_fund_authorisation"]
        code = file_via_api(api, branch_staff, materials=provided)
        blocked = wait_for(
            api,
            token,
            code,
            lambda f: (
                steps_of(f)["housing_fund"] == "blocked" and steps_of(f)["bank_account"] == "done"
            ),
        )
        missing = {m["code"]: m for m in blocked["materials"]}["housing_fund_authorisation"]
        assert missing["status"] == "missing" and missing["blocks"] == ["housing_fund"]
        assert steps_of(blocked)["delivery"] == "waiting"

        response = supplement(api, branch_staff.clerk_token, code, "housing_fund_authorisation")
        assert response.status_code == 200, response.text
        supplied = response.json()
        assert steps_of(supplied)["housing_fund"] != "blocked"
        material = {m["code"]: m for m in supplied["materials"]}["housing_fund_authorisation"]
        assert material["status"] == "supplemented" and material["supplied_at"]
        filing = wait_for(api, token, code, complete)
        assert "unblocked" in [e["kind"] for e in filing["events"]]

    def test_an_unknown_material_is_not_found(
        self, undispatched: Undispatched, api: TestClient, branch_staff: BranchStaff
    ) -> None:
        code = undispatched()
        for material in ("no_such_material", "articles_of_association"):  # unknown, provided
            response = supplement(api, branch_staff.clerk_token, code, material)
            assert response.status_code == 404, response.text
            assert response.json()["message_zh"] and response.json()["message_en"]

    def test_a_supplement_carries_only_supplementable_data(
        self, undispatched: Undispatched, api: TestClient, branch_staff: BranchStaff
    ) -> None:
        code = undispatched("staff_roster")
        data = {"address": "山东省寿光市文圣街1号"}
        response = supplement(api, branch_staff.clerk_token, code, "staff_roster", data)
        assert response.status_code == 422
        errors = response.json()["errors"]
        assert [(e["field"], e["code"]) for e in errors] == [
            ("data.address", "not_carried_by_material")
        ]
        unchanged = api.get(f"{FILINGS}/{code}", headers=auth(branch_staff.clerk_token)).json()
        material = {m["code"]: m for m in unchanged["materials"]}["staff_roster"]
        assert material["status"] == "missing"

    def test_a_supplement_may_not_write_another_materials_field(
        self, undispatched: Undispatched, api: TestClient, branch_staff: BranchStaff
    ) -> None:
        code = undispatched("staff_roster", "finance_tax_agents")
        token = branch_staff.clerk_token
        before = api.get(f"{FILINGS}/{code}", headers=auth(token)).json()
        officer = {
            "name": "赵敏",
            "id_number": resident_id(date(1991, 4, 2)),
            "mobile": "13912345678",
        }
        data = {"staff": [], "finance_officer": officer}
        response = supplement(api, branch_staff.clerk_token, code, "staff_roster", data)
        assert response.status_code == 422, response.text
        (error,) = response.json()["errors"]
        assert (error["field"], error["code"]) == (
            "data.finance_officer",
            "not_carried_by_material",
        )
        assert "员工花名册" in error["message_zh"] and "staff" in error["message_en"]
        after = api.get(f"{FILINGS}/{code}", headers=auth(token)).json()
        assert after["application"] == before["application"]
        assert after["materials"] == before["materials"]

    def test_a_supplement_records_what_it_changed_with_numbers_masked(
        self,
        undispatched: Undispatched,
        onestop: Runtime,
        api: TestClient,
        branch_staff: BranchStaff,
    ) -> None:
        code = undispatched("staff_roster", staff=[])
        number = resident_id(date(1996, 8, 8), sequence=555)
        data = {"staff": [{"name": "周杰", "id_number": number.translate(FULL_WIDTH)}]}
        response = supplement(api, branch_staff.clerk_token, code, "staff_roster", data)
        assert response.status_code == 200, response.text
        filing = response.json()
        assert filing["application"]["staff"] == [{"name": "周杰", "id_number": number}]
        (event,) = [e for e in filing["events"] if e["kind"] == "material_supplemented"]
        assert event["detail"] == {
            "material": "staff_roster",
            "changed": {
                "staff": {
                    "before": [],
                    "after": [{"name": "周杰", "id_number": mask_id_number(number)}],
                }
            },
        }
        with onestop.database.transaction() as session:
            stored = session.scalars(
                select(Event.detail)
                .join(Filing)
                .where(Filing.tracking_code == code, Event.kind == "material_supplemented")
            ).one()
        assert number not in json.dumps(stored)

    def test_a_supplement_without_data_changes_nothing(
        self, undispatched: Undispatched, api: TestClient, branch_staff: BranchStaff
    ) -> None:
        code = undispatched("housing_fund_authorisation")
        response = supplement(api, branch_staff.clerk_token, code, "housing_fund_authorisation")
        assert response.status_code == 200, response.text
        (event,) = [e for e in response.json()["events"] if e["kind"] == "material_supplemented"]
        assert event["detail"] == {"material": "housing_fund_authorisation", "changed": {}}

    def test_supplemented_data_is_validated_like_the_filing(
        self, undispatched: Undispatched, api: TestClient, branch_staff: BranchStaff
    ) -> None:
        code = undispatched("staff_roster")
        data = {"staff": [{"name": "张伟", "id_number": "370783199801091235"}]}
        response = supplement(api, branch_staff.clerk_token, code, "staff_roster", data)
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == ["data.staff.0.id_number"]

    def test_a_material_is_supplemented_once(
        self, undispatched: Undispatched, api: TestClient, branch_staff: BranchStaff
    ) -> None:
        code = undispatched("staff_roster")
        assert supplement(api, branch_staff.clerk_token, code, "staff_roster").status_code == 200
        again = supplement(api, branch_staff.clerk_token, code, "staff_roster", {"staff": []})
        assert again.status_code == 409, again.text
        filing = api.get(f"{FILINGS}/{code}", headers=auth(branch_staff.clerk_token)).json()
        assert len(filing["application"]["staff"]) == 2
        kinds = [e["kind"] for e in filing["events"]]
        assert kinds.count("material_supplemented") == 1


class TestHandover:
    def test_hand_over_only_once_licence_and_seals_are_at_the_branch(
        self, api: TestClient, branch_staff: BranchStaff
    ) -> None:
        token = branch_staff.clerk_token
        code = file_via_api(api, branch_staff, delivery={"method": "branch_pickup"})
        early = api.post(f"{FILINGS}/{code}/handover", headers=auth(token))
        assert early.status_code == 409
        assert early.json()["message_zh"] and early.json()["message_en"]

        waiting = wait_for(
            api, token, code, lambda f: steps_of(f)["delivery"] == "at_branch", timeout=30
        )
        assert waiting["status"] == "ready" and waiting["completed_at"] is None
        response = api.post(f"{FILINGS}/{code}/handover", headers=auth(token))
        assert response.status_code == 200, response.text
        filing = response.json()
        assert filing["status"] == "complete" and filing["completed_at"]
        assert steps_of(filing)["delivery"] == "done"
        again = api.post(f"{FILINGS}/{code}/handover", headers=auth(token))
        assert again.status_code == 409


class TestOpenApi:
    def test_the_schema_is_served_and_lists_the_filings_paths(self, api: TestClient) -> None:
        response = api.get("/openapi.json")
        assert response.status_code == 200
        schema = response.json()
        paths = schema["paths"]
        assert set(paths) >= {
            FILINGS,
            f"{FILINGS}/{{tracking_code}}",
            f"{FILINGS}/{{tracking_code}}/cancel",
            f"{FILINGS}/{{tracking_code}}/handover",
            f"{FILINGS}/{{tracking_code}}/materials/{{material_code}}",
        }
        create = paths[FILINGS]["post"]
        assert {"201", "200", "422"} <= set(create["responses"])
        assert any(p["name"] == "Idempotency-Key" for p in create["parameters"])
        assert "FilingInput" in schema["components"]["schemas"]
