"""Each adapter against its simulated agency over real HTTP: outcomes, rules, faults."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from integrations.base import (
    AgencyAdapter,
    BlockedError,
    Done,
    Pending,
    RejectedError,
    TransientError,
)
from integrations.codes import is_valid_uscc, luhn_check_digit
from integrations.registry import build_adapters, close_adapters
from integrations.requests import SealRequest, StaffMember
from integrations.simulators.server import BackgroundServer
from orchestrator.filings.agency_requests import reserved_specimens
from orchestrator.reference import load_reference
from tests.integrations.agency_factories import (
    DISTRICT,
    REQUEST_FACTORIES,
    RESULT_KEYS,
    Adapters,
    bank_account_request,
    bank_precheck_request,
    courier_request,
    credit_code,
    housing_fund_request,
    medical_insurance_request,
    new_key,
    person,
    registration_request,
    resident_id,
    seal_request,
    shareholder,
    social_insurance_request,
    staff,
    tax_request,
    trade_name,
)
from tests.integrations.conftest import SimControl

AGENCIES = list(REQUEST_FACTORIES)
ROSTER_AGENCIES = ["social_insurance", "medical_insurance", "housing_fund"]


def rejection(adapter: AgencyAdapter[Any], request: Any) -> RejectedError:
    """The agency's rejection of `request` submitted under a new key (none fails the test)."""
    with pytest.raises(RejectedError) as caught:
        adapter.submit(request, idempotency_key=new_key())
    return caught.value


