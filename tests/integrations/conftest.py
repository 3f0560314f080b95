"""The simulated agencies served over real HTTP for the session, and adapters to reach them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from integrations.base import AgencyAdapter
from integrations.registry import build_adapters, close_adapters
from integrations.simulators.app import SimulatorConfig, create_app
from integrations.simulators.server import BackgroundServer, serve_in_thread


class SimControl:
    """The simulators' control endpoints, as tests use them."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=5)

    def reset(self) -> None:
        self.http.post("/_sim/reset").raise_for_status()

    def behave(self, agency: str, **behaviour: Any) -> None:
        self.http.put(f"/_sim/{agency}/behaviour", json=behaviour).raise_for_status()

    def report(self) -> dict[str, Any]:
        response = self.http.get("/_sim/effects")
        response.raise_for_status()
        report: dict[str, Any] = response.json()
        return report

    def effects(self, agency: str) -> dict[str, int]:
        counts: dict[str, int] = self.report()["effects"][agency]
        return counts

    def raw_status(self, agency: str, key: str) -> httpx.Response:
        return self.http.get(f"/{agency}/v1/requests/{key}")


@pytest.fixture(scope="session")
def simulator_server() -> Iterator[BackgroundServer]:
    server = serve_in_thread(create_app(SimulatorConfig(seed=20250303)))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _control(simulator_server: BackgroundServer) -> Iterator[SimControl]:
    control = SimControl(simulator_server.base_url)
    yield control
    control.http.close()


@pytest.fixture
def sim(_control: SimControl) -> SimControl:
    """The simulators, reset to a fresh world with default behaviour."""
    _control.reset()
    return _control


@pytest.fixture(scope="session")
def adapters(simulator_server: BackgroundServer) -> Iterator[dict[str, AgencyAdapter[Any]]]:
    built = build_adapters(simulator_server.base_url, timeout=5.0)
    yield built
    close_adapters(built)
