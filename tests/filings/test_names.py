"""The name check: the core's service through the real registration adapter and the
simulated bureau (its seeded register, prohibited words, a name's structure), and the API's
`GET /api/v1/names/check` in front of it."""

from __future__ import annotations

import pytest

from orchestrator.errors import Invalid
from orchestrator.filings.names import check_name
from orchestrator.runtime import Runtime
from tests.api import api_client, auth
from tests.filings import file, wait_for
from tests.people import BranchStaff

pytestmark = pytest.mark.databases("sqlite", "postgresql")

SHOUGUANG = "370783"


def test_a_free_name_is_available(onestop: Runtime) -> None:
    result = check_name(
        onestop.adapters, district_code=SHOUGUANG, name="寿光市禾润农业科技有限公司"
    )
    assert result.available and result.code == "available"


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("寿光市鑫达农业科技有限公司", "name_conflict"),  # on the seeded register
        ("寿光市中华农业科技有限公司", "prohibited_word"),
        ("寿光市禾润农业科技", "invalid_name"),  # no organisation form
    ],
)
def test_the_bureau_refuses_a_name(onestop: Runtime, name: str, code: str) -> None:
    result = check_name(onestop.adapters, district_code=SHOUGUANG, name=name)
    assert not result.available
    assert result.code == code
    assert result.authority_message  # the bureau's own words, kept for the clerk


def test_a_name_registered_by_a_filing_then_conflicts(
    onestop: Runtime, branch_staff: BranchStaff
) -> None:
    code = file(onestop, branch_staff, trade_name="稷丰")
    wait_for(
        onestop,
        code,
        lambda f: any(s.name == "registration" and s.status == "done" for s in f.steps),
    )
    result = check_name(onestop.adapters, district_code=SHOUGUANG, name="寿光市稷丰食品有限公司")
    assert result.code == "name_conflict"


def test_an_unknown_district_is_a_field_error(onestop: Runtime) -> None:
    with pytest.raises(Invalid) as refused:
        check_name(onestop.adapters, district_code="999999", name="寿光市禾润农业科技有限公司")
    assert refused.value.detail["errors"][0]["field"] == "district_code"


def test_the_api_checks_with_a_token(onestop: Runtime, branch_staff: BranchStaff) -> None:
    client = api_client()
    params = {"district_code": SHOUGUANG, "name": "寿光市绿源蔬菜种植有限公司"}
    assert client.get("/api/v1/names/check", params=params).status_code == 401
    reply = client.get("/api/v1/names/check", params=params, headers=auth(branch_staff.clerk_token))
    assert reply.status_code == 200
    assert reply.json()["available"] is False and reply.json()["code"] == "name_conflict"