def wait_done(adapter: AgencyAdapter[Any], key: str, *, limit: float = 5.0) -> Done:
    """Poll `status` as the orchestrator would, honouring retry_after."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        outcome = adapter.status(key)
        if isinstance(outcome, Done):
            return outcome
        assert isinstance(outcome, Pending)
        time.sleep(min(outcome.retry_after, 0.1))
    raise AssertionError(f"{key} not done within {limit} s")


@pytest.mark.parametrize("agency", AGENCIES)
class TestEveryAgency:
    def test_happy_path_answers_done_in_our_vocabulary(
        self, agency: str, adapters: Adapters, sim: SimControl
    ) -> None:
        key = new_key(agency)
        outcome = adapters[agency].submit(REQUEST_FACTORIES[agency](), idempotency_key=key)
        assert isinstance(outcome, Done)
        assert RESULT_KEYS[agency] <= set(outcome.result)
        assert sim.effects(agency) == {key: 1}

    def test_repeated_submit_returns_the_first_result_and_acts_once(
        self, agency: str, adapters: Adapters, sim: SimControl
    ) -> None:
        key = new_key(agency)
        request = REQUEST_FACTORIES[agency]()
        first = adapters[agency].submit(request, idempotency_key=key)
        second = adapters[agency].submit(request, idempotency_key=key)
        assert first == second
        assert sim.effects(agency) == {key: 1}
        assert sim.report()["duplicates"] == 0

    def test_status_finds_the_request_by_key(
        self, agency: str, adapters: Adapters, sim: SimControl
    ) -> None:
        key = new_key(agency)
        submitted = adapters[agency].submit(REQUEST_FACTORIES[agency](), idempotency_key=key)
        assert adapters[agency].status(key) == submitted

    def test_status_of_an_unknown_key_is_none(
        self, agency: str, adapters: Adapters, sim: SimControl
    ) -> None:
        assert adapters[agency].status(new_key("never-sent")) is None

    def test_slow_agency_answers_pending_then_done(
        self, agency: str, adapters: Adapters, sim: SimControl
    ) -> None:
        sim.behave(agency, latency_ms=300, sync_limit_ms=50)
        key = new_key(agency)
        request = REQUEST_FACTORIES[agency]()
        outcome = adapters[agency].submit(request, idempotency_key=key)
        assert isinstance(outcome, Pending)
        assert 0 < outcome.retry_after <= 0.3
        assert isinstance(adapters[agency].status(key), Pending)
        # Submitting again while the agency works changes nothing.
        assert isinstance(adapters[agency].submit(request, idempotency_key=key), Pending)
        done = wait_done(adapters[agency], key)
        assert RESULT_KEYS[agency] <= set(done.result)
        assert adapters[agency].submit(request, idempotency_key=key) == done
        assert sim.effects(agency) == {key: 1}

    def test_latency_within_the_sync_limit_is_waited_out(
        self, agency: str, adapters: Adapters, sim: SimControl
    ) -> None:
        sim.behave(agency, latency_ms=150)
        started = time.monotonic()
        outcome = adapters[agency].submit(REQUEST_FACTORIES[agency](), idempotency_key=new_key())
        assert isinstance(outcome, Done)
        assert time.monotonic() - started >= 0.14

    @pytest.mark.parametrize("mode", ["http_500", "drop"])
    def test_lost_reply_is_transient_and_status_finds_the_committed_result(
        self, agency: str, mode: str, adapters: Adapters, sim: SimControl
    ) -> None:
        sim.behave(agency, lost_reply_rate=1.0, lost_reply_mode=mode)
        key = new_key(agency)
        request = REQUEST_FACTORIES[agency]()
        with pytest.raises(TransientError):
            adapters[agency].submit(request, idempotency_key=key)
        found = adapters[agency].status(key)
        assert isinstance(found, Done)
        sim.behave(agency)
        assert adapters[agency].submit(request, idempotency_key=key) == found
        assert sim.effects(agency) == {key: 1}

    def test_outage_is_transient_and_does_nothing(
        self, agency: str, adapters: Adapters, sim: SimControl
    ) -> None:
        sim.behave(agency, outage=True)
        key = new_key(agency)
        with pytest.raises(TransientError):
            adapters[agency].submit(REQUEST_FACTORIES[agency](), idempotency_key=key)
        with pytest.raises(TransientError):
            adapters[agency].status(key)
        assert sim.effects(agency) == {}

    def test_transient_errors_come_before_any_action(
        self, agency: str, adapters: Adapters, sim: SimControl
    ) -> None:
        sim.behave(agency, transient_error_rate=1.0)
        key = new_key(agency)
        with pytest.raises(TransientError) as caught:
            adapters[agency].submit(REQUEST_FACTORIES[agency](), idempotency_key=key)
        assert caught.value.code == "http_503"
        sim.behave(agency)
        assert adapters[agency].status(key) is None


class TestExactlyOnce:
    def test_a_timeout_is_transient_and_status_tells_what_happened(
        self, simulator_server: BackgroundServer, sim: SimControl
    ) -> None:
        impatient = build_adapters(simulator_server.base_url, timeout=0.2)
        try:
            sim.behave("seal", latency_ms=600)
            key = new_key("seal")
            with pytest.raises(TransientError) as caught:
                impatient["seal"].submit(seal_request(), idempotency_key=key)
            assert caught.value.code == "timeout"
            assert isinstance(impatient["seal"].status(key), Pending)
            wait_done(impatient["seal"], key)
            assert sim.effects("seal") == {key: 1}
        finally:
            close_adapters(impatient)

    def test_calls_are_cheap_enough_for_hundreds_per_second(
        self, adapters: Adapters, sim: SimControl
    ) -> None:
        request = social_insurance_request()
        started = time.monotonic()
        for _ in range(50):
            adapters["social_insurance"].submit(request, idempotency_key=new_key())
        assert time.monotonic() - started < 1.0  # ~1 ms each; Nagle's 40 ms would show here

    def test_concurrent_submits_under_one_key_act_once(
        self, adapters: Adapters, sim: SimControl
    ) -> None:
        key = new_key("bank")
        request = bank_account_request()
        with ThreadPoolExecutor(max_workers=16) as pool:
            outcomes = list(
                pool.map(
                    lambda _: adapters["bank_account"].submit(request, idempotency_key=key),
                    range(32),
                )
            )
        assert all(o == outcomes[0] for o in outcomes)
        assert sim.effects("bank_account") == {key: 1}

    def test_a_flaky_agency_still_acts_once_per_key(
        self, adapters: Adapters, sim: SimControl
    ) -> None:
        # The orchestrator's loop in miniature: ask status first, submit only if unknown.
        sim.behave("bank_account", transient_error_rate=0.3, lost_reply_rate=0.3)
        adapter = adapters["bank_account"]
        keys = [new_key("flaky") for _ in range(20)]
        for key in keys:
            request = bank_account_request()
            for _ in range(100):
                try:
                    outcome = adapter.status(key) or adapter.submit(request, idempotency_key=key)
                except TransientError:
                    continue
                if isinstance(outcome, Done):
                    break
            else:
                raise AssertionError(f"{key} never done")
        report = sim.report()
        assert report["effects"]["bank_account"] == dict.fromkeys(keys, 1)
        assert report["duplicates"] == 0
        assert report["subject_duplicates"] == 0


class TestRegistration:
    def test_issues_a_valid_credit_code_for_the_district(
        self, adapters: Adapters, sim: SimControl
    ) -> None:
        outcome = adapters["registration"].submit(registration_request(), idempotency_key=new_key())
        assert isinstance(outcome, Done)
        code = outcome.result["credit_code"]
        assert isinstance(code, str) and is_valid_uscc(code)
        assert code.startswith("91" + DISTRICT)

    @pytest.mark.parametrize(
        ("changes", "code", "said"),
        [
            pytest.param(
                {"company_name": "寿光市鑫达食品有限公司"},
                "name_conflict",
                "寿光市鑫达农业科技有限公司",
                id="a trade name registered in the district",
            ),
            pytest.param(
                {"address": "浙江省宁波市江北区人民路1号"},  # Shouguang's bureau
                "address_outside_district",
                "寿光市",
                id="a domicile outside the bureau's district",
            ),
            pytest.param(
                {"company_name": f"寿光{trade_name()}中国农业有限公司"},
                "prohibited_word",
                "中国",
                id="a prohibited word",
            ),
            pytest.param(
                {"legal_representative": person(id_number="370783198806010010")},
                "invalid_id_number",
                "370783198806010010",
                id="an invalid resident ID",
            ),
        ],
    )
    def test_rejects(
        self, changes: dict[str, Any], code: str, said: str, adapters: Adapters, sim: SimControl
    ) -> None:
        refusal = rejection(adapters["registration"], registration_request(**changes))
        assert refusal.code == code
        assert said in refusal.message

    def test_the_same_trade_name_is_free_in_another_district(
        self, adapters: Adapters, sim: SimControl
    ) -> None:
        request = registration_request(
            district_code="330205",
            company_name="宁波鑫达食品有限公司",
            address="浙江省宁波市江北区人民路1号",
        )
        assert isinstance(adapters["registration"].submit(request, idempotency_key=new_key()), Done)

    def test_a_new_registration_takes_its_trade_name(
        self, adapters: Adapters, sim: SimControl
    ) -> None:
        name = trade_name()
        first = registration_request(company_name=f"寿光市{name}农业科技有限公司")
        second = registration_request(company_name=f"山东{name}物流有限公司")
        adapters["registration"].submit(first, idempotency_key=new_key())
        refusal = rejection(adapters["registration"], second)
        assert refusal.code == "name_conflict"

    def test_a_rejection_does_not_use_the_key_up(self, adapters: Adapters, sim: SimControl) -> None:
        key = new_key()
        with pytest.raises(RejectedError):
            adapters["registration"].submit(
                registration_request(company_name="寿光市鑫达食品有限公司"), idempotency_key=key
            )
        with pytest.raises(RejectedError):
            adapters["registration"].status(key)
        corrected = registration_request()
        assert isinstance(adapters["registration"].submit(corrected, idempotency_key=key), Done)
        assert sim.effects("registration") == {key: 1}


class TestUnitRegistrations:
    """Tax, social and medical insurance and the housing fund each register the company as a
    unit: the same checks of the company and its staff, each agency's own numbers."""

    @pytest.mark.parametrize("agency", ["tax", *ROSTER_AGENCIES])
    def test_an_invalid_credit_code_is_refused_and_nothing_is_done(
        self, agency: str, adapters: Adapters, sim: SimControl
    ) -> None:
        request = REQUEST_FACTORIES[agency](credit_code="91370783MA3C0DE00X")
        refusal = rejection(adapters[agency], request)
        assert refusal.code == "invalid_credit_code"
        assert refusal.fields == ("credit_code",)
        assert sim.effects(agency) == {}

    @pytest.mark.parametrize("agency", ROSTER_AGENCIES)
    def test_a_roster_naming_a_person_twice_is_refused(
        self, agency: str, adapters: Adapters, sim: SimControl
    ) -> None:
        request = REQUEST_FACTORIES[agency](staff=staff(1) * 2)
        refusal = rejection(adapters[agency], request)
        assert refusal.code == "duplicate_employee"
        assert refusal.fields == ("staff.0.id_number", "staff.1.id_number")  # either is wrong

    @pytest.mark.parametrize("agency", ROSTER_AGENCIES)
    def test_a_roster_with_an_invalid_resident_id_is_refused(
        self, agency: str, adapters: Adapters, sim: SimControl
    ) -> None:
        valid = resident_id()
        wrong_check = valid[:-1] + ("0" if valid[-1] != "0" else "1")
        request = REQUEST_FACTORIES[agency](
            staff=(*staff(1), StaffMember(name="赵某", id_number=wrong_check))
        )
        refusal = rejection(adapters[agency], request)
        assert refusal.code == "invalid_id_number" and "赵某" in refusal.message
        assert refusal.fields == ("staff.1.id_number",)

    @pytest.mark.parametrize(
        ("agency", "number", "form"),
        [
            ("tax", "ukey_serial", r"661([0-9]{9})"),
            ("social_insurance", "unit_account", rf"{DISTRICT}([0-9]{{9}})"),
            ("medical_insurance", "unit_account", rf"YB{DISTRICT}([0-9]{{8}})"),
            ("housing_fund", "unit_account", rf"GJJ{DISTRICT}([0-9]{{8}})"),
        ],
    )
    def test_each_agency_numbers_from_its_own_sequence_in_its_own_format(
        self, agency: str, number: str, form: str, adapters: Adapters, sim: SimControl
    ) -> None:
        sequence = []
        for _ in range(2):
            outcome = adapters[agency].submit(
                REQUEST_FACTORIES[agency](), idempotency_key=new_key()
            )
            assert isinstance(outcome, Done)
            issued = re.fullmatch(form, str(outcome.result[number]))
            assert issued is not None, outcome.result[number]
            sequence.append(int(issued[1]))
        assert sequence[1] == sequence[0] + 1


