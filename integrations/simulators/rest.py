"""The agencies' REST/JSON wire protocol, served over an `AgencySimulator`.

    POST /{agency}/v1/requests        (Idempotency-Key header, JSON body)
    GET  /{agency}/v1/requests/{key}
    GET  /{agency}/v1/{question}?...  (a question answered without acting: names/check)

    200 {"status": "done", "result": {...}}
    202 {"status": "processing", "retry_after": s, "progress": {...}}
    422 {"status": "rejected", "code": ..., "message": ..., "fields": [...] (if it says)}
    409 {"status": "blocked", "code": ..., "message": ..., "materials": [...]}
    404 {"status": "unknown", ...} (status of a key never recorded)
    400 {"status": "rejected", ...} (no key, not JSON), 503 (outage, transient error)

This is the one module that knows the simulators' REST wire format; the SOAP agencies get
`integrations.simulators.soap` over the same engine, and the two share
`integrations.simulators.exchange`.
"""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from integrations.simulators.engine import AgencySimulator, InvalidRequest, View
from integrations.simulators.exchange import (
    MAX_BODY_BYTES,
    MAX_KEY_LENGTH,
    DropConnection,
    carry_out,
    lost_reply,
    valid_key,
)


def _json(
    status_code: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    return JSONResponse(body, status_code=status_code, headers=headers)


def _refusal(status_code: int, code: str, message: str, fields: tuple[str, ...] = ()) -> Response:
    body: dict[str, Any] = {"status": "rejected", "code": code, "message": message}
    if fields:  # what the refusal concerns, as paths into the application received
        body["fields"] = list(fields)
    return _json(status_code, body)


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
        return _refusal(422, view.code, view.message, view.fields)
    return _json(
        409,
        {
            "status": "blocked",
            "code": view.code,
            "message": view.message,
            "materials": list(view.materials),
        },
    )


def agency_routes(sim: AgencySimulator) -> list[Route]:
    """The routes of one agency, under `/{agency}/v1`.

    Plain Starlette routes, not FastAPI's: the wire format is the agency's own, so FastAPI's
    request handling (validation, documentation) would be work done on every request for
    nothing.
    """

    async def submit(request: Request) -> Response:
        received_at = sim.now()
        if sim.roll_unavailable():
            return _unavailable(sim.name)
        key = request.headers.get("idempotency-key", "")
        if not valid_key(key):
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
            record = await carry_out(sim, key, payload, received_at=received_at)
        except InvalidRequest as exc:
            return _refusal(422, exc.code, exc.message)
        lost = lost_reply(
            sim,
            server_error=lambda: PlainTextResponse("Internal Server Error", status_code=500),
            dropped=lambda: DropConnection("application/json", b'{"status": "do'),
        )
        if lost is not None:
            return lost
        return render(sim.view(record))

    async def status(request: Request) -> Response:
        key: str = request.path_params["key"]
        if sim.roll_unavailable():
            return _unavailable(sim.name)
        record = sim.lookup(key)
        if record is None:
            return _json(404, {"status": "unknown", "message": f"no request under key {key!r}"})
        sim.time_outcome(key, record, answered=False)
        return render(sim.view(record))

    async def ask(request: Request) -> Response:
        if sim.roll_unavailable():
            return _unavailable(sim.name)
        question: str = request.path_params["question"]
        answer = sim.query(question, dict(request.query_params))
        if answer is None:
            return _json(404, {"status": "unknown", "message": f"no question {question!r}"})
        return _json(200, answer)

    prefix = f"/{sim.name}/v1"
    return [
        Route(f"{prefix}/requests", submit, methods=["POST"]),
        Route(f"{prefix}/requests/{{key:path}}", status, methods=["GET"]),
        # Questions answered without acting (the bureau's name check): last, so that they
        # never shadow the requests' routes.
        Route(f"{prefix}/{{question:path}}", ask, methods=["GET"]),
    ]
