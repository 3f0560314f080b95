"""The REST/JSON channel to an agency: the one place that knows that wire format.

    POST {base}/{agency}/v1/requests   Idempotency-Key header, JSON body
    GET  {base}/{agency}/v1/requests/{key}

    200 done · 202 processing (retry_after) · 400/422 rejected · 409 blocked · 404 unknown key

Anything else — timeouts, connection errors, 5xx, 408/429, a body that is not JSON, the
wrong content type, an unexpected shape or a body over the size limit — is a
`TransientError`: the orchestrator retries, and asks `status` first.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Unpack
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from integrations.adapter import Finished, Processing, Reply
from integrations.base import BlockedError, RejectedError, TransientError
from integrations.http_replies import (
    AgencyHttp,
    HttpOptions,
    drain,
    media_type,
    wrong_content_type,
)

_TRANSIENT_STATUSES = frozenset({408, 425, 429})


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Done(_Wire):
    status: Literal["done"]
    result: dict[str, Any]


class _Processing(_Wire):
    status: Literal["processing"]
    retry_after: float = Field(ge=0, allow_inf_nan=False)
    progress: dict[str, Any] = Field(default_factory=dict)


class _Rejected(_Wire):
    status: Literal["rejected"]
    code: str
    message: str
    fields: list[str] = Field(default_factory=list)  # paths into the payload we sent


class _Blocked(_Wire):
    status: Literal["blocked"]
    code: str
    message: str
    materials: list[str]


_WireReply = Annotated[_Done | _Processing | _Rejected | _Blocked, Field(discriminator="status")]
_READER: TypeAdapter[_Done | _Processing | _Rejected | _Blocked] = TypeAdapter(_WireReply)

# Which reply each HTTP status may carry: a mismatch is a reply we do not understand.
_EXPECTED: dict[int, type[_Wire]] = {
    200: _Done,
    202: _Processing,
    400: _Rejected,
    422: _Rejected,
    409: _Blocked,
}


class RestChannel:
    """One agency's REST/JSON endpoint under `base_url`."""

    def __init__(self, base_url: str, agency: str, **http: Unpack[HttpOptions]) -> None:
        self.agency = agency
        self._agency_url = f"{base_url.rstrip('/')}/{agency}/v1"
        self._requests_url = httpx.URL(f"{self._agency_url}/requests")
        self._http = AgencyHttp(agency, accept="application/json", **http)

    def send(self, payload: Mapping[str, Any], *, idempotency_key: str) -> Reply:
        """POST the payload under the key; 404 here means a wrong address, so it is transient."""
        try:
            body = json.dumps(payload, ensure_ascii=False, allow_nan=False).encode()
        except (TypeError, ValueError) as exc:  # NaN, infinity, or not JSON at all
            raise RejectedError(
                f"{self.agency}: the request cannot be sent as JSON ({exc})", code="invalid_request"
            ) from exc
        reply = self._exchange(
            "POST",
            self._requests_url,
            missing_ok=False,
            content=body,
            headers={"Idempotency-Key": idempotency_key, "Content-Type": "application/json"},
        )
        assert reply is not None  # only a missing_ok exchange answers None
        return reply

    def query(self, idempotency_key: str) -> Reply | None:
        """GET the request's state; None if the agency does not know the key (404)."""
        url = httpx.URL(f"{self._requests_url}/{quote(idempotency_key, safe='')}")
        return self._exchange("GET", url, missing_ok=True)

    def ask(self, question: str, params: Mapping[str, str]) -> dict[str, Any]:
        """GET the agency's answer to `question` (a path under its /v1, e.g. names/check):
        a JSON object, or a `TransientError` for anything else (it acts on nothing, so the
        caller may simply ask again)."""
        url = httpx.URL(f"{self._agency_url}/{question}", params=dict(params))
        with self._http.stream("GET", url) as response:
            if response.status_code != 200:
                drain(response)
                raise TransientError(
                    f"{self.agency}: HTTP {response.status_code} to {question}",
                    code=f"http_{response.status_code}",
                )
            body = self._read_json(response)
        if not isinstance(body, dict):
            raise TransientError(f"{self.agency}: {question}: not a JSON object", code="bad_json")
        return body

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    def _exchange(
        self, method: str, url: httpx.URL | str, *, missing_ok: bool, **kwargs: Any
    ) -> Reply | None:
        with self._http.stream(method, url, **kwargs) as response:
            if response.status_code == 404 and missing_ok:
                drain(response)
                return None
            if response.status_code >= 500 or response.status_code in _TRANSIENT_STATUSES:
                drain(response)
                raise TransientError(
                    f"{self.agency}: HTTP {response.status_code}",
                    code=f"http_{response.status_code}",
                )
            expected = _EXPECTED.get(response.status_code)
            if expected is None:
                raise TransientError(
                    f"{self.agency}: unexpected HTTP status {response.status_code}",
                    code=f"http_{response.status_code}",
                )
            body = self._read_json(response)
        return self._interpret(body, expected)

    def _read_json(self, response: httpx.Response) -> object:
        kind = media_type(response)
        if kind != "application/json" and not kind.endswith("+json"):
            raise wrong_content_type(self.agency, "JSON", response)
        body = self._http.read(response)
        try:
            return json.loads(body)
        except (ValueError, RecursionError) as exc:  # bad JSON, bad UTF-8, absurd nesting
            raise TransientError(
                f"{self.agency}: reply is not valid JSON ({exc})", code="bad_json"
            ) from exc

    def _interpret(self, body: object, expected: type[_Wire]) -> Reply:
        try:
            reply = _READER.validate_python(body)
        except ValidationError as exc:
            raise TransientError(
                f"{self.agency}: unexpected reply shape ({exc.error_count()} problems)",
                code="unexpected_reply",
            ) from exc
        if not isinstance(reply, expected):
            raise TransientError(
                f"{self.agency}: a {reply.status!r} reply with the wrong HTTP status",
                code="unexpected_reply",
            )
        if isinstance(reply, _Done):
            return Finished(payload=reply.result)
        if isinstance(reply, _Processing):
            return Processing(retry_after=reply.retry_after, progress=reply.progress)
        if isinstance(reply, _Rejected):
            raise RejectedError(reply.message, code=reply.code, fields=tuple(reply.fields))
        raise BlockedError(reply.message, code=reply.code, materials=tuple(reply.materials))