class TestOtherRules:
    def test_seal_rejects_an_invalid_credit_code(self, adapters: Adapters, sim: SimControl) -> None:
        refusal = rejection(adapters["seal"], seal_request(credit_code="91370783MA3C0DE00X"))
        assert refusal.code == "invalid_credit_code"
        assert refusal.fields == ("credit_code",)

    def test_seal_returns_one_code_per_kind(self, adapters: Adapters, sim: SimControl) -> None:
        outcome = adapters["seal"].submit(
            seal_request(seals=("official", "finance")), idempotency_key=new_key()
        )
        assert isinstance(outcome, Done)
        codes = outcome.result["seal_codes"]
        assert isinstance(codes, dict) and set(codes) == {"official", "finance"}
        assert len(set(codes.values())) == 2

    @pytest.mark.parametrize(
        ("bank", "length", "luhn"),
        [
            ("ICBC", 19, True),
            ("ABC", 19, False),
            ("CCB", 20, False),
            ("PSBC", 18, False),
            ("SGRCB", 18, True),
        ],
    )
    def test_bank_numbers_accounts_in_its_own_format(
        self, bank: str, length: int, luhn: bool, adapters: Adapters, sim: SimControl
    ) -> None:
        numbers = []
        for _ in range(2):
            outcome = adapters["bank_account"].submit(
                bank_account_request(bank_code=bank), idempotency_key=new_key()
            )
            assert isinstance(outcome, Done)
            assert outcome.result["bank_code"] == bank
            numbers.append(str(outcome.result["account_number"]))
        assert numbers[0] != numbers[1]
        expected = load_reference().banks[bank].account_number  # what OneStop expects
        for number in numbers:
            assert len(number) == length and number.isdigit()
            assert expected.matches(number)
            if luhn:
                assert luhn_check_digit(number[:-1]) == number[-1]

    @pytest.mark.parametrize("agency", ["bank_account", "bank_precheck"])
    def test_bank_refuses_a_blacklisted_shareholder(
        self, agency: str, adapters: Adapters, sim: SimControl
    ) -> None:
        listed = shareholder("赵某", 30.0, id_number="370783197503124019")
        request = REQUEST_FACTORIES[agency](shareholders=(shareholder("张伟", 70.0), listed))
        refusal = rejection(adapters[agency], request)
        assert refusal.code == "blacklisted_person"
        assert "赵某" in refusal.message
        assert refusal.fields == ("shareholders.1.name", "shareholders.1.id_number")

    def test_registration_names_the_field_of_a_refused_name(
        self, adapters: Adapters, sim: SimControl
    ) -> None:
        request = REQUEST_FACTORIES["registration"](company_name="寿光市鑫达农业科技有限公司")
        refusal = rejection(adapters["registration"], request)
        assert refusal.code == "name_conflict"
        assert refusal.fields == ("company_name",)

    def test_tax_is_blocked_without_finance_officer_until_supplied(
        self, adapters: Adapters, sim: SimControl
    ) -> None:
        key = new_key("tax")
        with pytest.raises(BlockedError) as caught:
            adapters["tax"].submit(tax_request(finance_officer=None), idempotency_key=key)
        assert caught.value.code == "material_missing"
        assert caught.value.materials == ("finance_tax_agents",)  # the bureau says finance_officer
        with pytest.raises(BlockedError):
            adapters["tax"].status(key)
        supplied = adapters["tax"].submit(tax_request(), idempotency_key=key)
        assert isinstance(supplied, Done)
        assert sim.effects("tax") == {key: 1}

    def test_tax_result_in_our_vocabulary(self, adapters: Adapters, sim: SimControl) -> None:
        request = tax_request(taxpayer_type="general")
        outcome = adapters["tax"].submit(request, idempotency_key=new_key())
        assert isinstance(outcome, Done)
        assert outcome.result["taxpayer_id"] == request.credit_code
        assert outcome.result["taxpayer_type"] == "general"
        assert outcome.result["invoice_quota"] == 100_000_000  # ¥1,000,000 in fen

    @pytest.mark.parametrize("rate", [4.9, 12.5, 0.0])
    def test_housing_fund_rejects_a_rate_outside_5_to_12(
        self, rate: float, adapters: Adapters, sim: SimControl
    ) -> None:
        refusal = rejection(
            adapters["housing_fund"], housing_fund_request(contribution_rate_percent=rate)
        )
        assert refusal.code == "invalid_rate"
        assert refusal.fields == ("contribution_rate_percent",)

    @pytest.mark.parametrize("rate", [5.0, 7.5, 12.0])
    def test_housing_fund_accepts_rates_from_5_to_12(
        self, rate: float, adapters: Adapters, sim: SimControl
    ) -> None:
        outcome = adapters["housing_fund"].submit(
            housing_fund_request(contribution_rate_percent=rate), idempotency_key=new_key()
        )
        assert isinstance(outcome, Done) and outcome.result["enrolled"] == 3

    @pytest.mark.parametrize(
        ("agency", "factory"),
        [
            ("social_insurance", social_insurance_request),
            ("medical_insurance", medical_insurance_request),
        ],
    )
    def test_insurance_without_staff_is_blocked_on_the_roster(
        self, agency: str, factory: Any, adapters: Adapters, sim: SimControl
    ) -> None:
        with pytest.raises(BlockedError) as caught:
            adapters[agency].submit(factory(staff=()), idempotency_key=new_key())
        assert caught.value.materials == ("staff_roster",)

    def test_housing_fund_opens_the_account_before_anyone_deposits(
        self, adapters: Adapters, sim: SimControl
    ) -> None:
        outcome = adapters["housing_fund"].submit(
            housing_fund_request(staff=()), idempotency_key=new_key()
        )
        assert isinstance(outcome, Done) and outcome.result["enrolled"] == 0

    def test_courier_moves_from_pickup_through_transit_to_delivery(
        self, adapters: Adapters, sim: SimControl
    ) -> None:
        sim.behave("courier", latency_ms=600, sync_limit_ms=0)
        key = new_key("courier")
        pending = adapters["courier"].submit(courier_request(), idempotency_key=key)
        assert isinstance(pending, Pending)
        waybill = pending.ticket
        assert waybill.startswith("EA") and waybill.endswith("CN")
        seen = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            body = sim.raw_status("courier", key).json()
            state = (
                body["result"]["state"] if body["status"] == "done" else body["progress"]["state"]
            )
            if not seen or seen[-1] != state:
                seen.append(state)
            if body["status"] == "done":
                break
            time.sleep(0.05)
        assert seen == ["COLLECTED", "IN_TRANSIT", "SIGNED"]
        done = adapters["courier"].status(key)
        assert done == Done(result={"waybill": waybill, "state": "delivered"})


