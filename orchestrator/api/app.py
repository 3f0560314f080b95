"""The FastAPI application: routes, the body-size limit, and one place that renders errors."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from orchestrator import runtime
from orchestrator.api.limits import BodySizeLimit, BodyTooLarge
from orchestrator.api.rate_limits import RateLimiter
from orchestrator.calendar import missing_schedule_notice
from orchestrator.errors import DomainError
from orchestrator.filings.api import router as filings_router
from orchestrator.filings.schemas import field_errors_from_dicts
from orchestrator.licences.api import router as licences_router
from orchestrator.settings import Settings, get_settings

log = logging.getLogger(__name__)

# How long a client is asked to wait before it tries again while the database is away.
DATABASE_RETRY_AFTER_SECONDS = 5


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content=body, headers=headers)


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return _json(exc.status_code, exc.body(), exc.headers() or None)


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
    """The database cannot be reached (or gave up on the statement): nothing was done, and a
    client may safely try again later — a filing with the same Idempotency-Key."""
    log.warning("database unavailable, answered 503: %s", type(exc).__name__)
    body = {
        "error": "database_unavailable",
        "message_zh": "数据库暂时无法访问，请稍后重试",
        "message_en": "the database is unavailable for the moment; please try again shortly",
    }
    return _json(503, body, {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)})


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API application; the runtime comes from `orchestrator.runtime`.

    `settings` (default: the process's) set its body limit and its rate limits.
    """
    settings = settings or get_settings()
    app = FastAPI(
        title="OneStop API",
        version="1",
        summary="一件事开办企业 · Open a company in one visit",
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.rate_limiter = RateLimiter(settings)
    app.add_middleware(BodySizeLimit, max_bytes=settings.api_max_body_bytes)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(PoolTimeout, _database_unavailable)  # every connection in use
    app.include_router(filings_router, prefix="/api/v1")
    app.include_router(licences_router, prefix="/api/v1")

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
