"""One settings object for every process; defaults are the embedded mode (nothing to install)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from datetime import time as clock_time
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

import limits
from pydantic import AfterValidator, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from integrations.signing import UnknownKey, parse_public_key
from orchestrator.logs import LogLevel

VAR_DIR = Path("var")
# The agency simulators' development key (integrations/simulators/licence.py). Its seed is
# public, so anyone can sign a licence with it: only a development deployment, one that
# runs its own simulators, may trust it (see `Settings.trusts_simulator_key`).
SIMULATOR_LICENCE_KEY = "Ed25519:yN0dPPqK0B21l0ndeFraKJTu1ZAwfdcYJULrCbX8Jn4="

# Where rate-limit counters may live: this process's memory, or a Redis that every API
# process shares (`limits` storage schemes with the moving window).
RATE_LIMIT_STORAGES = ("memory", "redis", "rediss", "redis+unix", "redis+sentinel")


def _parsable_limits(text: str) -> str:
    limits.parse_many(text)  # ValueError, which names the text, if it cannot be read
    return text


# A rate limit in the `limits` notation ("<count>/<period>", several joined by ";"), checked
# when the settings are read.
RateLimit = Annotated[str, AfterValidator(_parsable_limits)]
# A period or a wait in seconds, more than none.
Seconds = Annotated[float, Field(gt=0)]
# A PostgreSQL timeout in seconds (orchestrator/db.py): 0 turns it off.
Timeout = Annotated[float, Field(ge=0)]


def licence_verify_url(public_url: str) -> str:
    """What a licence's QR code leads to, under OneStop's public address.

    `{token}` is the licence's verification token, which the registration authority fills
    in (an unguessable value, so that licences cannot be looked up by counting numbers).
    """
    return public_url.rstrip("/") + "/api/v1/licences/check/{token}"


# Where `onestop serve` listens by default: the embedded mode's public address.
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
# Where the tracking page is served, and the query parameter that fills its code in.
TRACK_PATH = "/track"
CODE_PARAMETER = "code"


def tracking_url(public_url: str, tracking_code: str) -> str:
    """A filing's tracking page under OneStop's public address, its code filled in: the
    receipt's QR code and the applicant's texts lead there (the one place that says how)."""
    query = urlencode({CODE_PARAMETER: tracking_code})
    return f"{public_url.rstrip('/')}{TRACK_PATH}/?{query}"


def is_simulator_key(text: str) -> bool:
    """Whether `text` ("<algorithm>:<base64>") is the simulators' development key.

    The whole key is compared, never a short key id.
    """
    key, simulators = parse_public_key(text), parse_public_key(SIMULATOR_LICENCE_KEY)
    return (key.algorithm, key.public_key) == (simulators.algorithm, simulators.public_key)


def with_simulator_key(keys: Sequence[str]) -> list[str]:
    """`keys` and the simulators' development key, once."""
    trusted = list(keys)
    return trusted if any(map(is_simulator_key, trusted)) else [*trusted, SIMULATOR_LICENCE_KEY]