class TestTheSplitBankAccount:
    """Where a district files the seal designs first and the bank pre-checks at the desk."""

    def _designs(self, adapters: Adapters, request: SealRequest) -> dict[str, Any]:
        filed = adapters["seal_design"].submit(request, idempotency_key=new_key())
        assert isinstance(filed, Done)
        return dict(filed.result)

    def test_the_engraver_engraves_to_the_designs_it_filed(
        self, adapters: Adapters, sim: SimControl
    ) -> None:
        request = seal_request(seals=("official", "finance"))
        designs = self._designs(adapters, request)
        order = request.model_copy(update={"filed_designs": designs["seal_codes"]})
        engraved = adapters["seal"].submit(order, idempotency_key=new_key())
        assert isinstance(engraved, Done)
        assert engraved.result == designs  # the same filing numbers and impressions

    def test_the_engraver_refuses_a_design_it_has_not_filed(
        self, adapters: Adapters, sim: SimControl
    ) -> None:
        request = seal_request(seals=("official",))
        designs = self._designs(adapters, seal_request(seals=("official",)))  # another firm's
        order = request.model_copy(update={"filed_designs": designs["seal_codes"]})
        with pytest.raises(RejectedError) as caught:
            adapters["seal"].submit(order, idempotency_key=new_key())
        assert caught.value.code == "design_not_filed"
        assert caught.value.fields == ("filed_designs",)

    def test_the_account_opens_with_a_passed_precheck_and_the_filed_impressions(
        self, adapters: Adapters, sim: SimControl
    ) -> None:
        rep = person()
        checked = adapters["bank_precheck"].submit(
            bank_precheck_request(legal_representative=rep), idempotency_key=new_key()
        )
        assert isinstance(checked, Done)
        code = credit_code()
        designs = self._designs(
            adapters, seal_request(credit_code=code, seals=("official",), legal_representative=rep)
        )
        request = bank_account_request(
            credit_code=code,
            legal_representative=rep,
            seal_specimens=reserved_specimens(designs),
            precheck_no=checked.result["precheck_no"],
        )
        opened = adapters["bank_account"].submit(request, idempotency_key=new_key())
        assert isinstance(opened, Done)

    def test_the_account_refuses_a_precheck_the_bank_does_not_know(
        self, adapters: Adapters, sim: SimControl
    ) -> None:
        request = bank_account_request(precheck_no="YSICBC00000001")
        with pytest.raises(RejectedError) as caught:
            adapters["bank_account"].submit(request, idempotency_key=new_key())
        assert caught.value.code == "precheck_unknown"
        assert caught.value.fields == ("precheck_no",)
