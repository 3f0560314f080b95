"""schemathesis fuzzes the API from its own schema (`/openapi.json`) on PostgreSQL, as a
clerk of a branch: over a thousand generated requests across every route, inputs that fit
the schema and inputs that do not, and not one server error nor one answer (status, content
type, headers, body) other than the schema documents."""

from __future__ import annotations

import math

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import CheckFunction
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import positive_data_acceptance

from orchestrator.api.app import create_app
from orchestrator.runtime import Runtime
from tests.api import auth
from tests.people import BranchStaff

pytestmark = pytest.mark.databases("postgresql")

CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {
            # Every request carries the clerk's token (below), none a generated one.
            "with-security-parameters": False,
            # A query parameter that no route declares is ignored, as HTTP servers do: a
            # licence's QR link opened from a chat app arrives with the app's own.
            "allow-extra-parameters": False,
        }
    }
)
# The licence check takes the PDF's bytes as they are.
schemathesis.serializer.alias("application/pdf", "application/octet-stream")
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", create_app(), config=CONFIG)
OPERATIONS: list[APIOperation] = [result.ok() for result in SCHEMA.get_all_operations()]
# Inputs that fit the schema may still be refused by the rules the schema cannot state (a
# resident ID's check digit, shares that add up, a district OneStop serves, a PDF that is
# a licence), with the documented 400 or 422: there, a schema-valid input need not pass.
JUDGED_BEYOND_THE_SCHEMA = {
    ("POST", "/api/v1/filings"),
    ("POST", "/api/v1/filings/{tracking_code}/materials/{material_code}"),
    ("POST", "/api/v1/licences/verify"),
    ("GET", "/api/v1/names/check"),
}
CASES = 1_000
CASES_PER_OPERATION = math.ceil(CASES / len(OPERATIONS))

# Each case is a real request to the API and its database: bounded, with no deadline, so
# that the whole run stays within about a minute of CI time.
FUZZ = settings(
    max_examples=CASES_PER_OPERATION,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def cases(operation: APIOperation) -> st.SearchStrategy[Case]:
    """Requests that fit the operation's schema, and requests that break it."""
    return st.one_of(operation.as_strategy(mode) for mode in GenerationMode)


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_every_answer_is_documented_and_none_is_a_server_error(
    onestop: Runtime, branch_staff: BranchStaff, operation: APIOperation
) -> None:
    sent = 0
    excluded: list[CheckFunction] = (
        [positive_data_acceptance]
        if (operation.method.upper(), operation.path) in JUDGED_BEYOND_THE_SCHEMA
        else []
    )

    @FUZZ
    @given(case=cases(operation))
    def request(case: Case) -> None:
        nonlocal sent
        sent += 1
        case.call_and_validate(headers=auth(branch_staff.clerk_token), excluded_checks=excluded)

    request()
    assert sent >= CASES_PER_OPERATION


def test_covers_every_route_of_the_api() -> None:
    routes = {(op.method.upper(), op.path) for op in OPERATIONS}
    documented = create_app().openapi()["paths"]
    assert routes == {(m.upper(), path) for path, item in documented.items() for m in item}
    assert len(OPERATIONS) * CASES_PER_OPERATION >= CASES
