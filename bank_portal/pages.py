"""Rendering the portal's pages: one Jinja2 environment per language, and what every page
needs (its language switch, the session's CSRF token, who is signed in, the headers)."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, TypedDict

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from bank_portal.i18n import HTML_LANG, LANGUAGES, N_, translations
from orchestrator.clock import CHINA
from orchestrator.identity.sessions import SignedIn

# Top level, beside the packages (DESIGN.md): the receipts and the tracking page's templates
# will live there too.
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

# Scripts only from our own static files (the form's checks, vendored), nothing loaded from
# elsewhere, no inline script: what an injected tag could do is refused by the browser too,
# not only escaped by us.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; "
    "img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-store",  # pages show personal data and filings
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


class Said(TypedDict):
    """What an error page says: its title and its message (translated where shown)."""

    title: str
    message: str


# What the error pages of both sites say, by what happened.
FORM_EXPIRED = Said(
    title=N_("This form has expired"),
    message=N_("The page was open too long or came from elsewhere. Please try again."),
)
NOT_FOUND = Said(
    title=N_("Not found"), message=N_("There is no such page, or it is not one you may see.")
)
CANNOT_SERVE = Said(
    title=N_("This request cannot be served"), message=N_("Please go back and try again.")
)
UNAVAILABLE = Said(
    title=N_("Temporarily unavailable"), message=N_("Please try again in a few seconds.")
)


def base(request: Request) -> str:
    """Where the site is mounted (/portal, /track): its links start there."""
    return str(request.scope.get("root_path", ""))


def see_other(path: str) -> RedirectResponse:
    """Go on to `path` (after a form, with GET)."""
    return RedirectResponse(path, status_code=303)


class Elsewhere(Exception):
    """Not the page asked for, but `response`: the sign-in form, the page that says the
    role may not, a form expired. Raised where a route finds it out; the site's handler
    (`answer_elsewhere`) sends the response as it is."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


async def answer_elsewhere(_request: Request, exc: Exception) -> Response:
    """The response an `Elsewhere` carries."""
    assert isinstance(exc, Elsewhere)
    return exc.response


def _when(instant: datetime | None) -> str:
    """An instant to the minute, in China time; a dash for none."""
    return instant.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if instant else "—"


@cache
def environment(language: str) -> Environment:
    """The templates, speaking `language` (`_()` and `{% trans %}` from its catalog)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.filters["when"] = _when
    return env


def gettext(language: str, message: str, **values: Any) -> str:
    """`message` in `language`, with `values` filled in (as the templates' `_()` does)."""
    text = translations(language).gettext(message)
    return text % values if values else text


def render(
    request: Request,
    template: str,
    *,
    language: str,
    csrf_token: str,
    staff: SignedIn | None = None,
    status_code: int = 200,
    here: str | None = None,
    **context: Any,
) -> HTMLResponse:
    """The page `template` in `language`, with what every page shows around its content.

    `here` is the page the language switch comes back to: the request's own unless it was
    a form's post (a page shown again with its errors)."""
    other = next(code for code in LANGUAGES if code != language)
    html = (
        environment(language)
        .get_template(template)
        .render(
            base=base(request),
            here=here or request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            language=language,
            html_lang=HTML_LANG[language],
            other_language=other,
            other_language_name=LANGUAGES[other],
            other_html_lang=HTML_LANG[other],
            csrf_token=csrf_token,
            staff=staff,
            **context,
        )
    )
    return HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)
