"""The adapters at the canned replies' address, in place of the simulators' (../conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations.registry import build_adapters, close_adapters
from tests.integrations.agency_factories import Adapters
from tests.integrations.wire import BASE


@pytest.fixture(scope="module")
def adapters() -> Iterator[Adapters]:
    """Every adapter at `BASE`, built once a module: pytest-httpx patches the transport class,
    so every test's mock applies."""
    built = build_adapters(BASE, timeout=1.0)
    yield built
    close_adapters(built)
