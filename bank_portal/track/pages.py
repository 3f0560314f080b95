"""The tracking page's pages: the form that opens a filing, the filing, its e-licence, the
language switch, and closing the filing on this browser."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from bank_portal import sla
from bank_portal.i18n import N_
from bank_portal.pages import Elsewhere, base, see_other
from bank_portal.sessions import CsrfToken, LanguageForm, settings_of
from bank_portal.track import CODE_PARAMETER
from bank_portal.track.supply_form import GROUPS, PARTS, inputs_of
from bank_portal.track.visits import (
    Visit,
    expired_form,
    lifetime,
    live,
    page,
    session_id,
    set_session_cookie,
    visit,
)
from orchestrator import runtime
from orchestrator.api.rate_limits import RateLimiter, client_address
from orchestrator.api.responses import file_response
from orchestrator.feedback import service as feedback
from orchestrator.filings import supplements, tracking
from orchestrator.filings.models import Filing
from orchestrator.identity import one_time_codes
from orchestrator.identity.one_time_codes import Purpose

# Counters of failed attempts to open a filing (orchestrator/api/rate_limits.py).
_FAILURES_PER_ADDRESS = "track-failures-address"
_FAILURES_PER_CODE = "track-failures-code"

STEP_STATUS = {
    "waiting": N_("Not started"),
    "ready": N_("Queued"),
    "running": N_("In progress"),
    "submitted": N_("With the agency"),
    "blocked": N_("Waiting for a material"),
    "at_branch": N_("At the branch"),
    "done": N_("Done"),
    "rejected": N_("Being corrected by the branch"),
    "cancelled": N_("Cancelled"),
}
FILING_STATUS = {
    "accepted": N_("In progress"),
    "ready": N_("Ready"),
    "complete": N_("Complete"),
    "action_required": N_("Being corrected by the branch"),
    "cancelled": N_("Cancelled"),
}

router = APIRouter()


# Opening a filing -----------------------------------------------------------------------


def _form(
    shown: Visit,
    request: Request,
    *,
    code: str,
    error: str | None = None,
    status_code: int = 200,
    **values: Any,
) -> Response:
    return page(
        shown,
        request,
        "track/open.html",
        status_code=status_code,
        code=code,
        error=error,
        error_values=values,
    )


def _live_posting(request: Request, csrf_token: str) -> tracking.Visitor:
    """The live session a form of its pages was posted from (its CSRF token came back);
    else `Elsewhere`: the form has expired (a visitor's session, if need be, shows it)."""
    found = live(request)
    if found is None or not tracking.csrf_matches(found, csrf_token):
        raise Elsewhere(expired_form(visit(request), request))
    return found


@router.get("/", name="track")
def open_form(
    request: Request, code: Annotated[str, Query(alias=CODE_PARAMETER, max_length=40)] = ""
) -> Response:
    """The form: a tracking code (filled in from the receipt's QR code) and four digits."""
    return _form(visit(request), request, code=tracking.normalized_code(code))


def _failure_counters(request: Request, code: str) -> list[tuple[str, str, str]]:
    settings = settings_of(request)
    return [
        (
            _FAILURES_PER_ADDRESS,
            settings.rate_limit_track_failures_per_address,
            client_address(request),
        ),
        (_FAILURES_PER_CODE, settings.rate_limit_track_failures_per_code, code),
    ]


@router.post("/")
def open_filing(
    request: Request,
    code: Annotated[str, Form(max_length=40)] = "",
    digits: Annotated[str, Form(max_length=20)] = "",
    csrf_token: CsrfToken = "",
) -> Response:
    """Open the filing if the digits are its mobile's last four: a new session if so."""
    found = _live_posting(request, csrf_token)
    shown = Visit(found)
    code = tracking.normalized_code(code)
    limiter: RateLimiter = request.app.state.rate_limiter
    counters = _failure_counters(request, code)
    # Asked before the digits are checked: once locked out, even the right digits learn nothing.
    wait = limiter.longest_wait(counters)
    if wait is not None:
        return _form(
            shown,
            request,
            code=code,
            error=N_("Too many attempts. Try again in %(minutes)s minutes."),
            status_code=429,
            minutes=max(1, -(-wait // 60)),
        )
    rt = runtime.current()
    with rt.database.transaction() as session:
        new_id = tracking.open_filing(
            session,
            tracking_code=code,
            mobile_last_four=digits,
            replacing=session_id(request),
            language=found.language,
            now=rt.clock.now(),
            lifetime=lifetime(settings_of(request)),
        )
    if new_id is None:
        limiter.count_failure(counters)
        return _form(
            shown,
            request,
            code=code,
            error=N_("The tracking code and the digits do not match. Check both and try again."),
            status_code=401,
        )
    response = see_other(f"{base(request)}/filing")
    set_session_cookie(response, request, new_id)
    return response


# The filing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Opened:
    """A session that opened a filing, and that filing's id."""

    visit: Visit
    filing_id: int


def opened(request: Request) -> Opened:
    """The session's filing; else `Elsewhere`: the form to open one."""
    found = live(request)
    if found is None or found.filing_id is None:
        raise Elsewhere(see_other(f"{base(request)}/"))
    return Opened(Visit(found), found.filing_id)


def opened_form(request: Request, csrf_token: str) -> Opened:
    """The session's filing, a form posted from its page; else `Elsewhere`: the form to open
    one, or told the form has expired (its CSRF token did not come back)."""
    shown = opened(request)
    if not tracking.csrf_matches(shown.visit.visitor, csrf_token):
        raise Elsewhere(expired_form(shown.visit, request))
    return shown


def show_filing(
    shown: Opened,
    request: Request,
    *,
    rating_error: str | None = None,
    supply: Any = None,
    status_code: int = 200,
) -> Response:
    """The filing's page: steps, who holds it, deadline, what to supply, courier, rating.
    `supply` is a material's supply form sent back with its errors (`supplying.Supply`)."""
    rt = runtime.current()
    with rt.database.reading() as session:
        filing = tracking.filing_of(session, shown.visit.visitor)
        assert filing is not None, "a session's filing is never deleted"
        view = tracking.tracking_view(session, filing, rt.calendar)
        judged = sla.live(session, filing, now=rt.clock.now(), calendar=rt.calendar)
        rating = feedback.rating_state(session, filing)
        # The latest supplement sent of each material: waiting, or refused with a reason.
        sent = {
            row.material: {"status": row.status.value, "reason": row.reason}
            for row in supplements.of_filing(session, filing.id)
        }
    return page(
        shown.visit,
        request,
        "track/filing.html",
        status_code=status_code,
        filing=view,
        step_status=STEP_STATUS,
        filing_status=FILING_STATUS,
        rating=rating,
        rating_error=rating_error,
        sent=sent,
        supply=supply,
        supply_inputs={item.code: inputs_of(item.code) for item in view.to_supply},
        groups=GROUPS,
        parts=PARTS,
        **sla.context(judged),
    )


def send_code(request: Request, csrf_token: str, purpose: Purpose, anchor: str) -> Response:
    """Text a one-time code for `purpose` to the opened filing's mobile; back to `anchor`."""
    shown = opened_form(request, csrf_token)
    rt = runtime.current()
    with rt.database.transaction() as session:
        filing = tracking.filing_of(session, shown.visit.visitor)
        assert filing is not None, "a session's filing is never deleted"
        one_time_codes.issue(session, filing=filing, purpose=purpose, now=rt.clock.now())
    return see_other(f"{base(request)}/filing#{anchor}")


def act_with_code(
    shown: Opened,
    purpose: Purpose,
    code: str,
    act: Callable[[Session, Filing, datetime], None],
) -> bool:
    """Check the one-time code texted for `purpose` and, if it is right, `act` on the opened
    filing; whether it was right. The one check that the visitor holds the mobile: spent in
    the act's transaction, so that a refused act leaves the code for a corrected one.

    A wrong code is committed, not raised: its attempt counts towards the code's death,
    which a rollback would undo, and guesses would then go on for ever."""
    rt = runtime.current()
    now = rt.clock.now()
    with rt.database.transaction() as session:
        filing = tracking.filing_of(session, shown.visit.visitor)
        assert filing is not None, "a session's filing is never deleted"
        right = one_time_codes.verify(session, filing=filing, purpose=purpose, code=code, now=now)
        if right:
            act(session, filing, now)
    return right


@router.get("/filing", name="track_filing")
def filing_page(request: Request) -> Response:
    """The opened filing."""
    return show_filing(opened(request), request)


@router.get("/licence", name="track_licence")
def licence(request: Request) -> Response:
    """The e-business licence of the opened filing, once registration is done."""
    shown = opened(request)
    rt = runtime.current()
    with rt.database.reading() as session:
        filing = tracking.filing_of(session, shown.visit.visitor)
        assert filing is not None, "a session's filing is never deleted"
        document = tracking.licence_of(session, filing)
        found = (filing.tracking_code, document.content, document.media_type) if document else None
    if found is None:
        raise StarletteHTTPException(404)
    code, content, media_type = found
    return file_response(
        content,
        media_type=media_type,
        filename=f"licence-{code}.pdf",
        headers={"Cache-Control": "no-store"},
    )


# Language and leaving -------------------------------------------------------------------


@router.post("/language", name="track_language")
def switch_language(request: Request, chosen: LanguageForm, csrf_token: CsrfToken = "") -> Response:
    """Show this session's pages in the language chosen, back on the page it came from."""
    found = _live_posting(request, csrf_token)
    rt = runtime.current()
    with rt.database.transaction() as session:
        tracking.set_language(session, row_id=found.row_id, language=chosen.language)
    return see_other(chosen.back)


@router.post("/leave", name="track_leave")
def leave(request: Request, csrf_token: CsrfToken = "") -> Response:
    """Close the filing on this browser: its session ends, and a visitor's new session (the
    form's, in the language chosen) takes its place."""
    found = live(request)
    sid = session_id(request)
    if found is None or sid is None or not tracking.csrf_matches(found, csrf_token):
        return expired_form(visit(request), request)
    rt = runtime.current()
    with rt.database.transaction() as session:
        tracking.end_visit(session, sid)
        new_id = tracking.open_visit(session, now=rt.clock.now(), language=found.language)
    response = see_other(f"{base(request)}/")
    set_session_cookie(response, request, new_id)
    return response
