"""No path or query value with a control character reaches a route, let alone the database.

PostgreSQL refuses a NUL in any text it is given (a 500, once: the error said so, and the
SQLite runs never saw it), and no tracking code, licence number or filter value we issue
holds a control character. So the application refuses them before routing: a path with one
is a 404, as no resource has such a name; a query with one is a 422 naming the parameter.
As middleware, it covers every route however it was added (mounted applications too) and
answers before the routes' own dependencies, the token check among them, read anything.
"""

from __future__ import annotations

import re

from starlette.datastructures import QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from orchestrator.api.responses import error_response
from orchestrator.errors import DomainError, Invalid, NotFound
from orchestrator.validation import FieldError

# C0 controls (NUL among them), DEL and C1 controls: Unicode's category Cc.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class PlainRequestTarget:
    """Pure ASGI middleware: refuse a request whose path or query has a control character."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = refusal_of(scope) if scope["type"] == "http" else None
        if refusal is None:
            await self.app(scope, receive, send)
        else:
            await error_response(refusal)(scope, receive, send)


def refusal_of(scope: Scope) -> DomainError | None:
    """Why the request's target is refused, if it is."""
    # The path as the server decoded it and routing matches it.
    if _CONTROL.search(scope["path"]):
        return NotFound("未找到", "not found")
    # Decoded as the routes will see it (percent-escapes as UTF-8).
    query = QueryParams(scope.get("query_string", b""))
    faulty = {
        name: None
        for name, value in query.multi_items()
        if _CONTROL.search(name) or _CONTROL.search(value)
    }
    if not faulty:
        return None
    return Invalid(
        "查询参数含有控制字符",
        "a query parameter contains control characters",
        errors=[
            FieldError(
                field=f"query.{_CONTROL.sub(_escaped, name)}",
                code="control_character",
                message_zh="不能含有控制字符",
                message_en="Must not contain control characters",
            ).model_dump()
            for name in faulty
        ],
    )


def _escaped(match: re.Match[str]) -> str:
    """A control character as it can be shown: `\\x00`."""
    return f"\\x{ord(match.group()):02x}"
