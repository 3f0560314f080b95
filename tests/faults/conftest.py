"""Fixtures of the fault tests: a PostgreSQL database and a RabbitMQ vhost of each test's own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.soak import fresh_database, rabbitmq_vhost


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
