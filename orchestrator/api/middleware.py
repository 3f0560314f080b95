"""What every request to the API goes through, around the routes: an id, the headers every
response carries, and the answer to an error nobody expected.

- Each request gets an id: its response says it (`X-Request-ID`) and every log line written
  while it is handled names it, so that a client quoting it leads an operator to the line.
- Every response says `X-Content-Type-Options: nosniff`; every answer of the JSON API
  (filings, receipts, licences and their checks: personal data, or a licence) says
  `Cache-Control: no-store`, so that no browser or proxy keeps a copy.
- An exception that no handler knew is logged once, with its traceback, under the request's
  id, and answered with a JSON 500 that says nothing of it but that id.
"""

from __future__ import annotations

import logging
import uuid

from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator.api.responses import UnexpectedErrorBody
from orchestrator.logs import request_id_bound

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
API_PREFIX = "/api/"


def unexpected_error(request_id: str) -> JSONResponse:
    """The 500 of an error nobody expected: the request's id and nothing else of it."""
    body = UnexpectedErrorBody(
        error="internal_error",
        message_zh="服务器内部错误，请稍后重试；如需协助，请提供请求编号",
        message_en="an unexpected error occurred; please retry later, and quote the "
        "request id if you ask for help",
        request_id=request_id,
    )
    return JSONResponse(body.model_dump(), status_code=500)


class RequestContext:
    """Pure ASGI middleware: the request id, the common response headers, the JSON 500.

    Outermost of the app's own middleware, so that its headers and its 500 cover the
    answers of the others (a 413 from the body-size limit) too.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        no_store = scope["path"].startswith(API_PREFIX)
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = request_id
                headers["X-Content-Type-Options"] = "nosniff"
                if no_store:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        with request_id_bound(request_id):
            try:
                await self.app(scope, receive, send_with_headers)
            except Exception:
                log.exception("unexpected error in %s %s", scope["method"], scope["path"])
                if started:  # too late for a 500: the server cuts the connection instead
                    raise
                await unexpected_error(request_id)(scope, receive, send_with_headers)
