"""The contract between OneStop and every agency: one adapter protocol, three error kinds.

Agencies answer later: an adapter submits a request under an idempotency key and then
asks for its status by that key. Because an agency may commit an action and lose the
reply, callers ask `status` before they submit again after a crash or a timeout, and a
repeated `submit` with the same key must return the first result, never a second effect.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from pydantic import BaseModel


class AgencyError(Exception):
    """Base of the three error kinds the orchestrator distinguishes."""

    kind: str = "agency"

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class TransientError(AgencyError):
    """Timeout, connection failure, 5xx, SOAP server fault, garbage reply: try again later."""

    kind = "transient"


class RejectedError(AgencyError):
    """The agency refused on the merits (name conflict, invalid data): a person must act.

    `fields` names what the refusal concerns as paths into the request the adapter was
    given (`company_name`, `legal_representative.id_number`, `shareholders.1.id_number`):
    what a person corrects before the request is sent again. Empty when the agency said
    nothing more precise than its code and message.
    """

    kind = "rejected"

    def __init__(self, message: str, *, code: str = "", fields: tuple[str, ...] = ()) -> None:
        super().__init__(message, code=code)
        self.fields = fields


class BlockedError(AgencyError):
    """The agency needs a material that was accepted as 容缺 and is not yet supplied."""

    kind = "blocked"

    def __init__(self, message: str, *, code: str = "", materials: tuple[str, ...] = ()) -> None:
        super().__init__(message, code=code)
        self.materials = materials


@dataclass(frozen=True)
class AgencyDocument:
    """A document an agency issues (the e-business licence, a seal specimen), carried whole.

    It may sit among a `Done` result's values; the orchestrator stores it apart and keeps
    only a reference in the step's result.
    """

    kind: str  # "licence", ...
    media_type: str
    content: bytes = field(repr=False)
    reference: str = ""  # the agency's number for it (e.g. the licence number)
    # What the holder presents to have it checked (a licence's QR code carries it): an
    # unguessable value, unlike the number, so that nobody can look documents up by counting.
    verification_token: str = field(default="", repr=False)

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the content."""
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True)
class Done:
    """The agency finished; `result` is its output in our vocabulary (e.g. credit_code).

    Values are JSON-compatible, except `AgencyDocument`s (see there).
    """

    result: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Pending:
    """The agency accepted the request and expects an answer after `retry_after` seconds."""

    retry_after: float
    ticket: str = ""


Outcome = Done | Pending

RequestT_contra = TypeVar("RequestT_contra", bound=BaseModel, contravariant=True)


class AgencyAdapter(Protocol[RequestT_contra]):
    """One agency, seen from OneStop. Implementations raise only `AgencyError` kinds."""

    agency: str

    def submit(self, request: RequestT_contra, *, idempotency_key: str) -> Outcome:
        """Ask the agency to act; the same key always yields the first request's outcome."""
        ...

    def status(self, idempotency_key: str) -> Outcome | None:
        """What became of the request sent under this key; None if the agency never saw it."""
        ...
