"""The tracking page as an application: its routes, its stylesheets and its HTML errors
(mounted by bank_portal/web.py at `TRACK_PATH`)."""

from __future__ import annotations

from contextlib import suppress

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import exc as db_errors
from starlette.exceptions import HTTPException as StarletteHTTPException

from bank_portal.i18n import DEFAULT_LANGUAGE, said_in
from bank_portal.pages import (
    CANNOT_SERVE,
    NOT_FOUND,
    UNAVAILABLE,
    Elsewhere,
    answer_elsewhere,
    render,
)
from bank_portal.track import pages, rating, supplying
from bank_portal.track.visits import live
from orchestrator.api.app import DATABASE_RETRY_AFTER_SECONDS
from orchestrator.api.rate_limits import RateLimiter
from orchestrator.errors import DomainError
from orchestrator.filings.tracking import Visitor
from orchestrator.settings import Settings


def _error(
    request: Request,
    *,
    status_code: int,
    title: str,
    message: str,
    refusal: DomainError | None = None,
    ask_database: bool = True,
) -> Response:
    """An error page in the session's language, or a bare one (the default language, no
    forms) for a visitor: an error never opens a session. `refusal`, the core's, is shown in
    the page's language; without `ask_database` the database is not even asked."""
    found: Visitor | None = None
    if ask_database:
        with suppress(DomainError, db_errors.OperationalError, db_errors.TimeoutError):
            found = live(request)
    language = found.language if found is not None else DEFAULT_LANGUAGE
    detail = None
    if refusal is not None:
        detail = said_in(refusal, language)
    response = render(
        request,
        "track/error.html",
        language=language,
        csrf_token=found.csrf_token if found is not None else "",
        status_code=status_code,
        title=title,
        message=message,
        detail=detail,
    )
    if refusal is not None:
        response.headers.update(refusal.headers())
    return response


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return _error(request, status_code=404, **NOT_FOUND)
    return _error(request, status_code=exc.status_code, **CANNOT_SERVE)


async def _invalid_request(request: Request, _exc: Exception) -> Response:
    return _error(request, status_code=400, **CANNOT_SERVE)


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)  # a rate limit spent, or its store away
    return _error(request, status_code=exc.status_code, refusal=exc, **CANNOT_SERVE)


async def _database_unavailable(request: Request, _exc: Exception) -> Response:
    response = _error(request, status_code=503, ask_database=False, **UNAVAILABLE)
    response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response


def create_tracking(settings: Settings, static: str) -> FastAPI:
    """The tracking page alone: its pages, the stylesheets (from `static`), its HTML errors."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.rate_limiter = RateLimiter(settings)
    app.include_router(pages.router)
    app.include_router(rating.router)
    app.include_router(supplying.router)
    app.mount("/static", StaticFiles(directory=static), name="static")
    app.add_exception_handler(Elsewhere, answer_elsewhere)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(DomainError, _refused)
    # Connection refused or cut, and a pool with no connection free in time.
    app.add_exception_handler(db_errors.OperationalError, _database_unavailable)
    app.add_exception_handler(db_errors.TimeoutError, _database_unavailable)
    return app
