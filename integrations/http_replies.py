"""What the REST and SOAP channels share about HTTP: the options, the connection pool, the reply.

Both stream a reply through `httpx`, and anything that is not an answer in the agency's
format — a timeout, a dropped connection, the wrong content type, a body over the limit —
is a `TransientError`: the orchestrator retries, and asks for the status first.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Required, TypedDict

import httpx

from integrations.base import TransientError
from integrations.codes import is_ascii_digits

MAX_BODY_BYTES = 1024 * 1024
_DRAIN_LIMIT = 64 * 1024


class HttpOptions(TypedDict, total=False):
    """How a channel reaches its agency, whatever its wire format: `timeout` (seconds) bounds
    every read, write and pool wait; `tls` verifies the agency (default: the system's CAs);
    `transport` replaces the pool in tests; a reply over `max_body_bytes` is refused."""

    timeout: Required[float]
    tls: ssl.SSLContext | None
    transport: httpx.BaseTransport | None
    max_body_bytes: int


class AgencyHttp:
    """One agency's pooled HTTP connections, used without `httpx.Client`'s conveniences.

    Requests go straight to the pooled transport: the client's work on every request
    (merging default headers, the cookie jar, auth and redirect handling) was a large share
    of an exchange's CPU (docs/benchmarks.md), and an agency needs none of it — no cookies,
    no auth flow, and a redirect is an unexpected status. Failures to reach the agency or to
    read its reply are `TransientError`s (`transport_errors`). See `HttpOptions`.
    """

    def __init__(
        self,
        agency: str,
        *,
        accept: str,
        timeout: float,
        tls: ssl.SSLContext | None = None,
        transport: httpx.BaseTransport | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.agency = agency
        self.max_body_bytes = max_body_bytes
        self.transport = transport or httpx.HTTPTransport(
            verify=tls or httpx.create_ssl_context(),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=32),
        )
        self._headers = {"Accept": accept, "User-Agent": "OneStop"}
        self._extensions = {"timeout": httpx.Timeout(timeout, connect=min(timeout, 5.0)).as_dict()}

    @contextmanager
    def stream(
        self,
        method: str,
        url: httpx.URL | str,
        *,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[httpx.Response]:
        """Send the request; the reply's body is read from the stream, then it is closed."""
        request = httpx.Request(
            method,
            url,
            content=content,
            headers={**self._headers, **headers} if headers else self._headers,
            extensions=self._extensions,
        )
        with transport_errors(self.agency):
            reply = self.transport.handle_request(request)
            try:
                yield reply
            finally:
                reply.close()

    def read(self, reply: httpx.Response) -> bytes:
        """The reply's body, refused (transient) past `max_body_bytes`."""
        return read_limited(self.agency, reply, self.max_body_bytes)

    def close(self) -> None:
        """Close the pooled connections."""
        self.transport.close()


@contextmanager
def transport_errors(agency: str) -> Iterator[None]:
    """Turn httpx's failures to reach the agency or to read its reply into transient errors."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise TransientError(f"{agency}: timed out ({exc!r})", code="timeout") from exc
    except (httpx.HTTPError, httpx.StreamError, httpx.InvalidURL) as exc:
        raise TransientError(f"{agency}: connection failed ({exc!r})", code="connection") from exc


def drain(reply: httpx.Response) -> None:
    """Read a short error body, so that the connection can go back to the pool."""
    declared = reply.headers.get("content-length", "")
    if is_ascii_digits(declared) and int(declared) <= _DRAIN_LIMIT:
        reply.read()


def media_type(reply: httpx.Response) -> str:
    """The reply's media type, lower case, without parameters ("" if none)."""
    content_type: str = reply.headers.get("content-type", "")
    return content_type.split(";")[0].strip().lower()


def wrong_content_type(agency: str, expected: str, reply: httpx.Response) -> TransientError:
    """The error for a reply in another format than the agency's."""
    return TransientError(
        f"{agency}: expected {expected}, got {media_type(reply) or 'no content type'}",
        code="bad_content_type",
    )


def read_limited(agency: str, reply: httpx.Response, max_bytes: int) -> bytes:
    """The reply's body, refused (transient) past `max_bytes` whether declared or streamed."""
    declared = reply.headers.get("content-length", "")
    if is_ascii_digits(declared) and int(declared) > max_bytes:
        raise TransientError(f"{agency}: reply of {declared} bytes", code="too_large")
    body = bytearray()
    for chunk in reply.iter_bytes():
        body += chunk
        if len(body) > max_bytes:
            raise TransientError(f"{agency}: reply over {max_bytes} bytes", code="too_large")
    return bytes(body)
