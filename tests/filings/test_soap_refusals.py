"""A SOAP agency's refusal names the fields of the filing it concerns, as a REST agency's does.

End to end in the embedded mode (SQLite and PostgreSQL): the bank (over SOAP) refuses a
shareholder on its watch list, in a district without the bank's pre-check at the desk; the
step's rejected event carries the shareholder's fields, which the correction form shows.
Then, without a database, the paths the other SOAP agencies' refusals name into their
requests, read as fields of the filing as the worker reads them.
"""

from __future__ import annotations

import pytest

from orchestrator.filings.acceptance import AcceptedFiling
from orchestrator.filings.field_use import filing_fields, used_by
from orchestrator.filings.models import Filing, StepStatus
from orchestrator.identity.service import ensure_branch
from orchestrator.runtime import Runtime
from orchestrator.workflow import BANK_ACCOUNT, REGISTRATION, SEAL, SOCIAL_INSURANCE, TAX, by_name
from tests.factories import FILING_DATE, filing_input, moved_to
from tests.filings import events, file, wait_for
from tests.filings.test_corrections import refusals
from tests.people import BranchStaff, filing_as, staff_at

RENCHENG = "370811"  # its filings run the standard graph: no pre-check, the bank checks people
ON_THE_WATCH_LIST = "370783197503124019"  # integrations/simulators/data/banks.yaml


@pytest.fixture
def rencheng(onestop: Runtime, branch_staff: BranchStaff) -> BranchStaff:
    """A clerk of a partner branch in Rencheng, where the filing's bank is the branch's."""
    with onestop.database.transaction() as session:
        branch = ensure_branch(
            session, code="RC-ABC-01", name="农业银行任城支行", bank_code="ABC",
            district_code=RENCHENG,
        )  # fmt: skip
        return filing_as(branch_staff, staff_at(session, branch, "rc.clerk", "任晨"))


def _bank_refused(filing: Filing) -> bool:
    return any(
        s.name == BANK_ACCOUNT.name and s.status == StepStatus.REJECTED for s in filing.steps
    )


@pytest.mark.databases("sqlite", "postgresql")
class TestTheBankOverSoap:
    def test_its_refusal_names_the_shareholder_s_fields_of_the_filing(
        self, onestop: Runtime, rencheng: BranchStaff
    ) -> None:
        overrides = moved_to(RENCHENG) | {
            "shareholders__1__name": "赵某",
            "shareholders__1__id_number": ON_THE_WATCH_LIST,
        }
        code = file(onestop, rencheng, **overrides)
        wait_for(onestop, code, _bank_refused, timeout=30)

        (rejected,) = [
            e for e in events(onestop, code) if e.kind == "rejected" and e.step == BANK_ACCOUNT.name
        ]
        assert rejected.detail["code"] == "blacklisted_person"
        assert rejected.detail["fields"] == ["shareholders.1.id_number", "shareholders.1.name"]

        (refusal,) = refusals(onestop, code)
        assert refusal.step == BANK_ACCOUNT.name
        assert refusal.fields == ("shareholders.1.id_number", "shareholders.1.name")
        # The company was registered with this shareholder: the form shows the fields as
        # used by registration, not as ones to correct here.
        assert refusal.locked == dict.fromkeys(refusal.fields, REGISTRATION.name)
        assert refusal.editable == ()


def _filing() -> AcceptedFiling:
    return AcceptedFiling.model_validate({**filing_input(), "filing_date": FILING_DATE})


@pytest.mark.parametrize(
    ("step", "request_paths", "fields"),
    [
        pytest.param(
            TAX.name,
            ["finance_officer.id_number"],
            ["finance_officer.id_number"],
            id="tax: the finance officer's ID",
        ),
        pytest.param(
            SOCIAL_INSURANCE.name,
            ["staff.0.id_number", "staff.1.id_number"],
            ["staff.0.id_number", "staff.1.id_number"],
            id="social insurance: a person on the roster twice",
        ),
        pytest.param(
            SEAL.name,
            ["legal_representative.id_number"],
            ["legal_representative.id_number"],
            id="seal: the legal representative's ID",
        ),
        pytest.param(
            BANK_ACCOUNT.name,
            ["bank_code"],
            ["bank_code"],
            id="bank: the bank",
        ),
        # What earlier steps gave (the credit code, the filed designs and impressions) is no
        # field of the filing: such a refusal names none the clerk could correct.
        pytest.param(TAX.name, ["credit_code"], [], id="tax: the credit code"),
        pytest.param(SEAL.name, ["filed_designs"], [], id="seal: the designs filed"),
        pytest.param(
            BANK_ACCOUNT.name, ["seal_specimens.0.image_base64"], [], id="bank: a specimen"
        ),
    ],
)
def test_the_paths_a_soap_agency_names_are_fields_of_the_filing(
    step: str, request_paths: list[str], fields: list[str]
) -> None:
    assert step in by_name()
    assert filing_fields(step, _filing(), request_paths) == fields


def test_the_finance_officer_the_tax_bureau_refuses_is_read_by_no_other_step() -> None:
    others = [name for name in by_name() if name != TAX.name]
    assert not any(path.startswith("finance_officer") for path in used_by(others, _filing()))
