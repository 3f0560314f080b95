"""The branch manager's follow-ups of bad ratings (好差评 差评回访): verify, put right, answer.

Branch managers only, and their own branch's follow-ups only: to anyone else, the page and
each follow-up are a 404, as another branch's filing is.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import Response

from bank_portal import auth
from bank_portal.i18n import N_, said_in
from bank_portal.pages import Elsewhere, base, see_other
from bank_portal.routes import check_csrf, not_found, page
from bank_portal.sessions import CsrfToken
from orchestrator import runtime
from orchestrator.errors import DomainError, NotFound
from orchestrator.feedback import service as feedback
from orchestrator.feedback.models import FollowUpStatus
from orchestrator.identity.models import Role
from orchestrator.identity.sessions import SignedIn

router = APIRouter()

FOLLOW_UP_STATUS = {
    FollowUpStatus.OPEN.value: N_("To verify"),
    FollowUpStatus.VERIFIED.value: N_("Verified: to put right"),
    FollowUpStatus.PUT_RIGHT.value: N_("Put right: to answer"),
    FollowUpStatus.ANSWERED.value: N_("Answered"),
}
# The act each state waits for: where its form posts, and what its button and note say.
NEXT_ACT = {
    FollowUpStatus.OPEN.value: ("verify", N_("Mark verified"), N_("What was found")),
    FollowUpStatus.VERIFIED.value: ("put-right", N_("Mark put right"), N_("What was put right")),
    FollowUpStatus.PUT_RIGHT.value: ("answer", N_("Answer the applicant"), N_("The answer")),
}
_ACTS = {
    "verify": FollowUpStatus.VERIFIED,
    "put-right": FollowUpStatus.PUT_RIGHT,
    "answer": FollowUpStatus.ANSWERED,
}


def _manager(visit: auth.Visit, request: Request) -> SignedIn:
    """The branch manager signed in; else `Elsewhere`: the sign-in page, or a 404 for
    anyone else."""
    if visit.staff is None:
        raise Elsewhere(see_other(f"{base(request)}/login"))
    if visit.staff.role != Role.BRANCH_MANAGER or visit.staff.scope.branch_id is None:
        raise Elsewhere(not_found(request))
    return visit.staff


def _queue(
    visit: auth.Visit,
    request: Request,
    manager: SignedIn,
    *,
    error: tuple[int, str] | None = None,
    status_code: int = 200,
) -> Response:
    assert manager.scope.branch_id is not None
    rt = runtime.current()
    with rt.database.reading() as session:
        items = feedback.open_follow_ups(session, branch_id=manager.scope.branch_id)
    return page(
        visit,
        request,
        "portal/follow_ups.html",
        status_code=status_code,
        items=items,
        follow_up_status=FOLLOW_UP_STATUS,
        next_act=NEXT_ACT,
        error=error,
    )


@router.get("/follow-ups", name="follow_ups")
def follow_ups(request: Request) -> Response:
    """The branch's follow-ups not answered yet, oldest first, each with its next act."""
    visit = auth.visit(request)
    manager = _manager(visit, request)
    return _queue(visit, request, manager)


@router.post("/follow-ups/{follow_up_id}/{act}", name="follow_up_act")
def act(
    request: Request,
    follow_up_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    act: str,
    note: Annotated[str, Form(max_length=5000)] = "",
    csrf_token: CsrfToken = "",
) -> Response:
    """Take a follow-up one act on: verified, put right, or answered (which invites the
    applicant to rate again)."""
    visit = auth.visit(request)
    manager = _manager(visit, request)
    if act not in _ACTS:
        return not_found(request)
    check_csrf(visit, request, csrf_token)
    assert manager.scope.branch_id is not None
    rt = runtime.current()
    try:
        with rt.database.transaction() as session:
            feedback.advance(
                session,
                follow_up_id=follow_up_id,
                to=_ACTS[act],
                branch_id=manager.scope.branch_id,
                actor=manager.actor,
                note=note,
                now=rt.clock.now(),
            )
    except NotFound:
        return not_found(request)
    except DomainError as refused:
        return _queue(
            visit,
            request,
            manager,
            error=(follow_up_id, said_in(refused, visit.language)),
            status_code=refused.status_code,
        )
    return see_other(f"{base(request)}/follow-ups")
