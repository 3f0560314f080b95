"""The agencies' REST/JSON wire protocol, served over an `AgencySimulator`.

    POST /{agency}/v1/requests        (Idempotency-Key header, JSON body)
    GET  /{agency}/v1/requests/{key}

    200 {"status": "done", "result": {...}}
    202 {"status": "processing", "retry_after": s, "progress": {...}}
    422 {"status": "rejected", "code": ..., "message": ...}
    409 {"status": "blocked", "code": ..., "message": ..., "materials": [...]}
    404 {"status": "unknown", ...} (status of a key never recorded)
    400 {"status": "rejected", ...} (no key, not JSON), 503 (outage, transient error)

This is the one module that knows the simulators' wire format; a SOAP agency would get a
sibling module over the same engine.
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.types import Receive, Scope, Send

from integrations.simulators.engine import AgencySimulator, InvalidRequest, View

MAX_BODY_BYTES = 1024 * 1024
MAX_KEY_LENGTH = 200


class DroppedConnection(Exception):
    """Raised on purpose mid-reply so that the server drops the connection (a lost reply)."""


class _DropConnection(Response):
    """Starts a reply, sends part of it, then fails so that the server closes the connection."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"512")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"status": "do', "more_body": True})
        raise DroppedConnection("simulated lost reply: connection dropped after commit")


def _json(
    status_code: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    return JSONResponse(body, status_code=status_code, headers=headers)


def _refusal(status_code: int, code: str, message: str) -> Response:
    return _json(status_code, {"status": "rejected", "code": code, "message": message})


def _unavailable(agency: str) -> Response:
    return _json(
        503,
        {"status": "unavailable", "message": f"{agency} is temporarily unavailable"},
        headers={"Retry-After": "1"},
    )


def render(view: View) -> Response:
    """The HTTP reply for what the agency says about a request."""
    if view.state == "done":
        return _json(200, {"status": "done", "result": dict(view.result)})
    if view.state == "processing":
        body: dict[str, Any] = {"status": "processing", "retry_after": view.retry_after}
        if view.progress:
            body["progress"] = dict(view.progress)
        return _json(202, body, headers={"Retry-After": str(math.ceil(view.retry_after))})
    if view.state == "rejected":
        return _refusal(422, view.code, view.message)
    return _json(
        409,
        {
            "status": "blocked",
            "code": view.code,
            "message": view.message,
            "materials": list(view.materials),
        },
    )


def _valid_key(key: str) -> bool:
    return 0 < len(key) <= MAX_KEY_LENGTH and key.isprintable()


def agency_router(sim: AgencySimulator) -> APIRouter:
    """The routes of one agency, under `/{agency}/v1`."""
    router = APIRouter(prefix=f"/{sim.name}/v1", tags=[sim.name])

    @router.post("/requests", summary=f"Submit a request to {sim.name}")
    async def submit(request: Request) -> Response:
        received_at = sim.now()
        if sim.roll_unavailable():
            return _unavailable(sim.name)
        key = request.headers.get("idempotency-key", "")
        if not _valid_key(key):
            return _refusal(
                400,
                "missing_idempotency_key",
                f"an Idempotency-Key header (1–{MAX_KEY_LENGTH} printable characters) is required",
            )
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return _refusal(415, "unsupported_media_type", "send application/json")
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            return _refusal(
                413, "too_large", f"request bodies are limited to {MAX_BODY_BYTES} bytes"
            )
        try:
            payload = json.loads(raw)
        except ValueError:
            return _refusal(400, "malformed_json", "the body is not JSON")
        try:
            record = sim.accept(key, payload, received_at=received_at)
        except InvalidRequest as exc:
            return _refusal(422, exc.code, exc.message)
        if sim.answers_synchronously(record):
            # Event-loop sleep: a slow agency must not hold up the others in this process.
            while (wait := sim.seconds_until_ready(record)) > 0:
                await asyncio.sleep(wait)
            sim.time_outcome(key, record, answered=True)
        lost = sim.roll_lost_reply()
        if lost == "http_500":
            return PlainTextResponse("Internal Server Error", status_code=500)
        if lost == "drop":
            return _DropConnection()
        return render(sim.view(record))

    @router.get("/requests/{key:path}", summary=f"Status of a request to {sim.name}")
    async def status(key: str) -> Response:
        if sim.roll_unavailable():
            return _unavailable(sim.name)
        record = sim.lookup(key)
        if record is None:
            return _json(404, {"status": "unknown", "message": f"no request under key {key!r}"})
        sim.time_outcome(key, record, answered=False)
        return render(sim.view(record))

    return router
