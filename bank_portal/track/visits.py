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

from bank_portal.i18n import DEFAULT_LANGUAGE, N_
from bank_portal.pages import base, render
from orchestrator import runtime
from orchestrator.api.rate_limits import RateLimiter, client_address
from orchestrator.filings import tracking
from orchestrator.settings import Settings

COOKIE = "onestop_track"
# The counter of sessions opened, by client address (a row each until it ends).
_NEW_SESSIONS = "track-new-session"


def settings_of(request: Request) -> Settings:
    """The settings the tracking page was built with."""
    settings: Settings = request.app.state.settings
    return settings


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
    return request.cookies.get(COOKIE) or None


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
    settings = settings_of(request)
    limiter: RateLimiter = request.app.state.rate_limiter
    # The portal's allowance of new sessions, counted apart: the same kind of row, the same
    # reason to refuse a client that opens them by the thousand (429) before it writes any.
    limiter.hit(_NEW_SESSIONS, settings.rate_limit_portal_new_sessions, client_address(request))
    rt = runtime.current()
    now = rt.clock.now()
    with rt.database.transaction() as session:
        new_id = tracking.open_visit(session, now=now, language=DEFAULT_LANGUAGE)
    with rt.database.reading() as session:
        opened = tracking.find_visit(session, new_id, now=now, lifetime=lifetime(settings))
    assert opened is not None, "a session just opened is live"
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
        # Over HTTPS, or behind a proxy serving the public address over HTTPS: never in clear.
        secure=request.url.scheme == "https" or (settings.public_url or "").startswith("https:"),
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
        title=N_("This form has expired"),
        message=N_("The page was open too long or came from elsewhere. Please try again."),
    )
