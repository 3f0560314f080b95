"""The name check endpoint of the JSON API (/api/v1/names/check)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from orchestrator.api.deps import CallerDep, RuntimeDep
from orchestrator.api.responses import error_responses
from orchestrator.filings import names

router = APIRouter(prefix="/names", tags=["names"], responses=error_responses(401))


@router.get(
    "/check",
    response_model=names.NameCheckResult,
    summary="Check a company name with the registration authority (名称查重)",
    responses=error_responses(422, described={503: "The registration authority did not answer"}),
)
def check_name(
    rt: RuntimeDep,
    caller: CallerDep,
    district_code: Annotated[str, Query(pattern=r"^[0-9]{6}$", examples=["370783"])],
    name: Annotated[
        str,
        Query(
            min_length=names.MIN_NAME_LENGTH,
            max_length=names.MAX_NAME_LENGTH,
            examples=["寿光市禾丰农业科技有限公司"],
        ),
    ],
) -> names.NameCheckResult:
    """Whether `name` could be registered in the district now; nothing is reserved."""
    del caller  # any member of staff with a token may ask
    return names.check_name(rt.adapters, district_code=district_code, name=name)
