"""A body-size limit enforced before the body is parsed (413, never a 500)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def too_large(max_bytes: int) -> dict[str, Any]:
    """The JSON body of a 413."""
    return {
        "error": "payload_too_large",
        "message_zh": f"请求体超过 {max_bytes // 1024} KiB 上限",
        "message_en": f"request body exceeds the {max_bytes // 1024} KiB limit",
    }


class BodyTooLarge(HTTPException):
    """Raised inside `receive` when the streamed body passes the limit.

    An HTTPException because FastAPI turns any other error raised while it reads a body
    into a 400; this one it lets through to the app's handler, which answers 413.
    """

    def __init__(self, max_bytes: int) -> None:
        self.body = too_large(max_bytes)
        super().__init__(status_code=413, detail=self.body["message_en"])


class BodySizeLimit:
    """Refuse request bodies larger than `max_bytes` by Content-Length or as they stream in."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, larger: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Path prefixes whose bodies may be larger (uploads), and their own limits.
        self.larger = dict(larger or {})

    def _limit(self, path: str) -> int:
        return next(
            (n for prefix, n in self.larger.items() if path.startswith(prefix)), self.max_bytes
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self._limit(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
            await self._refuse(send, max_bytes)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_bytes:
                    raise BodyTooLarge(max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(send, max_bytes)

    async def _refuse(self, send: Send, max_bytes: int) -> None:
        body = json.dumps(too_large(max_bytes), ensure_ascii=False).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
