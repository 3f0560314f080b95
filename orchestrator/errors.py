"""Domain errors carry their HTTP status; they are rendered in one place, in both languages."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A refusal a client can act on: an HTTP status, a stable code, and zh/en messages."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message_zh: str, message_en: str, **detail: Any) -> None:
        super().__init__(message_en)
        self.message_zh = message_zh
        self.message_en = message_en
        self.detail = detail

    def body(self) -> dict[str, Any]:
        """The JSON body of the error response."""
        return {
            "error": self.code,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
            **self.detail,
        }

    def headers(self) -> dict[str, str]:
        """Headers the error response carries besides its body (none by default)."""
        return {}


class Unauthorized(DomainError):
    status_code = 401
    code = "unauthorized"

    def headers(self) -> dict[str, str]:
        """How to authenticate (RFC 6750)."""
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class Invalid(DomainError):
    status_code = 422
    code = "invalid"


class TooManyRequests(DomainError):
    """A limit was reached (codes sent, wrong codes tried): wait, or start again."""

    status_code = 429
    code = "too_many_requests"

    def headers(self) -> dict[str, str]:
        """When to come back, if the limit says (`retry_after` seconds in the detail)."""
        retry_after = self.detail.get("retry_after")
        return {"Retry-After": str(retry_after)} if retry_after is not None else {}
