"""Who is at the browser: the session cookie, the CSRF check, and the sign-in lockout.

The cookie holds the session's id and nothing else (the session itself is a database row,
`orchestrator.identity.sessions`). Every page is shown within a session, a visitor's before
sign-in, so that every form, the login form too, carries the session's CSRF token.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta

from fastapi import Request
from fastapi.responses import Response

from bank_portal.i18n import DEFAULT_LANGUAGE
from orchestrator import runtime
from orchestrator.api.rate_limits import RateLimiter, TooManyRequests, client_address
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


def settings_of(request: Request) -> Settings:
    """The settings the portal was built with (its limits, timeouts, public address)."""
    settings: Settings = request.app.state.settings
    return settings


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
    return request.cookies.get(COOKIE) or None


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
    limiter: RateLimiter = request.app.state.rate_limiter
    # Each is a row until it times out: a client that opens sessions by the thousand is
    # refused (429) before it writes any.
    limiter.hit(_NEW_SESSIONS, settings.rate_limit_portal_new_sessions, client_address(request))
    rt = runtime.current()
    now = rt.clock.now()
    with rt.database.transaction() as session:
        new_id = open_session(session, now=now, language=DEFAULT_LANGUAGE)
    with rt.database.reading() as session:
        opened = find_session(session, new_id, now=now, timeouts=timeouts(settings_of(request)))
    assert opened is not None, "a session just opened is live"
    return Visit(opened, new_id)


def csrf_ok(live: LiveSession | None, submitted: str | None) -> bool:
    """Whether a form was posted from a page of this session (its token came back)."""
    return live is not None and csrf_matches(live, submitted)


def _secure(request: Request, settings: Settings) -> bool:
    # Over HTTPS, or behind a proxy that serves the public address over HTTPS: the cookie
    # must then never travel in clear. A local http:// development server keeps it usable.
    return request.url.scheme == "https" or (settings.public_url or "").startswith("https:")


def set_session_cookie(response: Response, request: Request, new_id: str) -> None:
    """Give the browser the session id `new_id`, for the portal's pages only."""
    response.set_cookie(
        COOKIE,
        new_id,
        path=request.scope.get("root_path", "") or "/",
        httponly=True,  # no script of any page may read it
        samesite="lax",  # not sent with another site's form posts
        secure=_secure(request, settings_of(request)),
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    """Make the browser forget the session id."""
    response.delete_cookie(COOKIE, path=request.scope.get("root_path", "") or "/")


# The counters of failed sign-ins, by username and by client address.
_PER_USER = "portal-login-user"
_PER_ADDRESS = "portal-login-address"


def _limits(settings: Settings) -> tuple[tuple[str, str], tuple[str, str]]:
    return (
        (_PER_USER, settings.rate_limit_portal_login_failures_per_user),
        (_PER_ADDRESS, settings.rate_limit_portal_login_failures_per_address),
    )


def locked_out_for(request: Request, username: str) -> int | None:
    """Seconds until a sign-in as `username` from this client may be tried again, or None.

    Asked before the password is checked: a locked-out guess learns nothing.
    """
    limiter: RateLimiter = request.app.state.rate_limiter
    settings = settings_of(request)
    keys = (username.casefold(), client_address(request))
    waits = [
        wait
        for (name, limit), key in zip(_limits(settings), keys, strict=True)
        if (wait := limiter.spent(name, limit, key)) is not None
    ]
    return max(waits) if waits else None


def count_failure(request: Request, username: str) -> None:
    """Count a failed sign-in against `username` and against the client's address."""
    limiter: RateLimiter = request.app.state.rate_limiter
    settings = settings_of(request)
    keys = (username.casefold(), client_address(request))
    for (name, limit), key in zip(_limits(settings), keys, strict=True):
        # A spent limit: the next attempt is locked out; this one has failed anyway.
        with suppress(TooManyRequests):
            limiter.hit(name, limit, key)
