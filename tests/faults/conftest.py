"""Fixtures of the fault tests: a PostgreSQL database and a RabbitMQ vhost of each test's own,
and the soak deployment on them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from tests.faults.soak import FAST_RECOVERY, NewSoak, Soak, fresh_database, rabbitmq_vhost


@pytest.fixture
def soak_database(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL database of the soak's own."""
    with fresh_database(postgres_url) as url:
        yield url


@pytest.fixture
def broker_vhost(rabbitmq_url: str) -> Iterator[str]:
    """A RabbitMQ vhost of the soak's own: no other test's messages, none left behind."""
    with rabbitmq_vhost(rabbitmq_url) as url:
        yield url


@pytest.fixture
def new_soak(soak_database: str, broker_vhost: str, tmp_path: Path) -> NewSoak:
    """Makes the soak deployment of `workers` workers on this test's database and vhost (or on
    `broker_url`, a proxy's), recovering fast, with `env` besides; it logs under tmp_path."""

    def new(*, workers: int, broker_url: str = "", env: Mapping[str, str] | None = None) -> Soak:
        return Soak(
            database_url=soak_database,
            broker_url=broker_url or broker_vhost,
            workers=workers,
            log_dir=tmp_path / "logs",
            env={**FAST_RECOVERY, **(env or {})},
        )

    return new