class Settings(BaseSettings):
    """Read from `ONESTOP_*` environment variables (and a `.env` file if present)."""

    # A field's docstring (the string below it) is its description.
    model_config = SettingsConfigDict(
        env_prefix="ONESTOP_", env_file=".env", extra="ignore", use_attribute_docstrings=True
    )

    database_url: str = f"sqlite:///{VAR_DIR / 'onestop.db'}"
    """SQLAlchemy URL; postgresql+psycopg://… in production."""
    broker_url: str = "memory://localhost/"
    """Celery broker; amqp://… in production."""
    agencies_url: str | None = None
    """Base URL of the agencies (or their simulators); unset: simulators in process."""
    public_url: str | None = Field(default=None, pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    """Where people reach OneStop's API; a simulated licence's QR code leads there. Unset: the local
    address of `serve` or `up`."""
    sms_gateway_url: str | None = None
    """Base URL of the SMS gateway (its REST endpoint under /sms/v1); unset: the agencies' URL,
    where the simulators serve one."""

    # Time: one clock for all. A scale > 1 replays a scenario faster than life; every process
    # of one deployment must share scale and origin so that their clocks agree.
    clock_scale: float = Field(default=1.0, gt=0)
    clock_origin: datetime | None = None
    """Scenario instant that the real start instant maps to."""
    clock_real_start: float = Field(default_factory=time.time)
    """Real Unix time that clock_origin maps to."""
    office_morning: tuple[clock_time, clock_time] = (clock_time(9, 0), clock_time(12, 0))
    office_afternoon: tuple[clock_time, clock_time] = (clock_time(13, 0), clock_time(17, 0))
    calendar_refresh_seconds: Seconds = 60.0
    """How often a process looks for holiday schedules imported since it started."""
    deadline_revision_seconds: Seconds = 600.0
    """How often beat re-evaluates open filings' deadlines on the current calendar."""
    material_reminder_seconds: Seconds = 300.0
    """How often beat reminds applicants of 容缺 materials due within a working day and flags to
    their branch the filings whose materials are past due."""
    sla_evaluation_seconds: Seconds = 60.0
    """How often beat judges open filings' SLA state and predicts their ready time."""
    supervision_fold_seconds: Seconds = 300.0
    """How often beat folds today's and yesterday's filings into the supervision figures (how stale
    the officers' figures may be)."""

    # Throughput and latency (docs/benchmarks.md). A worker thread waits out each agency
    # call, so a worker needs about (steps/s × agency latency) threads; a database
    # connection is held only inside a transaction, so far fewer of those.
    worker_concurrency: int = Field(default=32, ge=1)
    """Threads per worker process."""
    worker_switch_interval_ms: float = Field(default=1.0, gt=0)
    """How soon a worker thread back from the database or an agency gets the GIL from a busy one
    (Python's default is 5 ms)."""
    db_pool_size: int = Field(default=16, ge=1)
    """Database connections kept open per process."""
    db_max_overflow: int = Field(default=4, ge=0)
    """Connections a process may open beyond its pool at peaks; each is closed again after its
    transaction."""
    # The database may go away, and so may a client of it. Applied by PostgreSQL to every
    # session a OneStop process opens (orchestrator/db.py); 0 turns one off.
    db_connect_timeout_seconds: int = Field(default=5, ge=0)
    """Give up connecting to the database after this long (an unreachable host would otherwise hold
    a request for the operating system's TCP timeout)."""
    db_statement_timeout_seconds: Timeout = 30.0
    """PostgreSQL cancels a statement that runs longer (waiting for a lock included): OneStop's
    statements take milliseconds. Migrations run without it."""
    db_idle_in_transaction_timeout_seconds: Timeout = 30.0
    """PostgreSQL ends a session left idle inside a transaction this long, releasing its row locks:
    a process that hangs or vanishes mid-transaction does not keep its steps from the sweeper.
    OneStop never waits on anything but the database inside a transaction."""

    # Workflow robustness.
    agency_timeout_seconds: Seconds = 10.0
    retry_base_seconds: Seconds = 0.5
    retry_max_countdown_seconds: Seconds = 60.0
    """Longer waits park the step in the database for beat."""
    step_lease_seconds: Seconds = 90.0
    """A step with no sign of a live task for this long is swept."""
    sweep_interval_seconds: Seconds = 15.0
    beat_heartbeat_file: Path = VAR_DIR / "beat.heartbeat"
    """Touched by beat on every tick; `onestop health beat` reads its age."""

    api_max_body_bytes: int = 1024 * 1024

    token_max_days: int = Field(default=90, ge=1, le=3650)
    """No API token is live longer than this many days after its issue, whatever it was issued for
    (a lower value cuts tokens already issued, too)."""
    log_level: LogLevel = "warning"
    """How much the api, worker and beat processes log (their --log-level options override it); at
    any level, resident IDs and mobile numbers are masked."""

    licence_trusted_keys: list[str] = []
    """Registration authorities' public keys that make an e-business licence genuine, as a JSON list
    of "<algorithm>:<base64>". Empty by default: commands that run their own simulators add the
    simulators' development key for what they start."""
    development: bool = False
    """This is a development deployment: `api`, `worker` and `beat` may start while the simulators'
    development key is trusted (they refuse to otherwise)."""

    # Rate limits per client address on the public endpoints (orchestrator/api/rate_limits.py),
    # in the `limits` notation: "<count>/<period>", several joined by ";".
    rate_limit_storage_url: str = "memory://"
    """Where the counters live: memory:// holds for this process only; redis://… makes the limits
    hold across every API process that shares it."""
    rate_limit_key_prefix: str = Field(default="onestop", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    """Names this deployment's counters in a shared store."""
    rate_limit_licence_checks: RateLimit = "30/minute;300/hour"
    """Licence checks (an uploaded PDF, or a QR code's token) per client address."""
    rate_limit_licence_lookups_by_number: RateLimit = "5/minute;30/hour"
    """Lookups by bare licence number per client address: stricter, since numbers can be counted
    through."""

    # The web process: the JSON API and the staff portal, composed by the portal (which the
    # core never imports: it is named here, and loaded by name when a server starts).
    web_app: str = Field(
        default="bank_portal.web:create_app",
        pattern=r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$",
    )
    """What `api`, `serve` and `up` serve: a factory of the ASGI application that takes the
    settings, as module:function."""
    portal_session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    """A staff portal session ends after this many minutes without a request."""
    portal_session_max_hours: int = Field(default=10, ge=1, le=7 * 24)
    """A staff portal session ends this many hours after sign-in, busy or not."""
    rate_limit_portal_new_sessions: RateLimit = "60/minute;600/hour"
    """Portal sessions opened per client address (a browser's first page, before sign-in): each is a
    row in the database until it times out."""
    rate_limit_portal_login_failures_per_user: RateLimit = "5/15 minutes"
    """Failed portal sign-ins per username before that username is locked out until the window has
    passed."""
    rate_limit_portal_login_failures_per_address: RateLimit = "20/15 minutes"
    """Failed portal sign-ins per client address (over any usernames) before that address is locked
    out until the window has passed."""

    # The entrepreneur's tracking page (/track): a tracking code and the last four digits of
    # the legal representative's mobile open one filing, for a short while.
    track_session_minutes: int = Field(default=20, ge=1, le=24 * 60)
    """A tracking page session (one filing, opened with its code and phone digits) ends this many
    minutes after it was opened."""
    rate_limit_track_failures_per_address: RateLimit = "10/15 minutes;50/day"
    """Failed attempts to open a filing on the tracking page per client address (over any tracking
    codes) before that address must wait."""
    rate_limit_track_failures_per_code: RateLimit = "5/15 minutes;20/day"
    """Failed attempts to open one tracking code (from any address) before that code must wait: four
    digits are only 10,000 guesses."""

    @field_validator("licence_trusted_keys")
    @classmethod
    def _usable_keys(cls, keys: list[str]) -> list[str]:
        for text in keys:
            try:
                parse_public_key(text)
            except UnknownKey as exc:
                raise ValueError(str(exc)) from exc
        return keys

    @field_validator("rate_limit_storage_url")
    @classmethod
    def _known_storage(cls, url: str) -> str:
        if urlsplit(url).scheme not in RATE_LIMIT_STORAGES:
            raise ValueError(f"a rate-limit storage is one of {', '.join(RATE_LIMIT_STORAGES)}")
        return url

    def trusts_simulator_key(self) -> bool:
        """Whether the simulators' development key is among the trusted keys (whole keys)."""
        return any(map(is_simulator_key, self.licence_trusted_keys))

    def with_simulators(self) -> Settings:
        """These settings for a deployment that runs its own simulators.

        Their development key is trusted, so that the licences they issue verify, and the
        deployment is marked a development one: nothing of it may face the public.
        """
        trusted = with_simulator_key(self.licence_trusted_keys)
        return self.model_copy(update={"licence_trusted_keys": trusted, "development": True})

    @property
    def public_base_url(self) -> str:
        """Where people reach OneStop: `public_url`, or `serve`'s local default."""
        return self.public_url or DEFAULT_PUBLIC_URL

    @property
    def token_max_lifetime(self) -> timedelta:
        """The longest an API token is live (`token_max_days`)."""
        return timedelta(days=self.token_max_days)


def env_name(field: str) -> str:
    """The environment variable that sets `field` (e.g. ONESTOP_DATABASE_URL)."""
    if field not in Settings.model_fields:
        raise KeyError(field)
    return f"{Settings.model_config['env_prefix']}{field}".upper()


def environment_with_simulators(env: Mapping[str, str]) -> dict[str, str]:
    """`env` for the processes of a deployment that runs its own simulators.

    The environment counterpart of `Settings.with_simulators`: the development key joins
    the trusted keys that `env` names, and the deployment is marked a development one.
    """
    name = env_name("licence_trusted_keys")
    keys: Any = json.loads(env.get(name) or "[]")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ValueError(f'{name} must be a JSON list of "<algorithm>:<base64>" keys')
    trusted = json.dumps(with_simulator_key(keys))
    return {**env, name: trusted, env_name("development"): "true"}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
