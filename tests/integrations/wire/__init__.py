"""The adapters on the wire, against canned replies (pytest-httpx): what the tests of the REST
and SOAP channels share — the agencies' address and a key, the network failures, and the check
that nothing but an outcome or an agency error comes back. `adapters` here (conftest.py) are
every adapter at `BASE`, not at the simulators."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from integrations.base import AgencyAdapter, AgencyError, Done, Outcome, Pending
from tests.integrations.agency_factories import REQUEST_FACTORIES, Adapters

BASE = "http://agency.test"
KEY = "filing-42:step"


def submit(adapters: Adapters, agency: str) -> Outcome:
    """Submit the agency's default request under `KEY`."""
    return adapters[agency].submit(REQUEST_FACTORIES[agency](), idempotency_key=KEY)


def status(adapters: Adapters, agency: str) -> Outcome | None:
    """Ask the agency what became of the request under `KEY`."""
    return adapters[agency].status(KEY)


# Each of the two calls an adapter makes on its agency, as `call(adapters, agency)`.
Call = Callable[[Adapters, str], Outcome | None]
EITHER_CALL = pytest.mark.parametrize("call", [submit, status], ids=["submit", "status"])

# httpx's failures to reach an agency or to read its reply, and the error code each becomes.
NETWORK_FAILURES = pytest.mark.parametrize(
    ("exception", "code"),
    [
        (httpx.ReadTimeout("read timed out"), "timeout"),
        (httpx.ConnectTimeout("connect timed out"), "timeout"),
        (httpx.PoolTimeout("no free connection"), "timeout"),
        (httpx.ConnectError("connection refused"), "connection"),
        (httpx.RemoteProtocolError("peer closed connection"), "connection"),
        (httpx.ReadError("connection reset"), "connection"),
    ],
)


def assert_nothing_else_escapes(adapter: AgencyAdapter[Any], request: BaseModel) -> None:
    """Submitting `request` and asking after it each give an outcome (or None, for the status)
    or raise an `AgencyError`; anything else fails the test."""
    for call in (
        lambda: adapter.submit(request, idempotency_key=KEY),
        lambda: adapter.status(KEY),
    ):
        try:
            outcome = call()
        except AgencyError:
            continue
        assert outcome is None or isinstance(outcome, Done | Pending)
