"""What the REST and SOAP channels share about an agency's HTTP reply.

Both stream a reply through `httpx`, and anything that is not an answer in the agency's
format — a timeout, a dropped connection, the wrong content type, a body over the limit —
is a `TransientError`: the orchestrator retries, and asks for the status first.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from integrations.base import TransientError

_DRAIN_LIMIT = 64 * 1024


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
    if declared.isdigit() and int(declared) <= _DRAIN_LIMIT:
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
    if declared.isdigit() and int(declared) > max_bytes:
        raise TransientError(f"{agency}: reply of {declared} bytes", code="too_large")
    body = bytearray()
    for chunk in reply.iter_bytes():
        body += chunk
        if len(body) > max_bytes:
            raise TransientError(f"{agency}: reply over {max_bytes} bytes", code="too_large")
    return bytes(body)
