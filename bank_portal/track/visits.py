"""Who is at the tracking page: the session cookie, the CSRF check, and page rendering.

The cookie holds the session's id and nothing else; the session is a row of the core
(`orchestrator.filings.tracking`). Every page is shown within a session, a visitor's before a
filing is opened, so that every form, the opening form too, carries the session's CSRF token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from bank_portal.i18n import DEFAULT_LANGUAGE
from bank_portal.pages import FORM_EXPIRED, base, render
from bank_portal.sessions import cookie_id, open_for_visitor, secure_cookie, settings_of
from orchestrator import runtime
from orchestrator.filings import tracking
from orchestrator.settings import Settings

COOKIE = "onestop_track"
# The counter of sessions opened, by client address (a row each until it ends).
_NEW_SESSIONS = "track-new-session"


def lifetime(settings: Settings) -> timedelta:
    """How long a tracking session lives from its opening, busy or not."""
    return timedelta(minutes=settings.track_session_minutes)


@dataclass(frozen=True)
class Visit:
    """The tracking session a request is served in, and its id to set if it is new."""

    visitor: tracking.Visitor
    new_id: str | None = None

    @property
    def language(self) -> str:
        """The language the session's pages are shown in."""
        return self.visitor.language


def session_id(request: Request) -> str | None:
    """The session id the browser sent, if any."""
    return cookie_id(request, COOKIE)


def live(request: Request) -> tracking.Visitor | None:
    """The live tracking session the request's cookie names, or None."""
    sid = session_id(request)
    if sid is None:
        return None
    rt = runtime.current()
    with rt.database.reading() as session:
        return tracking.find_visit(
            session, sid, now=rt.clock.now(), lifetime=lifetime(settings_of(request))
        )


def visit(request: Request) -> Visit:
    """The request's live session, or a new visitor's (in the default language)."""
    found = live(request)
    if found is not None:
        return Visit(found)
    # Against the portal's allowance of new sessions, on a counter of its own.
    span = lifetime(settings_of(request))
    opened, new_id = open_for_visitor(
        request,
        _NEW_SESSIONS,
        open_row=lambda session, now: tracking.open_visit(
            session, now=now, language=DEFAULT_LANGUAGE
        ),
        find=lambda session, sid, now: tracking.find_visit(session, sid, now=now, lifetime=span),
    )
    return Visit(opened, new_id)


def set_session_cookie(response: Response, request: Request, new_id: str) -> None:
    """Give the browser the session id `new_id`, for the tracking page only."""
    settings = settings_of(request)
    response.set_cookie(
        COOKIE,
        new_id,
        max_age=settings.track_session_minutes * 60,
        path=base(request) or "/",
        httponly=True,  # no script may read it
        samesite="strict",  # a link from elsewhere opens the form, never a filing's page
        secure=secure_cookie(request),
    )


def page(visit: Visit, request: Request, template: str, **context: Any) -> Response:
    """The page `template` in the session's language, with its CSRF token."""
    response = render(
        request,
        template,
        language=visit.language,
        csrf_token=visit.visitor.csrf_token,
        **context,
    )
    if visit.new_id is not None:
        set_session_cookie(response, request, visit.new_id)
    return response


def expired_form(visit: Visit, request: Request) -> Response:
    """A form posted without its session's token: refused, nothing done."""
    return page(
        visit,
        request,
        "track/error.html",
        status_code=403,
        **FORM_EXPIRED,
    )
