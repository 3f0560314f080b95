"""Branch staff correct the fields an agency's refusal names, and the step runs again once.

End to end in the embedded mode (SQLite and PostgreSQL), as the portal calls the service.
"""

from __future__ import annotations

from typing import Any

import pytest

from integrations.bank_precheck import BankPrecheckAdapter
from integrations.base import RejectedError
from integrations.registration import RegistrationAdapter
from orchestrator.errors import Invalid
from orchestrator.filings import corrections, service
from orchestrator.filings.models import FilingStatus
from orchestrator.runtime import Runtime
from tests.factories import TRADE_NAMES
from tests.filings import complete, duplicate_effects, events, file, set_behaviour, wait_for
from tests.people import BranchStaff

REGISTERED = "鑫达"  # on Shouguang's register already (integrations/simulators/data)


def refusals(rt: Runtime, code: str) -> list[corrections.Refusal]:
    with rt.database.reading() as session:
        filing = service.get_filing(session, service.Scope(everything=True), code)
        return corrections.refusals(filing, service.events_of(session, filing))


def correct(rt: Runtime, staff: BranchStaff, code: str, step: str, **changes: Any) -> None:
    with rt.database.transaction() as session:
        corrections.correct_and_resubmit(
            session,
            actor=staff.clerk,
            tracking_code=code,
            step=step,
            changes={path.replace("__", "."): value for path, value in changes.items()},
            now=rt.clock.now(),
            lease_until=rt.clock.after(rt.settings.step_lease_seconds),
        )


@pytest.fixture
def name_refused(onestop: Runtime, branch_staff: BranchStaff) -> str:
    """The code of a filing whose registration the bureau refused for its name, before the
    bank's identity pre-check (which reads the name too) has finished: nothing used the name
    yet."""
    set_behaviour(onestop, "bank_precheck", outage=True)
    code = file(onestop, branch_staff, trade_name=REGISTERED)
    wait_for(onestop, code, lambda f: f.status == FilingStatus.ACTION_REQUIRED)
    return code


@pytest.mark.databases("sqlite", "postgresql")
class TestRefusals:
    def test_the_bureau_names_the_fields_of_the_name(
        self, onestop: Runtime, name_refused: str
    ) -> None:
        (refusal,) = refusals(onestop, name_refused)
        assert refusal.step == "registration"
        assert refusal.code == "name_conflict"
        assert REGISTERED in refusal.message
        assert "company_name.trade_name" in refusal.editable
        assert not any(path.startswith("legal_representative") for path in refusal.fields)


@pytest.mark.databases("sqlite", "postgresql")
class TestCorrectAndResubmit:
    def test_a_corrected_name_is_registered_once_and_the_filing_completes(
        self, onestop: Runtime, branch_staff: BranchStaff, name_refused: str
    ) -> None:
        set_behaviour(onestop, "bank_precheck", outage=False)
        new_name = next(TRADE_NAMES)

        correct(
            onestop, branch_staff, name_refused, "registration", company_name__trade_name=new_name
        )

        filing = wait_for(onestop, name_refused, complete, timeout=30)
        assert new_name in filing.company_name
        assert filing.payload["company_name"]["trade_name"] == new_name
        history = events(onestop, name_refused)
        kinds = [(e.kind, e.step) for e in history]
        assert kinds.count(("done", "registration")) == 1
        assert ("resubmitted", "registration") in kinds
        (corrected,) = [e for e in history if e.kind == "corrected"]
        assert corrected.detail["changed"] == {
            "company_name.trade_name": {"before": REGISTERED, "after": new_name}
        }
        assert duplicate_effects(onestop) == 0

    def test_a_field_the_refusal_does_not_concern_is_refused(
        self, onestop: Runtime, branch_staff: BranchStaff, name_refused: str
    ) -> None:
        with pytest.raises(Invalid) as refused:
            correct(onestop, branch_staff, name_refused, "registration", address="寿光市别处1号")
        assert [e["field"] for e in refused.value.detail["errors"]] == ["address"]
        assert refusals(onestop, name_refused)  # still rejected, nothing sent
        assert (
            wait_for(onestop, name_refused, lambda f: True).status == FilingStatus.ACTION_REQUIRED
        )

    def test_an_invalid_value_is_refused_as_at_intake(
        self, onestop: Runtime, branch_staff: BranchStaff, name_refused: str
    ) -> None:
        with pytest.raises(Invalid) as refused:
            correct(
                onestop, branch_staff, name_refused, "registration", company_name__trade_name="A"
            )
        (error,) = refused.value.detail["errors"]
        assert error["field"] == "company_name.trade_name"
        assert error["message_zh"] and error["message_en"]
        stored = wait_for(onestop, name_refused, lambda f: True)
        assert stored.payload["company_name"]["trade_name"] == REGISTERED

    def test_a_field_a_finished_step_used_is_locked(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        code = file(onestop, branch_staff, trade_name=REGISTERED)  # the pre-check may finish
        wait_for(
            onestop,
            code,
            lambda f: (
                f.status == FilingStatus.ACTION_REQUIRED
                and any(s.name == "bank_precheck" and s.status == "done" for s in f.steps)
            ),
        )
        (refusal,) = refusals(onestop, code)
        assert refusal.locked["company_name.trade_name"] == "bank_precheck"
        assert "company_name.trade_name" not in refusal.editable
        with pytest.raises(Invalid):
            correct(onestop, branch_staff, code, "registration", company_name__trade_name="禾润")


class TestAdapterFields:
    def test_the_agency_s_paths_become_the_request_s(self) -> None:
        adapter = RegistrationAdapter.__new__(RegistrationAdapter)
        assert adapter.request_path("investors.1.cert_no") == "shareholders.1.id_number"
        assert adapter.request_path("enterprise_name") == "company_name"
        assert adapter.request_path("legal_representative.phone") == "legal_representative.mobile"
        assert adapter.request_path("no_such_field") is None

    def test_the_bank_s_paths_become_the_request_s(self) -> None:
        adapter = BankPrecheckAdapter.__new__(BankPrecheckAdapter)
        assert adapter.request_path("shareholder.0.cert_no") == "shareholders.0.id_number"
        assert adapter.request_path("account_name") == "company_name"

    def test_a_refusal_without_fields_names_none(self) -> None:
        assert RejectedError("no", code="x").fields == ()


class TestMasking:
    def test_ids_and_mobiles_in_the_history_are_masked(self) -> None:
        assert corrections.masked_value("shareholders.0.id_number", "370783199001011234") == (
            "370783********1234"
        )
        assert corrections.masked_value("legal_representative.mobile", "13812341234") == (
            "138****1234"
        )
        assert corrections.masked_value("address", "寿光市1号") == "寿光市1号"
