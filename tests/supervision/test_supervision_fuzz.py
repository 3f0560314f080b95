"""schemathesis fuzzes the supervision routes as an officer (the API-wide fuzz goes as a
clerk, whom they refuse): no server error, and only documented answers, whatever the
filters."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import positive_data_acceptance

from orchestrator.api.app import create_app
from orchestrator.runtime import Runtime
from tests.api import auth
from tests.people import BranchStaff

pytestmark = pytest.mark.databases("postgresql")

CONFIG = schemathesis.Config.from_dict(
    {"generation": {"with-security-parameters": False, "allow-extra-parameters": False}}
)
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", create_app(), config=CONFIG)
OPERATIONS = [
    result.ok()
    for result in SCHEMA.get_all_operations()
    if result.ok().path.startswith("/api/v1/supervision/")
]


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_no_filter_makes_a_server_error(
    onestop: Runtime, branch_staff: BranchStaff, operation: APIOperation
) -> None:
    # A schema-valid filter may still be refused (a branch of another district, a period
    # backwards): with the documented 422.
    @settings(max_examples=60, deadline=None)
    @given(case=st.one_of(operation.as_strategy(mode) for mode in GenerationMode))
    def request(case: Case) -> None:
        case.call_and_validate(
            headers=auth(branch_staff.officer_token), excluded_checks=[positive_data_acceptance]
        )

    request()
