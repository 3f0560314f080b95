"""The API's error answers as models, and the OpenAPI `responses` entries that document them.

Every error is JSON with a stable `error` code and a message in both languages (see
`orchestrator.errors`); a 422 also names each field. Routes declare which of them they can
answer with through `error_responses`, so that the schema clients (and schemathesis) read
says what the API really does.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response

from orchestrator.errors import DomainError
from orchestrator.validation import FieldError

CSV = "text/csv; charset=utf-8"


class ErrorBody(BaseModel):
    """An error: a stable code, a message in Chinese and in English, and sometimes details."""

    model_config = ConfigDict(extra="allow")  # details, e.g. the tracking code not found

    error: str = Field(description="A stable code for programs, e.g. `not_found`.")
    message_zh: str
    message_en: str


class InvalidBody(ErrorBody):
    """A refused input: every field at fault, each with its own message."""

    errors: list[FieldError]


class UnexpectedErrorBody(ErrorBody):
    """An error of ours: nothing about it but the id under which it was logged."""

    request_id: str = Field(description="Quote it to the operators: their log names it.")


def error_response(error: DomainError) -> JSONResponse:
    """The answer to a refusal a client can act on: its status, its body in both languages."""
    return JSONResponse(error.body(), status_code=error.status_code, headers=error.headers())


_DEFAULTS: dict[int, tuple[type[ErrorBody], str]] = {
    400: (ErrorBody, "The body is not valid JSON, or otherwise unreadable"),
    401: (ErrorBody, "No bearer token, or not a live one"),
    403: (ErrorBody, "The caller's role may not do this"),
    404: (ErrorBody, "Not found, or not the caller's to see"),
    409: (ErrorBody, "In conflict with the filing's state or an earlier request"),
    413: (ErrorBody, "The body is larger than the API accepts"),
    422: (InvalidBody, "Invalid input: each field at fault is named"),
    429: (ErrorBody, "Too many requests from this address: retry after `Retry-After` s"),
    500: (UnexpectedErrorBody, "An unexpected error, logged under its request id"),
    503: (
        ErrorBody,
        "The database (or the rate limits' store) cannot be reached for now: retry after "
        "`Retry-After` s",
    ),
}


def error_responses(
    *statuses: int, described: Mapping[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` entries of these error statuses, each with its body's model;
    `described` adds statuses with a description of what they mean on this route."""
    entries: dict[int | str, dict[str, Any]] = {}
    for status in (*statuses, *(described or {})):
        model, description = _DEFAULTS[status]
        entries[status] = {
            "model": model,
            "description": (described or {}).get(status, description),
        }
    return entries


def file_response(
    content: str | bytes,
    *,
    media_type: str,
    filename: str,
    inline: bool = False,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A file for the browser to save as `filename` (or, `inline`, to show), with `headers`
    besides."""
    disposition = f'{"inline" if inline else "attachment"}; filename="{filename}"'
    return Response(
        content,
        media_type=media_type,
        headers={**(headers or {}), "Content-Disposition": disposition},
    )


def csv_response(header: Sequence[str], rows: Iterable[Sequence[Any]], filename: str) -> Response:
    """A table (its header, then its rows) as a CSV file to save as `filename`."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return file_response(out.getvalue(), media_type=CSV, filename=filename)
