"""Which fields of a filing each step's request is built from, read off its request builder.

A step's request builder (`agency_requests.BUILDERS`) is the one declaration of what the
step uses: it is run here on the filing through a reader that notes each field it reads,
so nothing keeps a second list in step with it. A computed value (the company's full name)
counts as the fields it is computed from. What this tells:

- the fields a finished step has used, which a correction must not change under it;
- the fields of the filing an agency's refusal concerns, from the paths into the request it
  names (`company_name` → the four parts of the name).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, cast

from pydantic import BaseModel

from orchestrator.filings.acceptance import AcceptedFiling
from orchestrator.filings.agency_requests import BUILDERS


@dataclass
class Reads:
    """The fields one build read: leaf paths, and each computed value's own fields."""

    leaves: set[str] = field(default_factory=set)
    computed: dict[str, set[str]] = field(default_factory=dict)
    _capturing: list[set[str]] = field(default_factory=list)

    def note(self, path: str) -> None:
        """`path` was read (as a value)."""
        self.leaves.add(path)
        for captured in self._capturing:
            captured.add(path)

    def concerning(self, request_path: str) -> set[str]:
        """The fields read that a path into the request stands for: the same path, the
        fields under it, the field it lies under, or what a computed value was made of."""

        def related(path: str) -> bool:
            return (
                path == request_path
                or path.startswith(f"{request_path}.")
                or request_path.startswith(f"{path}.")
            )

        found = {path for path in self.leaves if related(path)}
        for path, made_of in self.computed.items():
            if related(path):
                found |= made_of
        return found


class _Traced:
    """A model of the filing (or a part of it) that notes each field read through it."""

    __slots__ = ("_model", "_path", "_reads")

    def __init__(self, model: BaseModel, path: str, reads: Reads) -> None:
        self._model = model
        self._path = path
        self._reads = reads

    def __getattr__(self, name: str) -> Any:
        path = f"{self._path}.{name}" if self._path else name
        computed = getattr(type(self._model), name, None)
        if isinstance(computed, property) and computed.fget is not None:
            # Run on this reader, so that what the value is made of is noted as read.
            made_of: set[str] = set()
            self._reads._capturing.append(made_of)
            try:
                value = computed.fget(self)
            finally:
                self._reads._capturing.pop()
            self._reads.computed[path] = made_of
            return value
        return _traced(getattr(self._model, name), path, self._reads)


def _traced(value: Any, path: str, reads: Reads) -> Any:
    if isinstance(value, BaseModel):
        return _Traced(value, path, reads)
    if isinstance(value, tuple | list) and any(isinstance(item, BaseModel) for item in value):
        return tuple(_traced(item, f"{path}.{n}", reads) for n, item in enumerate(value))
    reads.note(path)
    return value


class _Blank(Mapping[str, Any]):
    """A stand-in for the result of an earlier step: every value in it is empty."""

    def __getitem__(self, key: str) -> Any:
        return ""

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


class _Facts(Mapping[str, Any]):
    """Stand-ins for the facts earlier steps give: what a builder reads of the filing does
    not depend on them, and the step asked about may come before the steps that give them."""

    def __getitem__(self, key: str) -> Any:
        return _Blank()

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def reads_of(step: str, filing: AcceptedFiling) -> Reads:
    """The fields of `filing` the request of `step` is built from."""
    reads = Reads()
    # A builder that cannot build for this filing (no courier request for a pickup at the
    # branch) has still read what it decided on.
    with suppress(ValueError, LookupError, TypeError):
        BUILDERS[step](cast(AcceptedFiling, _Traced(filing, "", reads)), _Facts())
    return reads


def used_by(steps: list[str], filing: AcceptedFiling) -> dict[str, str]:
    """Each field that one of `steps` is built from, with the (first) step that reads it."""
    used: dict[str, str] = {}
    for step in steps:
        for path in reads_of(step, filing).leaves:
            used.setdefault(path, step)
    return used


def filing_fields(step: str, filing: AcceptedFiling, request_paths: list[str]) -> list[str]:
    """The fields of `filing` that paths into `step`'s request stand for, in the filing's
    field order (a path the request does not have stands for none)."""
    reads = reads_of(step, filing)
    found: set[str] = set()
    for path in request_paths:
        found |= reads.concerning(path)
    order = _field_order(filing)
    return sorted(found, key=lambda path: (order.get(path.split(".")[0], 99), path))


def _field_order(filing: AcceptedFiling) -> dict[str, int]:
    return {name: n for n, name in enumerate(type(filing).model_fields)}
