"""No path or query value with a control character reaches a route, let alone the database.

PostgreSQL refuses a NUL in any text it is given (a 500, once: the error said so and the
SQLite runs never saw it), and no tracking code, licence number or filter value we issue
holds a control character. So every route of the API depends on `plain_request_target`
(declared once, on the application): a path with one is a 404, as no resource has such a
name; a query with one is a 422 naming the parameter. Both are answered before the routes'
own dependencies, the token check among them, touch the database.
"""

from __future__ import annotations

import re

from fastapi import Request

from orchestrator.errors import Invalid, NotFound
from orchestrator.filings.schemas import FieldError

# C0 controls (NUL among them), DEL and C1 controls: Unicode's category Cc.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def plain_request_target(request: Request) -> None:
    """Refuse a request whose path or query carries a control character."""
    # The path as routing matched it: `request.url` re-parses it and drops tabs and newlines.
    if _CONTROL.search(request.scope["path"]):
        raise NotFound("未找到", "not found")
    faulty = [
        name
        for name, value in request.query_params.multi_items()
        if _CONTROL.search(name) or _CONTROL.search(value)
    ]
    if faulty:
        raise Invalid(
            "查询参数含有控制字符",
            "a query parameter contains control characters",
            errors=[
                FieldError(
                    field=f"query.{_CONTROL.sub(_escaped, name)}",
                    code="control_character",
                    message_zh="不能含有控制字符",
                    message_en="Must not contain control characters",
                ).model_dump()
                for name in dict.fromkeys(faulty)
            ],
        )


def _escaped(match: re.Match[str]) -> str:
    """A control character as it can be shown: `\\x00`."""
    return f"\\x{ord(match.group()):02x}"
