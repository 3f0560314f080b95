"""The web process: the core's JSON API with the staff portal mounted at /portal.

Composed here, on the portal's side, because the portal builds on the core and the core
never imports it: `onestop api`, `serve` and `up` load this factory by the name in the
setting `web_app` (`orchestrator.api.app.web_app`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import exc as db_errors
from starlette.exceptions import HTTPException as StarletteHTTPException

from bank_portal.filing_page import router as filing_router
from bank_portal.follow_ups import router as follow_ups_router
from bank_portal.i18n import LANGUAGES
from bank_portal.inbox import router as inbox_router
from bank_portal.intake import router as intake_router
from bank_portal.pages import CANNOT_SERVE, UNAVAILABLE, Elsewhere, answer_elsewhere, environment
from bank_portal.routes import error_page, not_found
from bank_portal.routes import router as portal_router
from bank_portal.supervision import router as supervision_router
from bank_portal.supplements import router as supplements_router
from bank_portal.track import TRACK_PATH
from bank_portal.track.app import create_tracking
from orchestrator import runtime
from orchestrator.api.app import DATABASE_RETRY_AFTER_SECONDS
from orchestrator.api.app import create_app as create_api
from orchestrator.api.rate_limits import RateLimiter
from orchestrator.errors import DomainError
from orchestrator.filings.uploads import MAX_UPLOAD_BYTES
from orchestrator.settings import Settings

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
UPLOAD_BODY_BYTES = MAX_UPLOAD_BYTES + 64 * 1024


def _cannot_serve(
    request: Request, status_code: int, *, reason: DomainError | None = None
) -> Response:
    response = error_page(
        request,
        status_code=status_code,
        **CANNOT_SERVE,
        detail=None if reason is None else (reason.message_zh, reason.message_en),
    )
    if reason is not None:
        response.headers.update(reason.headers())
    return response


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    return _cannot_serve(request, exc.status_code, reason=exc)


async def _database_unavailable(request: Request, _exc: Exception) -> Response:
    """The database did not answer: a page that asks it nothing, and when to come back."""
    log.warning("database unavailable for %s", request.url.path)
    response = error_page(request, status_code=503, with_session=False, **UNAVAILABLE)
    response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return not_found(request) if exc.status_code == 404 else _cannot_serve(request, exc.status_code)


async def _invalid_request(request: Request, _exc: Exception) -> Response:
    return _cannot_serve(request, 400)


def _to_dashboard(request: Request) -> Response:
    """/supervision: the dashboard is a page of the portal (its sign-in, its session)."""
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(f"/portal/supervision{query}", status_code=307)


def create_portal(settings: Settings) -> FastAPI:
    """The staff portal alone: its pages, its stylesheet, its HTML errors."""
    # Catalogs compiled and templates' environments built now: a broken catalog stops the
    # process at start, and the first page served waits for nothing.
    for language in LANGUAGES:
        environment(language)
    portal = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    portal.state.settings = settings
    portal.state.rate_limiter = RateLimiter(settings)
    # First: /filings/new is the form, not a filing's tracking code.
    portal.include_router(intake_router)
    portal.include_router(portal_router)
    portal.include_router(filing_router)
    portal.include_router(follow_ups_router)
    portal.include_router(inbox_router)
    portal.include_router(supplements_router)
    portal.include_router(supervision_router)
    portal.mount("/static", StaticFiles(directory=STATIC), name="static")
    portal.add_exception_handler(Elsewhere, answer_elsewhere)
    portal.add_exception_handler(StarletteHTTPException, _http_error)
    portal.add_exception_handler(RequestValidationError, _invalid_request)
    portal.add_exception_handler(DomainError, _refused)  # a rate-limit store away, say
    # Connection refused or cut, and a pool with no connection free in time.
    portal.add_exception_handler(db_errors.OperationalError, _database_unavailable)
    portal.add_exception_handler(db_errors.TimeoutError, _database_unavailable)
    return portal


def create_app(settings: Settings | None = None) -> FastAPI:
    """The JSON API and the staff portal; `settings` default to the process's runtime's."""
    settings = settings or runtime.current().settings
    # An upload's form: the file at its limit, and room for the form's fields around it.
    app = create_api(
        settings,
        larger_bodies={
            "/portal/filings/new/": UPLOAD_BODY_BYTES,
            f"{TRACK_PATH}/supplement/": UPLOAD_BODY_BYTES,  # a 容缺 material's upload
        },
    )
    app.add_api_route("/supervision", _to_dashboard, include_in_schema=False)
    app.mount("/portal", create_portal(settings))
    app.mount(TRACK_PATH, create_tracking(settings, str(STATIC)))
    return app
