"""A step of the test's own, with its agency, adapter and simulator: the district archive
(档案馆) files the new company's records (电子档案归档) once it is registered.

Nothing here is shipped: it shows that a district's step is one declaration plus its
adapter and simulator, and the engine, workers and channels need nothing else.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from integrations.adapter import AgencyReply, MappedAdapter
from integrations.rest import RestChannel
from integrations.simulators.checks import Sequence, WireModel, credit_code_problem
from integrations.simulators.engine import AgencyRules, Completed, Decision, Refused, parse
from orchestrator.filings.acceptance import AcceptedFiling
from orchestrator.filings.agency_requests import Facts
from orchestrator.workflow import CREDIT_CODE, StepSpec

AGENCY = "district_archive"
STEP = "archive"
ARCHIVED = "archived"  # the fact its result gives the filing


# The request, as the orchestrator builds it ----------------------------------------------


class ArchiveRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    credit_code: str
    company_name: str


def build_archive(f: AcceptedFiling, facts: Facts) -> ArchiveRequest:
    """The archive's request: the company by its credit code and name."""
    return ArchiveRequest(
        credit_code=str(facts[CREDIT_CODE]["credit_code"]), company_name=f.company_name.full
    )


SPEC = StepSpec(
    STEP, AGENCY, "档案归档", "Records archived", gives=(ARCHIVED,), uses=(CREDIT_CODE,)
)


# The adapter, as integrations would ship it -----------------------------------------------


class _Archived(AgencyReply):
    archive_no: str


class ArchiveAdapter(MappedAdapter[ArchiveRequest]):
    agency = AGENCY

    def to_agency(self, request: ArchiveRequest) -> dict[str, Any]:
        return {"uscc": request.credit_code, "enterprise_name": request.company_name}

    def from_agency(self, payload: Mapping[str, Any]) -> dict[str, object]:
        return {"archive_no": _Archived.model_validate(payload).archive_no}


def adapter_at(base_url: str, timeout: float) -> ArchiveAdapter:
    return ArchiveAdapter(RestChannel(base_url, AGENCY, timeout=timeout))


# The simulated archive ----------------------------------------------------------------------


class ArchiveIn(WireModel):
    uscc: str = Field(min_length=1, max_length=32)
    enterprise_name: str = Field(min_length=1, max_length=100)


class ArchiveRules(AgencyRules):
    """Files a registered company's records under a new archive number."""

    name = AGENCY

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self._numbers = Sequence(rng, start_below=10**6)

    def decide(self, payload: object) -> Decision:
        record = parse(ArchiveIn, payload)
        if problem := credit_code_problem(record.uscc):
            return Refused("invalid_credit_code", problem)
        return Completed(
            result={"archive_no": f"DA{self._numbers.take():08d}"}, subject=record.uscc
        )
