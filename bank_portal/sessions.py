"""What the portal's sessions and the tracking page's have in common: the settings they are
built with, the cookie that names one, a new visitor's session, and the way back from the
language switch. Each keeps its own cookie and its own kind of row (`bank_portal.auth`,
`bank_portal.track.visits`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, TypeVar

from fastapi import Depends, Form, Request
from sqlalchemy.orm import Session

from bank_portal.i18n import language_or_default
from bank_portal.pages import base
from orchestrator import runtime
from orchestrator.api.rate_limits import RateLimiter, client_address
from orchestrator.settings import Settings

LiveT = TypeVar("LiveT")

# The session's CSRF token, as every form of its pages posts it back.
CsrfToken = Annotated[str, Form(max_length=200)]


def settings_of(request: Request) -> Settings:
    """The settings the site was built with (its limits, timeouts, public address)."""
    settings: Settings = request.app.state.settings
    return settings


def cookie_id(request: Request, cookie: str) -> str | None:
    """The session id the browser sent in `cookie`, if any."""
    return request.cookies.get(cookie) or None


def secure_cookie(request: Request) -> bool:
    """Whether the session cookie must never travel in clear: over HTTPS, or behind a proxy
    that serves the public address over HTTPS. A local http:// development server keeps it
    usable."""
    public_url = settings_of(request).public_url or ""
    return request.url.scheme == "https" or public_url.startswith("https:")


def open_for_visitor(
    request: Request,
    counter: str,
    *,
    open_row: Callable[[Session, datetime], str],
    find: Callable[[Session, str, datetime], LiveT | None],
) -> tuple[LiveT, str]:
    """A new visitor's session, opened by `open_row` and read back by `find`, and its id.

    Each is a row until it ends: a client that opens sessions by the thousand is refused
    (429) before it writes any, counted against `counter` by its address."""
    limiter: RateLimiter = request.app.state.rate_limiter
    limit = settings_of(request).rate_limit_portal_new_sessions
    limiter.hit(counter, limit, client_address(request))
    rt = runtime.current()
    now = rt.clock.now()
    with rt.database.transaction() as session:
        new_id = open_row(session, now)
    with rt.database.reading() as session:
        opened = find(session, new_id, now)
    assert opened is not None, "a session just opened is live"
    return opened, new_id


def way_back(request: Request, next_page: str) -> str:
    """Where the language switch goes on to: the page it came from if it is one of this
    site's, never an address elsewhere (an open redirect); else the site's home."""
    root = base(request)
    local = next_page.startswith(f"{root}/") and not next_page.startswith("//")
    return next_page if local and "\\" not in next_page else f"{root}/"


@dataclass(frozen=True)
class LanguageChoice:
    """What the language switch (every page's, on both sites) posts: the language chosen,
    and where to go back to."""

    language: str
    back: str


def _language_choice(
    request: Request,
    language: Annotated[str, Form(max_length=20)] = "",
    next_page: Annotated[str, Form(alias="next", max_length=2000)] = "",
) -> LanguageChoice:
    return LanguageChoice(language_or_default(language), way_back(request, next_page))


LanguageForm = Annotated[LanguageChoice, Depends(_language_choice)]
