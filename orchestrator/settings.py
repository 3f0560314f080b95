"""One settings object for every process; defaults are the embedded mode (nothing to install)."""

from __future__ import annotations

import time
from datetime import datetime
from datetime import time as clock_time
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from integrations.signing import UnknownKey, parse_public_key
from orchestrator.logs import LogLevel

VAR_DIR = Path("var")
# The agency simulators' development key (integrations/simulators/licence.py): trusted by
# default so that licences issued in the embedded mode verify; not for production.
SIMULATOR_LICENCE_KEY = "Ed25519:yN0dPPqK0B21l0ndeFraKJTu1ZAwfdcYJULrCbX8Jn4="


def licence_verify_url(public_url: str) -> str:
    """What a licence's QR code leads to, under OneStop's public address."""
    return public_url.rstrip("/") + "/api/v1/licences/{licence_no}"


class Settings(BaseSettings):
    """Read from `ONESTOP_*` environment variables (and a `.env` file if present)."""

    model_config = SettingsConfigDict(env_prefix="ONESTOP_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{VAR_DIR / 'onestop.db'}",
        description="SQLAlchemy URL; postgresql+psycopg://… in production.",
    )
    broker_url: str = Field(
        default="memory://localhost/", description="Celery broker; amqp://… in production."
    )
    agencies_url: str | None = Field(
        default=None,
        description="Base URL of the agencies (or their simulators); unset: simulators in process.",
    )
    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        description="Where people reach OneStop's API; a simulated licence's QR code leads there. "
        "Unset: the local address of `serve` or `up`.",
    )

    # Time: one clock for all. A scale > 1 replays a scenario faster than life; every process
    # of one deployment must share scale and origin so that their clocks agree.
    clock_scale: float = Field(default=1.0, gt=0)
    clock_origin: datetime | None = Field(
        default=None, description="Scenario instant that the real start instant maps to."
    )
    clock_real_start: float = Field(
        default_factory=time.time, description="Real Unix time that clock_origin maps to."
    )
    office_morning: tuple[clock_time, clock_time] = (clock_time(9, 0), clock_time(12, 0))
    office_afternoon: tuple[clock_time, clock_time] = (clock_time(13, 0), clock_time(17, 0))

    # Throughput and latency (docs/benchmarks.md). A worker thread waits out each agency
    # call, so a worker needs about (steps/s × agency latency) threads; a database
    # connection is held only inside a transaction, so far fewer of those.
    worker_concurrency: int = Field(default=32, ge=1, description="Threads per worker process.")
    worker_switch_interval_ms: float = Field(
        default=1.0,
        gt=0,
        description="How soon a worker thread back from the database or an agency gets the GIL "
        "from a busy one (Python's default is 5 ms).",
    )
    db_pool_size: int = Field(
        default=16, ge=1, description="Database connections kept open per process."
    )
    db_max_overflow: int = Field(
        default=4,
        ge=0,
        description="Connections a process may open beyond its pool at peaks; each is closed "
        "again after its transaction.",
    )

    # Workflow robustness.
    agency_timeout_seconds: float = Field(default=10.0, gt=0)
    retry_base_seconds: float = Field(default=0.5, gt=0)
    retry_max_countdown_seconds: float = Field(
        default=60.0, gt=0, description="Longer waits park the step in the database for beat."
    )
    step_lease_seconds: float = Field(
        default=90.0, gt=0, description="A step with no sign of a live task for this long is swept."
    )
    sweep_interval_seconds: float = Field(default=15.0, gt=0)

    api_max_body_bytes: int = 1024 * 1024

    log_level: LogLevel = Field(
        default="warning",
        description="How much the api, worker and beat processes log (their --log-level "
        "options override it); at any level, resident IDs and mobile numbers are masked.",
    )

    licence_trusted_keys: list[str] = Field(
        default=[SIMULATOR_LICENCE_KEY],
        description="Registration authorities' public keys that make an e-business licence "
        'genuine, as a JSON list of "<algorithm>:<base64>"; default: the simulators\' dev key.',
    )

    @field_validator("licence_trusted_keys")
    @classmethod
    def _usable_keys(cls, keys: list[str]) -> list[str]:
        for text in keys:
            try:
                parse_public_key(text)
            except UnknownKey as exc:
                raise ValueError(str(exc)) from exc
        return keys


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
