"""A misbehaving agency for end-to-end tests: a proxy in front of the simulators that answers
the next submits to an agency with a bad reply of a chosen kind, and relays everything else."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
from fastapi import FastAPI, Request, Response

from integrations.simulators.server import serve_in_thread

XML = "text/xml; charset=utf-8"


def _oversized() -> Response:
    return Response(b"<a>" + b" " * (1024 * 1024 + 1) + b"</a>", media_type=XML)


BAD_REPLIES: dict[str, Callable[[], Response]] = {
    "malformed": lambda: Response(b"<soap:Envelope><soap:Bo", media_type=XML),
    "wrong_content_type": lambda: Response(b"<html>maintenance</html>", media_type="text/html"),
    "oversized": _oversized,
    "server_fault": lambda: Response(
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        b"<soap:Fault><faultcode>soap:Server</faultcode><faultstring>busy</faultstring>"
        b"</soap:Fault></soap:Body></soap:Envelope>",
        status_code=500,
        media_type=XML,
    ),
}
# Kinds that reach the agency first: it acts, and its reply is spoilt on the way back.
AFTER_ACTING = {"truncated", "slow"}


def proxy_app(upstream: str, plan: dict[str, list[str]], *, slow_seconds: float) -> FastAPI:
    """Relays to `upstream`; POSTs to an agency in `plan` meet its listed bad replies first."""
    app = FastAPI()

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT"])
    async def relay(path: str, request: Request) -> Response:
        agency = path.split("/", 1)[0]
        queue = plan.get(agency, [])
        kind = queue.pop(0) if request.method == "POST" and queue else None
        if kind in BAD_REPLIES:
            return BAD_REPLIES[kind]()
        async with httpx.AsyncClient(base_url=upstream, timeout=10) as client:
            answer = await client.request(
                request.method,
                f"/{path}",
                params=request.query_params,
                content=await request.body(),
                headers={
                    name: value
                    for name, value in request.headers.items()
                    if name not in ("host", "content-length", "connection")
                },
            )
        body = answer.content
        if kind == "truncated":
            body = body[: len(body) // 2]
        if kind == "slow":
            await asyncio.sleep(slow_seconds)
        return Response(
            body,
            status_code=answer.status_code,
            media_type=answer.headers.get("content-type"),
        )

    return app


@contextmanager
def misbehaving(upstream: str, plan: dict[str, list[str]], *, slow_seconds: float) -> Iterator[str]:
    """The proxy served in a thread; yields its base URL."""
    server = serve_in_thread(proxy_app(upstream, plan, slow_seconds=slow_seconds))
    try:
        yield server.base_url
    finally:
        server.stop()
