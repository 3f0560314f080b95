"""The base of the agency adapters: `MappedAdapter`, two mappings over a `Channel`.

An adapter (one module per agency) only translates: our request type into the agency's
payload (`to_agency`), the agency's final result into our vocabulary (`from_agency`), and
the materials it says are missing into our catalogue's codes. The wire protocol is the
channel's — `integrations.rest.RestChannel` or `integrations.soap.SoapChannel`, chosen per
agency in `integrations.registry` — which returns the agency's raw reply (`Finished`,
`Processing`) or raises one of the error kinds of `integrations.base`. Last, the pieces of
vocabulary several agencies happen to share: a person, a unit, a staff roster, yuan.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, create_model

from integrations.base import (
    BlockedError,
    Done,
    Outcome,
    Pending,
    RejectedError,
    TransientError,
)
from integrations.requests import EnrolmentRequest, Person, Shareholder, StaffMember, UnitRequest

RequestT = TypeVar("RequestT", bound=BaseModel)
EnrolmentT = TypeVar("EnrolmentT", bound=EnrolmentRequest)


@dataclass(frozen=True)
class Finished:
    """The agency's final result, still in its own vocabulary."""

    payload: Mapping[str, Any]


@dataclass(frozen=True)
class Processing:
    """The agency is still at work; `progress` is whatever it tells meanwhile (maybe nothing)."""

    retry_after: float
    progress: Mapping[str, Any] = field(default_factory=dict)


Reply = Finished | Processing


class Channel(Protocol):
    """One agency's wire protocol. Raises only `AgencyError` kinds."""

    def send(self, payload: Mapping[str, Any], *, idempotency_key: str) -> Reply:
        """Submit `payload` under `idempotency_key`."""
        ...

    def query(self, idempotency_key: str) -> Reply | None:
        """What became of the request under `idempotency_key`; None if the agency never saw it."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class AgencyReply(BaseModel):
    """Base of the adapters' models of an agency's result: extra fields are tolerated."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class MappedAdapter(ABC, Generic[RequestT]):
    """An `AgencyAdapter` made of two mappings over a channel."""

    agency: str
    # The agency's names for missing materials, in our catalogue's codes (unlisted: as is).
    materials: ClassVar[Mapping[str, str]] = {}
    # The agency's names of its payload's fields, each a segment of a path, in our request's
    # names: how a refusal's fields (paths into what was sent) become paths into the request.
    # A path with a segment named here nowhere is dropped: better no field than a wrong one.
    field_names: ClassVar[Mapping[str, str]] = {}

    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    def submit(self, request: RequestT, *, idempotency_key: str) -> Outcome:
        """Ask the agency to act; the same key always yields the first request's outcome."""
        try:
            payload = self.to_agency(request)
        except (ValueError, ArithmeticError, LookupError, TypeError) as exc:
            raise RejectedError(
                f"{self.agency}: the request cannot be put in the agency's terms: {exc}",
                code="invalid_request",
            ) from exc
        with self._our_materials(), self._our_fields():
            return self._outcome(self._channel.send(payload, idempotency_key=idempotency_key))

    def status(self, idempotency_key: str) -> Outcome | None:
        """What became of the request sent under this key; None if the agency never saw it."""
        with self._our_materials(), self._our_fields():
            reply = self._channel.query(idempotency_key)
        return None if reply is None else self._outcome(reply)

    def close(self) -> None:
        """Release the channel's connections."""
        self._channel.close()

    @abstractmethod
    def to_agency(self, request: RequestT) -> dict[str, Any]:
        """Our request as the agency's payload."""

    @abstractmethod
    def from_agency(self, payload: Mapping[str, Any]) -> dict[str, object]:
        """The agency's final result in our vocabulary (may raise ValueError on a bad shape)."""

    def ticket(self, progress: Mapping[str, Any]) -> str:
        """A reference the agency gave while still at work (e.g. a waybill), if any."""
        return ""

    @contextmanager
    def _our_materials(self) -> Iterator[None]:
        try:
            yield
        except BlockedError as blocked:
            named = tuple(self.materials.get(m, m) for m in blocked.materials)
            raise BlockedError(blocked.message, code=blocked.code, materials=named) from blocked

    @contextmanager
    def _our_fields(self) -> Iterator[None]:
        try:
            yield
        except RejectedError as rejected:
            if not rejected.fields:
                raise
            named = tuple(
                path for wire in rejected.fields if (path := self.request_path(wire)) is not None
            )
            raise RejectedError(rejected.message, code=rejected.code, fields=named) from rejected

    def request_path(self, wire_path: str) -> str | None:
        """A path into the agency's payload as the path into our request it came from, or
        None if a segment of it is none of ours (list indexes are kept as they are)."""
        names = {**PERSON_FIELD_NAMES, **self.field_names}
        segments = [
            segment if segment.isdigit() else names.get(segment) for segment in wire_path.split(".")
        ]
        return None if None in segments else ".".join(str(s) for s in segments)

    def _outcome(self, reply: Reply) -> Outcome:
        try:
            if isinstance(reply, Finished):
                return Done(result=self.from_agency(reply.payload))
            return Pending(retry_after=reply.retry_after, ticket=self.ticket(reply.progress))
        except (ValueError, KeyError, TypeError) as exc:  # pydantic's ValidationError included
            raise TransientError(
                f"{self.agency}: the agency's result has an unexpected shape: {exc}",
                code="unexpected_reply",
            ) from exc


