"""容缺 materials the applicant sent from the tracking page, on the branch's side: each one
shown (its file, the fields it carries, masked), and confirmed, which resumes the step it
blocked, or refused with a reason the applicant reads on the tracking page.

Branch staff of the filing's branch only: to anyone else, the filing's supplements and each
supplement are a 404, as another branch's filing is.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import Response

from bank_portal import auth
from bank_portal.i18n import DEFAULT_LANGUAGE, N_, said_in
from bank_portal.pages import base, see_other
from bank_portal.routes import branch_staff, check_csrf, not_found, page
from bank_portal.sessions import CsrfToken
from bank_portal.track.supply_form import GROUPS, PARTS
from orchestrator import runtime
from orchestrator.api.responses import file_response
from orchestrator.errors import DomainError, NotFound
from orchestrator.filings import service, supplements
from orchestrator.filings.supplements import SupplementStatus
from orchestrator.filings.uploads import DatabaseStore
from orchestrator.identity.sessions import SignedIn
from orchestrator.privacy import masked
from orchestrator.reference import load_reference

router = APIRouter()
STORE = DatabaseStore()
SupplementId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Code = Annotated[str, Path(max_length=20)]

SUPPLEMENT_STATUS = {
    SupplementStatus.PENDING.value: N_("Waiting for confirmation"),
    SupplementStatus.CONFIRMED.value: N_("Confirmed"),
    SupplementStatus.REFUSED.value: N_("Refused"),
}


def _rows(data: dict[str, Any]) -> list[tuple[str, int, list[tuple[str, Any]]]]:
    """The fields a supplement carries as the page lists them: each person (the finance
    officer, each employee) a row of its field, number and parts, IDs and mobiles masked."""
    rows: list[tuple[str, int, list[tuple[str, Any]]]] = []
    for field, value in masked(data).items():
        people = value if isinstance(value, list) else [value]
        for n, person in enumerate(people, start=1):
            parts = list(person.items()) if isinstance(person, dict) else [("", person)]
            rows.append((field, n if isinstance(value, list) else 0, parts))
    return rows


def _listing(
    visit: auth.Visit,
    request: Request,
    staff: SignedIn,
    tracking_code: str,
    *,
    error: tuple[int, str] | None = None,
    status_code: int = 200,
) -> Response:
    rt = runtime.current()
    try:
        with rt.database.reading() as session:
            filing = service.get_filing(session, staff.scope, tracking_code)
            rows = supplements.of_filing(session, filing.id)
            company = filing.company_name
            # Masked on the page, as the filing's page masks them: it stays on screens.
            items = [
                {
                    "id": row.id,
                    "material": row.material,
                    "status": row.status.value,
                    "data": _rows(row.data),
                    "filename": row.filename,
                    "size": row.size,
                    "submitted_at": row.submitted_at,
                    "decided_at": row.decided_at,
                    "decided_by": row.decided_by,
                    "reason": row.reason,
                }
                for row in reversed(rows)
            ]
    except NotFound:
        return not_found(request)
    catalogue = load_reference().materials
    return page(
        visit,
        request,
        "portal/supplement.html",
        status_code=status_code,
        tracking_code=tracking_code,
        company_name=company,
        items=items,
        names={code: (m.name_zh, m.name_en) for code, m in catalogue.items()},
        supplement_status=SUPPLEMENT_STATUS,
        groups=GROUPS,
        parts=PARTS,
        error=error,
    )


@router.get("/filings/{tracking_code}/supplements", name="supplements")
def listing(request: Request, tracking_code: Code) -> Response:
    """The supplements the applicant sent for the filing, the latest first."""
    visit = auth.visit(request)
    staff = branch_staff(visit, request)
    return _listing(visit, request, staff, tracking_code)


@router.get("/filings/{tracking_code}/supplements/{supplement_id}/file")
def download(request: Request, tracking_code: Code, supplement_id: SupplementId) -> Response:
    """The file the applicant sent with a supplement."""
    visit = auth.visit(request)
    staff = branch_staff(visit, request)
    rt = runtime.current()
    try:
        with rt.database.reading() as session:
            filing = service.get_filing(session, staff.scope, tracking_code)
            row = next((r for r in supplements.of_filing(session, filing.id)
                        if r.id == supplement_id), None)  # fmt: skip
            found = None if row is None else (STORE.get(row), row.media_type, row.id)
    except NotFound:
        return not_found(request)
    if found is None:
        return not_found(request)
    content, media_type, row_id = found
    extension = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}
    return file_response(
        content,
        media_type=media_type,
        filename=f"supplement-{row_id}.{extension.get(media_type, 'bin')}",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


@router.post("/filings/{tracking_code}/supplements/{supplement_id}/{act}")
def decide(
    request: Request,
    tracking_code: Code,
    supplement_id: SupplementId,
    act: str,
    reason: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: CsrfToken = "",
) -> Response:
    """Confirm a supplement (the step it blocked resumes) or refuse it, saying why."""
    visit = auth.visit(request)
    staff = branch_staff(visit, request)
    if act not in ("confirm", "refuse"):
        return not_found(request)
    check_csrf(visit, request, csrf_token)
    rt = runtime.current()
    now = rt.clock.now()
    try:
        with rt.database.transaction() as session:
            if act == "confirm":
                supplements.confirm(
                    session,
                    actor=service.Actor(name=staff.actor, scope=staff.scope),
                    tracking_code=tracking_code,
                    supplement_id=supplement_id,
                    now=now,
                    lease_until=rt.clock.after(rt.settings.step_lease_seconds),
                    calendar=rt.calendar,
                )
            else:
                supplements.refuse(
                    session,
                    actor=service.Actor(name=staff.actor, scope=staff.scope),
                    tracking_code=tracking_code,
                    supplement_id=supplement_id,
                    reason=reason,
                    now=now,
                )
    except NotFound:
        return not_found(request)
    except DomainError as refused:
        zh = visit.language == DEFAULT_LANGUAGE
        message = said_in(refused, visit.language)
        if refused.detail.get("errors"):
            message = "; ".join(e["message_zh" if zh else "message_en"]
                                for e in refused.detail["errors"])  # fmt: skip
        return _listing(
            visit,
            request,
            staff,
            tracking_code,
            error=(supplement_id, message),
            status_code=refused.status_code,
        )
    return see_other(f"{base(request)}/filings/{tracking_code}/supplements")
