"""Public licence checks (/api/v1/licences): no token, since anyone may check a licence.

POST /api/v1/licences/verify         the PDF as the body → the verdict and the signed data
GET  /api/v1/licences/check/{token}  where a licence's QR code leads: OneStop's copy of the
                                     licence that carries this verification token, verified
GET  /api/v1/licences/{licence_no}   the same by bare licence number, which anyone can count
                                     through: rate-limited more strictly

Every route is rate-limited per client address (`orchestrator.api.rate_limits`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from integrations.e_licence import VERIFICATION_TOKEN_PATTERN, Status, Verdict
from orchestrator.api.deps import RuntimeDep
from orchestrator.api.rate_limits import RateLimited
from orchestrator.api.responses import ErrorBody, error_responses
from orchestrator.errors import DomainError, NotFound
from orchestrator.filings import documents
from orchestrator.filings.models import Document
from orchestrator.licences.verification import verify

# Every route here is public, so rate-limited: 429, or 503 while the limits' store is away.
router = APIRouter(prefix="/licences", tags=["licences"], responses=error_responses(429, 503))

_checks = RateLimited("licence_checks", lambda s: s.rate_limit_licence_checks)
_lookups_by_number = RateLimited(
    "licence_lookups_by_number", lambda s: s.rate_limit_licence_lookups_by_number
)


class EmptyBody(DomainError):
    status_code = 400
    code = "empty_body"


class NotAPdf(DomainError):
    status_code = 400
    code = "not_a_pdf"


class NotALicence(DomainError):
    status_code = 422
    code = "not_a_licence"


_PDF_BODY = {
    "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    "required": True,
    "description": "The licence PDF, as the body (any content type; the bytes decide).",
}


@router.post(
    "/verify",
    response_model=Verdict,
    summary="Verify an e-business licence (电子营业执照核验)",
    openapi_extra={"requestBody": _PDF_BODY},
    dependencies=[Depends(_checks)],
    responses={
        **error_responses(400, 413, described={400: "Empty body, or not a PDF"}),
        422: {"model": ErrorBody, "description": "A PDF that is no e-business licence"},
    },
)
async def verify_upload(request: Request, rt: RuntimeDep) -> Verdict:
    """`valid`: intact and soundly signed; `trusted`: by a registration authority we trust.

    A tampered or damaged licence, or one signed by an unknown key, is a 200 whose verdict
    says so (with `reason_zh`/`reason_en`); only an intact, trusted one is genuine, and only
    a genuine one shows the data it was signed with.
    """
    body = await request.body()  # the API's body-size limit answers 413 beyond it
    if not body:
        raise EmptyBody("请求体为空：请上传执照 PDF", "empty body: send the licence PDF")
    verdict = await run_in_threadpool(verify, body, rt.settings)  # signatures are CPU work
    if verdict.status is Status.NOT_A_PDF:
        raise NotAPdf(verdict.reason_zh, verdict.reason_en)
    if verdict.status is Status.NOT_A_LICENCE:
        raise NotALicence(verdict.reason_zh, verdict.reason_en)
    return verdict


@router.get(
    "/check/{token}",
    response_model=Verdict,
    summary="Check a licence by the token its QR code carries (扫码核验)",
    dependencies=[Depends(_checks)],
    responses=error_responses(described={404: "No licence carries this token"}),
)
def check_by_token(
    token: Annotated[str, Path(pattern=VERIFICATION_TOKEN_PATTERN)], rt: RuntimeDep
) -> Verdict:
    """The licence OneStop received from the authority with this verification token, verified."""
    return _verified(
        rt,
        documents.by_verification_token,
        token,
        NotFound("未找到该二维码对应的营业执照", "no licence carries this token"),
    )


@router.get(
    "/{licence_no}",
    response_model=Verdict,
    summary="Check a licence by its bare number (rate-limited: prefer the QR code's link)",
    dependencies=[Depends(_lookups_by_number)],
    responses=error_responses(described={404: "No licence under this number"}),
)
def check_by_number(
    licence_no: Annotated[str, Path(min_length=1, max_length=60)], rt: RuntimeDep
) -> Verdict:
    """The licence OneStop received from the authority under this number, verified."""
    return _verified(
        rt,
        documents.latest_by_reference,
        licence_no,
        NotFound("未找到该编号的营业执照", "no licence under this number", licence_no=licence_no),
    )


def _verified(
    rt: RuntimeDep,
    find: Callable[[Session, str, str], Document | None],
    key: str,
    missing: NotFound,
) -> Verdict:
    """OneStop's copy of the licence that `find` finds under `key`, verified; `missing` if none."""
    with rt.database.reading() as session:
        document = find(session, documents.LICENCE, key)
        content = document.content if document else None
    if content is None:
        raise missing
    return verify(content, rt.settings)
