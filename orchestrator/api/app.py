"""The FastAPI application: routes, the body-size limit, its documentation served from
vendored assets, and one place that renders errors."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import exc as db_errors
from starlette.exceptions import HTTPException as StarletteHTTPException

from orchestrator import runtime
from orchestrator.api.filings import router as filings_router
from orchestrator.api.licences import router as licences_router
from orchestrator.api.limits import BodySizeLimit, BodyTooLarge
from orchestrator.api.middleware import RequestContext
from orchestrator.api.names import router as names_router
from orchestrator.api.rate_limits import RateLimiter
from orchestrator.api.request_target import PlainRequestTarget
from orchestrator.api.responses import error_response, error_responses
from orchestrator.api.supervision import router as supervision_router
from orchestrator.calendar import missing_schedule_notice
from orchestrator.errors import DomainError
from orchestrator.settings import Settings, get_settings
from orchestrator.validation import field_errors_from_dicts

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
# How soon a client should try again while the database is away: long enough not to pile
# retries onto a database coming back, short enough to be back soon after it is.
DATABASE_RETRY_AFTER_SECONDS = 5


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content=body, headers=headers)


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return error_response(exc)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return _json(
            400,
            {
                "error": "malformed_json",
                "message_zh": "请求体不是有效的 JSON",
                "message_en": "the request body is not valid JSON",
            },
        )
    fields = [e.model_dump() for e in field_errors_from_dicts(errors, strip_prefix=("body",))]
    return _json(
        422,
        {
            "error": "invalid",
            "message_zh": "填写有误，请按字段修改",
            "message_en": "some fields are invalid",
            "errors": fields,
        },
    )


_HTTP_MESSAGES = {
    400: ("请求体无法解析", "the request body could not be parsed"),
    404: ("未找到", "not found"),
    405: ("不支持该请求方法", "method not allowed"),
}


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc, BodyTooLarge):
        return _json(exc.status_code, exc.body)
    zh, en = _HTTP_MESSAGES.get(exc.status_code, (str(exc.detail), str(exc.detail)))
    body = {"error": "http_error", "message_zh": zh, "message_en": en}
    # A 405 names the methods it allows (Allow); keep whatever headers the error carries.
    return _json(exc.status_code, body, dict(exc.headers or {}))


async def _database_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    """The database did not answer (refused, cut, out of connections): come back later."""
    cause = getattr(exc, "orig", None) or exc
    # One line, no traceback: an outage would otherwise write one per request. The
    # driver's message names the server, never a statement's parameters.
    log.warning(
        "database unavailable: %s: %s", type(cause).__name__, (str(cause).splitlines() or [""])[0]
    )
    return _json(
        503,
        {
            "error": "database_unavailable",
            "message_zh": "数据库暂时无法访问，请稍后重试",
            "message_en": "the database is unavailable for the moment; please try again shortly",
        },
        {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )


def create_app(
    settings: Settings | None = None, *, larger_bodies: Mapping[str, int] | None = None
) -> FastAPI:
    """The API application; the runtime comes from `orchestrator.runtime`.

    `settings` (default: the process's) set its body limit and its rate limits;
    `larger_bodies` lets paths under given prefixes take larger bodies (a web process that
    serves pages with uploads beside the API).
    """
    settings = settings or get_settings()
    app = FastAPI(
        title="OneStop API",
        version="1",
        summary="一件事开办企业 · Open a company in one visit",
        openapi_url="/openapi.json",
        docs_url=None,  # served below, from vendored assets
        redoc_url=None,
        responses=error_responses(422, 500, 503),
    )
    app.state.settings = settings
    app.state.rate_limiter = RateLimiter(settings)
    # The last added is the outermost: RequestContext's headers and 500 cover the others.
    app.add_middleware(BodySizeLimit, max_bytes=settings.api_max_body_bytes, larger=larger_bodies)
    app.add_middleware(PlainRequestTarget)
    app.add_middleware(RequestContext)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    # Connection refused or cut, and a pool with no connection free in time.
    app.add_exception_handler(db_errors.OperationalError, _database_unavailable)
    app.add_exception_handler(db_errors.TimeoutError, _database_unavailable)
    app.include_router(filings_router, prefix="/api/v1")
    app.include_router(licences_router, prefix="/api/v1")
    app.include_router(names_router, prefix="/api/v1")
    app.include_router(supervision_router, prefix="/api/v1")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")  # behind a proxy that adds a prefix
        static = f"{root}/static/swagger-ui"
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title="OneStop API",
            swagger_js_url=f"{static}/swagger-ui-bundle.js",
            swagger_css_url=f"{static}/swagger-ui.css",
            swagger_favicon_url=f"{static}/favicon-32x32.png",
            # Swagger UI would otherwise send the schema's address to its online validator.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, Any]:
        rt = runtime.current()
        health: dict[str, Any] = {"status": "ok"}
        missing = rt.calendar.missing_schedule(rt.clock.now())
        if missing is not None:  # still healthy: deadlines are provisional, not wrong
            chinese, english = missing_schedule_notice(missing)
            health["calendar"] = {
                "missing_schedule": missing,
                "message_zh": chinese,
                "message_en": english,
            }
        return health

    return app


def web_app(settings: Settings | None = None) -> FastAPI:
    """The web process's application, built by the factory that `settings.web_app` names
    (by default the portal's, which serves this API beside the portal's pages).

    Loaded by name: the core may not import the portal, which builds on it. The factory
    takes the settings, as `create_app` does.
    """
    settings = settings or get_settings()
    module, _, factory = settings.web_app.partition(":")
    build = cast(Callable[[Settings], FastAPI], getattr(importlib.import_module(module), factory))
    return build(settings)
