"""A member of staff's inbox: the tracker's notices to them, each with its filing.

Any signed-in member of staff has one (the clerk who filed, the branch's managers, later
the district's officers); each sees only their own notices. Opening the inbox shows the
unread ones first; "mark all read" clears the count in the header.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response

from bank_portal import auth
from bank_portal.i18n import N_
from bank_portal.pages import base, see_other
from bank_portal.routes import check_csrf, page
from bank_portal.sessions import CsrfToken
from orchestrator import runtime
from orchestrator.notifications import inbox
from orchestrator.reference import load_reference

router = APIRouter()

# What each kind of notice says, as its heading (`orchestrator.notifications.inbox`).
HEADINGS = {
    "material_overdue": N_("A material is past due: the branch may withdraw the step it blocks"),
    "sla_at_risk": N_("At risk: expected ready after its committed deadline"),
    "sla_breached": N_("Breached: past its committed deadline and not ready"),
}


@dataclass(frozen=True)
class NoticeView:
    """A notice as the inbox lists it."""

    kind: str
    at: datetime
    unread: bool
    tracking_code: str
    company_name: str
    material_zh: str
    material_en: str


def _view(notice: inbox.StaffNotice) -> NoticeView:
    detail = notice.detail
    material = load_reference().materials.get(str(detail.get("material", "")))
    return NoticeView(
        kind=notice.kind,
        at=notice.created_at,
        unread=notice.read_at is None,
        tracking_code=str(detail.get("tracking_code", "")),
        company_name=str(detail.get("company_name", "")),
        material_zh=material.name_zh if material else "",
        material_en=material.name_en if material else "",
    )


@router.get("/inbox", name="inbox")
def inbox_page(request: Request) -> Response:
    """The signed-in member of staff's notices, unread first, newest first."""
    visit = auth.visit(request)
    if visit.staff is None:
        return see_other(f"{base(request)}/login")
    with runtime.current().database.reading() as session:
        items = [_view(notice) for notice in inbox.notices(session, visit.staff.staff_id)]
    return page(visit, request, "portal/inbox.html", items=items, headings=HEADINGS)


@router.post("/inbox/read", name="inbox_read")
def mark_all_read(request: Request, csrf_token: CsrfToken = "") -> Response:
    """Mark every notice read: the header's count goes."""
    visit = auth.visit(request)
    if visit.staff is None:
        return see_other(f"{base(request)}/login")
    check_csrf(visit, request, csrf_token)
    rt = runtime.current()
    with rt.database.transaction() as session:
        inbox.mark_read(session, visit.staff.staff_id, now=rt.clock.now())
    return see_other(f"{base(request)}/inbox")
