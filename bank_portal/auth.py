"""Who is at the browser: the session cookie, the CSRF check, and the sign-in lockout.

The cookie holds the session's id and nothing else (the session itself is a database row,
`orchestrator.identity.sessions`). Every page is shown within a session, a visitor's before
sign-in, so that every form, the login form too, carries the session's CSRF token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from fastapi import Request
from fastapi.responses import Response

from bank_portal.i18n import DEFAULT_LANGUAGE
from bank_portal.sessions import cookie_id, open_for_visitor, secure_cookie, settings_of
from orchestrator import runtime
from orchestrator.api.rate_limits import RateLimiter, client_address
from orchestrator.identity.sessions import (
    LiveSession,
    SessionTimeouts,
    SignedIn,
    csrf_matches,
    find_session,
    open_session,
    touch,
)
from orchestrator.settings import Settings

COOKIE = "onestop_portal"
CSRF_FIELD = "csrf_token"
# The counter of sessions opened, by client address.
_NEW_SESSIONS = "portal-new-session"


def timeouts(settings: Settings) -> SessionTimeouts:
    """The portal sessions' timeouts, as the settings give them."""
    return SessionTimeouts(
        idle=timedelta(minutes=settings.portal_session_idle_minutes),
        absolute=timedelta(hours=settings.portal_session_max_hours),
    )


@dataclass(frozen=True)
class Visit:
    """The session a request is served in, and the id to set in the cookie if it is new."""

    session: LiveSession
    new_id: str | None = None

    @property
    def language(self) -> str:
        """The language the session's pages are shown in."""
        return self.session.language

    @property
    def staff(self) -> SignedIn | None:
        """Who signed in, if anyone."""
        return self.session.staff


def session_id(request: Request) -> str | None:
    """The session id the browser sent, if any."""
    return cookie_id(request, COOKIE)


def live_session(request: Request, *, activity: bool = True) -> LiveSession | None:
    """The live session the request's cookie names, its activity recorded; None if none.

    Without `activity` (a page refreshing itself, not a person acting) nothing is recorded:
    an open page left polling does not keep its session from its idle timeout."""
    sid = session_id(request)
    if sid is None:
        return None
    rt = runtime.current()
    now = rt.clock.now()
    with rt.database.reading() as session:
        live = find_session(session, sid, now=now, timeouts=timeouts(settings_of(request)))
    if live is not None and live.touch_due and activity:
        with rt.database.transaction() as session:
            touch(session, row_id=live.row_id, now=now)
    return live


def visit(request: Request) -> Visit:
    """The request's live session, or a new visitor's session (in the default language)."""
    live = live_session(request)
    if live is not None:
        return Visit(live)
    settings = settings_of(request)
    opened, new_id = open_for_visitor(
        request,
        _NEW_SESSIONS,
        open_row=lambda session, now: open_session(session, now=now, language=DEFAULT_LANGUAGE),
        find=lambda session, sid, now: find_session(
            session, sid, now=now, timeouts=timeouts(settings)
        ),
    )
    return Visit(opened, new_id)


def csrf_ok(live: LiveSession | None, submitted: str | None) -> bool:
    """Whether a form was posted from a page of this session (its token came back)."""
    return live is not None and csrf_matches(live, submitted)


def set_session_cookie(response: Response, request: Request, new_id: str) -> None:
    """Give the browser the session id `new_id`, for the portal's pages only."""
    response.set_cookie(
        COOKIE,
        new_id,
        path=request.scope.get("root_path", "") or "/",
        httponly=True,  # no script of any page may read it
        samesite="lax",  # not sent with another site's form posts
        secure=secure_cookie(request),
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    """Make the browser forget the session id."""
    response.delete_cookie(COOKIE, path=request.scope.get("root_path", "") or "/")


# The counters of failed sign-ins, by username and by client address.
_PER_USER = "portal-login-user"
_PER_ADDRESS = "portal-login-address"


def _counters(request: Request, username: str) -> list[tuple[str, str, str]]:
    settings = settings_of(request)
    return [
        (_PER_USER, settings.rate_limit_portal_login_failures_per_user, username.casefold()),
        (
            _PER_ADDRESS,
            settings.rate_limit_portal_login_failures_per_address,
            client_address(request),
        ),
    ]


def locked_out_for(request: Request, username: str) -> int | None:
    """Seconds until a sign-in as `username` from this client may be tried again, or None.

    Asked before the password is checked: a locked-out guess learns nothing.
    """
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter.longest_wait(_counters(request, username))


def count_failure(request: Request, username: str) -> None:
    """Count a failed sign-in against `username` and against the client's address."""
    limiter: RateLimiter = request.app.state.rate_limiter
    limiter.count_failure(_counters(request, username))