class _Enrolled(AgencyReply):
    unit_account: str
    enrolled: int = Field(ge=0)


class EnrolmentAdapter(MappedAdapter[EnrolmentT]):
    """An agency that registers the unit and enrols its staff (the insurance agencies, the
    housing-fund centre): result `unit_account` and `enrolled` (how many staff it enrolled).

    They differ only in their names for the roster, the account and the count, and in what
    their registration adds to the unit (`unit_terms`, whose fields a subclass names in its
    `field_names`: the unit's and the roster's are added here).
    """

    roster_field: ClassVar[str]
    account_field: ClassVar[str]
    count_field: ClassVar[str]
    # The agency's reply read under its own names, so that a bad reply is reported in them.
    _reply: ClassVar[type[_Enrolled]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.field_names = {
            **unit_field_names(name="unit_name"),
            cls.roster_field: "staff",
            **cls.__dict__.get("field_names", {}),
        }
        cls._reply = create_model(
            f"_{cls.__name__}Reply",
            __base__=_Enrolled,
            unit_account=(str, Field(validation_alias=cls.account_field)),
            enrolled=(int, Field(ge=0, validation_alias=cls.count_field)),
        )

    def to_agency(self, request: EnrolmentT) -> dict[str, Any]:
        """The unit registration with its staff roster in the agency's fields."""
        return {
            **unit_payload(request, name="unit_name"),
            **self.unit_terms(request),
            self.roster_field: staff_payload(request.staff),
        }

    def unit_terms(self, request: EnrolmentT) -> dict[str, Any]:
        """What this agency's registration adds to the unit (nothing unless overridden)."""
        return {}

    def from_agency(self, payload: Mapping[str, Any]) -> dict[str, object]:
        """`unit_account` and `enrolled`."""
        return self._reply.model_validate(payload).model_dump()


# Vocabulary the agencies happen to share; each adapter still owns its mapping.


# `person_payload`'s fields in ours: every adapter that sends a person reads them back so.
PERSON_FIELD_NAMES = {"name": "name", "cert_no": "id_number", "phone": "mobile"}


def person_payload(person: Person) -> dict[str, Any]:
    """A natural person as the agencies receive one."""
    return {"name": person.name, "cert_no": person.id_number, "phone": person.mobile}


def shareholder_payload(shareholder: Shareholder) -> dict[str, Any]:
    """A shareholder as the agencies receive one: a person, with the share as `share_ratio`."""
    return {**person_payload(shareholder), "share_ratio": shareholder.share_percent}


def unit_field_names(*, name: str) -> dict[str, str]:
    """`unit_payload`'s fields in ours (an adapter's `field_names`), its name under `name`."""
    return {"uscc": "credit_code", name: "company_name", "region_code": "district_code"}


def unit_payload(request: UnitRequest, *, name: str) -> dict[str, Any]:
    """The company as the agencies that register units receive it, its name under `name`."""
    return {
        "uscc": request.credit_code,
        name: request.company_name,
        "region_code": request.district_code,
    }


def staff_payload(staff: Iterable[StaffMember]) -> list[dict[str, Any]]:
    """A staff roster as the agencies that enrol staff receive one."""
    return [{"name": member.name, "cert_no": member.id_number} for member in staff]


def yuan_text(fen: int) -> str:
    """An amount in fen as the agencies write yuan: "1234.50"."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"
