"""The staff portal's pages: sign-in and sign-out, the language switch, the branch's work
queue and a filing's page.

Filings are read through the core's services and views, with the caller's access scope:
branch staff see their own branch's filings, and another branch's filing is a 404, as in
the API. Resident IDs and mobile numbers are masked on these pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response

from bank_portal import auth, sla
from bank_portal.i18n import DEFAULT_LANGUAGE, N_
from bank_portal.pages import FORM_EXPIRED, NOT_FOUND, Elsewhere, base, render, see_other
from bank_portal.sessions import CsrfToken, LanguageForm, settings_of
from orchestrator import runtime
from orchestrator.filings import queue, views
from orchestrator.filings.models import StepStatus
from orchestrator.filings.queue import Bucket
from orchestrator.identity.sessions import (
    LiveSession,
    SignedIn,
    end_session,
    set_language,
    sign_in,
    staff_with_password,
)
from orchestrator.notifications import inbox
from orchestrator.privacy import mask_text
from orchestrator.subsidies import ledger
from orchestrator.workflow import by_name

router = APIRouter()

PAGE_SIZE = 50

# How often an open queue or filing page asks for what changed.
POLL_SECONDS = 3

BUCKETS = {
    Bucket.ALL: N_("All"),
    Bucket.IN_PROGRESS: N_("In progress"),
    Bucket.NEEDS_ATTENTION: N_("Needs attention"),
    Bucket.WAITING_SUPPLEMENT: N_("Waiting for a supplement"),
    Bucket.SUPPLEMENT_TO_CONFIRM: N_("Supplement to confirm"),
    Bucket.MATERIAL_OVERDUE: N_("Material overdue"),
    Bucket.AT_RISK: N_("At risk"),
    Bucket.OVERDUE: N_("Past the deadline"),
    Bucket.READY: N_("Ready"),
    Bucket.DONE: N_("Done"),
}

FILING_STATUS = {
    "accepted": N_("In progress"),
    "ready": N_("Ready"),
    "complete": N_("Complete"),
    "action_required": N_("Needs attention"),
    "cancelled": N_("Cancelled"),
}
STEP_STATUS = {
    "waiting": N_("Waiting"),
    "ready": N_("Queued"),
    "running": N_("In progress"),
    "submitted": N_("With the agency"),
    "blocked": N_("Waiting for a material"),
    "at_branch": N_("At the branch"),
    "done": N_("Done"),
    "rejected": N_("Rejected"),
    "cancelled": N_("Cancelled"),
}


def page(visit: auth.Visit, request: Request, template: str, **context: Any) -> Response:
    response = render(
        request,
        template,
        language=visit.language,
        csrf_token=visit.session.csrf_token,
        staff=visit.staff,
        unread=_unread(visit),
        supervisor=supervises(visit.staff),
        **context,
    )
    if visit.new_id is not None:
        auth.set_session_cookie(response, request, visit.new_id)
    return response


def _unread(visit: auth.Visit) -> int:
    """The signed-in member of staff's unread notices, for the header's count."""
    if visit.staff is None:
        return 0
    with runtime.current().database.reading() as session:
        return inbox.unread(session, visit.staff.staff_id)


def forbidden_form(visit: auth.Visit, request: Request) -> Response:
    return page(
        visit,
        request,
        "portal/error.html",
        status_code=403,
        **FORM_EXPIRED,
    )


def _live_posting(request: Request, csrf_token: str) -> LiveSession:
    """The live session a form of its pages was posted from (its CSRF token came back);
    else `Elsewhere`: the form has expired (a visitor's session, if need be, shows it)."""
    live = auth.live_session(request)
    if live is None or not auth.csrf_ok(live, csrf_token):
        raise Elsewhere(forbidden_form(auth.visit(request), request))
    return live


@router.get("/login", name="login")
def login_page(request: Request) -> Response:
    """The sign-in form (straight to the queue for someone signed in already)."""
    visit = auth.visit(request)
    if visit.staff is not None:
        return see_other(f"{base(request)}/")
    return page(visit, request, "portal/login.html", username="", error=None)


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: CsrfToken = "",
) -> Response:
    """Check the password; on success a new session (a new id) replaces the visitor's."""
    live = _live_posting(request, csrf_token)
    visit = auth.Visit(live)
    username = username.strip()

    def refused(message: str, status_code: int, **values: Any) -> Response:
        return page(
            visit,
            request,
            "portal/login.html",
            status_code=status_code,
            username=username,
            error=message,
            error_values=values,
        )

    wait = auth.locked_out_for(request, username)
    if wait is not None:
        minutes = max(1, -(-wait // 60))
        return refused(
            N_("Too many failed sign-ins. Try again in %(minutes)s minutes."), 429, minutes=minutes
        )
    rt = runtime.current()
    with rt.database.reading() as session:
        match = staff_with_password(session, username, password)
    if match is None:
        auth.count_failure(request, username)
        return refused(N_("Wrong username or password."), 401)
    with rt.database.transaction() as session:
        new_id = sign_in(
            session,
            match,
            replacing=auth.session_id(request),
            language=live.language,
            now=rt.clock.now(),
            timeouts=auth.timeouts(settings_of(request)),
        )
    response = see_other(f"{base(request)}/")
    auth.set_session_cookie(response, request, new_id)
    return response


@router.post("/logout", name="logout")
def logout(request: Request, csrf_token: CsrfToken = "") -> Response:
    """End the session; the browser forgets its id."""
    live = auth.live_session(request)
    sid = auth.session_id(request)
    if live is None or sid is None or not auth.csrf_ok(live, csrf_token):
        return forbidden_form(auth.visit(request), request)
    rt = runtime.current()
    with rt.database.transaction() as session:
        end_session(session, sid)
    response = see_other(f"{base(request)}/login")
    auth.clear_session_cookie(response, request)
    return response


@router.post("/language", name="language")
def switch_language(request: Request, chosen: LanguageForm, csrf_token: CsrfToken = "") -> Response:
    """Show this session's pages in the language chosen from now on, back on the page it
    came from."""
    live = _live_posting(request, csrf_token)
    rt = runtime.current()
    with rt.database.transaction() as session:
        set_language(session, row_id=live.row_id, language=chosen.language)
    return see_other(chosen.back)


def branch_staff(visit: auth.Visit, request: Request) -> SignedIn:
    """Who signed in, if they work at a branch; else `Elsewhere`: the sign-in form, or the
    page that says the role may not."""
    if visit.staff is None:
        raise Elsewhere(see_other(f"{base(request)}/login"))
    if visit.staff.scope.branch_id is None:
        raise Elsewhere(page(visit, request, "portal/role.html", status_code=403))
    return visit.staff


def check_csrf(visit: auth.Visit, request: Request, csrf_token: str | None) -> None:
    """Pass a form posted from a page of this session (its CSRF token came back); else
    `Elsewhere`: the form has expired."""
    if not auth.csrf_ok(visit.session, csrf_token):
        raise Elsewhere(forbidden_form(visit, request))


def supervises(staff: SignedIn | None) -> bool:
    """Whether `staff` supervises a district (an officer) or every one (an administrator)."""
    if staff is None or staff.scope.branch_id is not None:
        return False
    return staff.scope.everything or staff.scope.district_code is not None


def _live_staff(request: Request) -> tuple[auth.Visit, SignedIn]:
    """The branch staff a page's refresh comes from, without counting it as activity; an
    ended session sends the page to the sign-in form (htmx follows HX-Redirect)."""
    live = auth.live_session(request, activity=False)
    if live is None or live.staff is None or live.staff.scope.branch_id is None:
        raise Elsewhere(
            Response(status_code=204, headers={"HX-Redirect": f"{base(request)}/login"})
        )
    return auth.Visit(live), live.staff


@dataclass(frozen=True)
class _QueueAsked:
    """What a queue's address asks for: a bucket, a search within it, a page of it."""

    bucket: Bucket
    q: str
    number: int


def _queue_asked(
    q: Annotated[str, Query(max_length=100)] = "",
    bucket: Annotated[str, Query(max_length=40)] = "",
    number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> _QueueAsked:
    known = bucket in Bucket.__members__.values()
    return _QueueAsked(Bucket(bucket) if known else Bucket.ALL, q, number)


QueueAsked = Annotated[_QueueAsked, Depends(_queue_asked)]


def _queue_context(staff: SignedIn, asked: _QueueAsked) -> dict[str, Any]:
    """What the queue shows: the buckets' counts and the page of the chosen one."""
    bucket, q, number = asked.bucket, asked.q, asked.number
    rt = runtime.current()
    now = rt.clock.now()
    with rt.database.reading() as session:
        counts = queue.counts(session, staff.scope, now=now, search=q)
        rows, total = queue.page(
            session, staff.scope, bucket, now=now, search=q, number=number, page_size=PAGE_SIZE
        )
        filings = [views.summary(filing, rt.calendar) for filing in rows]
        estimates = {filing.tracking_code: sla.stored(filing) for filing in rows}
        # Needs attention: the agencies' reasons, as they came but for personal numbers.
        attention = {
            filing.tracking_code: [
                (step.name, mask_text(step.reason or ""))
                for step in filing.steps
                if step.status == StepStatus.REJECTED
            ]
            for filing in rows
        }
        # Filings whose free seals and courier fell back to paid: the budget was spent.
        subsidies = ledger.of_filings(session.connection(), [filing.id for filing in rows])
        paid = {f.tracking_code for f in rows if f.id in subsidies and not subsidies[f.id].granted}
    deadlines = {
        f.tracking_code: rt.calendar.elapsed_days(f.accepted_at, f.deadline_at) for f in filings
    }
    return {
        "filings": filings,
        "attention": attention,
        "paid": paid,
        "step_labels": {name: (s.label_zh, s.label_en) for name, s in by_name().items()},
        "deadline_days": deadlines,
        "estimates": estimates,
        "sla_state": sla.SLA_STATE,
        "total": total,
        "q": q,
        "bucket": bucket.value,
        "buckets": [(b.value, BUCKETS[b]) for b in Bucket],
        "counts": {b.value: n for b, n in counts.items()},
        "page_number": number,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "filing_status": FILING_STATUS,
        "poll_seconds": POLL_SECONDS,
    }


@router.get("/", name="queue")
def queue_page(request: Request, asked: QueueAsked) -> Response:
    """The branch's filings by bucket, newest first; found by company name, credit or
    tracking code within the bucket."""
    visit = auth.visit(request)
    if supervises(visit.staff):  # the portal's home for them is the dashboard
        return see_other(f"{base(request)}/supervision")
    staff = branch_staff(visit, request)
    return page(visit, request, "portal/queue.html", **_queue_context(staff, asked))


@router.get("/live/queue", name="queue_live")
def queue_live(request: Request, asked: QueueAsked) -> Response:
    """The queue's buckets and rows alone, for the open page to refresh itself with."""
    visit, staff = _live_staff(request)
    return page(visit, request, "portal/_queue.html", **_queue_context(staff, asked))


def error_page(
    request: Request,
    *,
    status_code: int,
    title: str,
    message: str,
    detail: tuple[str, str] | None = None,
    with_session: bool = True,
) -> Response:
    """An error page in the session's language, or a bare one (the default language, no
    forms) for a visitor: an error never opens a session, so a flood of bad requests
    writes nothing. `detail` is a Chinese and English pair (the core's refusals): the
    page's own half is shown. Without `with_session` the database is not even asked."""
    live = auth.live_session(request) if with_session else None
    language = live.language if live is not None else DEFAULT_LANGUAGE
    response = render(
        request,
        "portal/error.html",
        language=language,
        csrf_token=live.csrf_token if live is not None else "",
        staff=live.staff if live is not None else None,
        status_code=status_code,
        title=title,
        message=message,
        detail=None if detail is None else detail[0 if language == DEFAULT_LANGUAGE else 1],
    )
    return response


def not_found(request: Request) -> Response:
    """The portal's 404 page: no such page, or nothing the caller may see there."""
    return error_page(request, status_code=404, **NOT_FOUND)
