"""How each agency behaves in a scenario: latency in scenario time, transient errors, lost
replies and outages."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, cast

from pydantic import Field, model_validator

from integrations.agencies import AGENCIES, GATEWAYS, AgencyName, GatewayName
from integrations.simulators.engine import Behaviour
from orchestrator.tools.scenarios.base import Instant, ScenarioModel
from orchestrator.tools.scenarios.durations import Duration
from orchestrator.validation import fail

_Z95 = 1.6448536269514722  # the standard normal's 95th percentile


class UniformLatency(ScenarioModel):
    """Any latency from `min` to `max`, each as likely."""

    min: Duration
    max: Duration

    @model_validator(mode="after")
    def _ordered(self) -> UniformLatency:
        if self.min > self.max:
            raise fail("scenario_range_reversed", low="min", high="max")
        return self


class LognormalLatency(ScenarioModel):
    """A long-tailed latency: half the requests take less than `median`, 95% less than `p95`."""

    median: Duration
    p95: Duration

    @model_validator(mode="after")
    def _ordered(self) -> LognormalLatency:
        if self.median <= timedelta(0):
            raise fail("scenario_median_zero")
        if self.median > self.p95:
            raise fail("scenario_range_reversed", low="median", high="p95")
        return self

    @property
    def mu_sigma(self) -> tuple[float, float]:
        """The parameters of the underlying normal distribution (of ln seconds)."""
        median = self.median.total_seconds()
        return math.log(median), math.log(self.p95.total_seconds() / median) / _Z95


class Latency(ScenarioModel):
    """How much work a request takes an agency, in scenario time: `45m`, or one distribution.

    The work is counted in office hours unless the clock's `back_offices` is `wall_clock`.

    `{fixed: 45m}`, `{uniform: {min: 3m, max: 6m}}` or `{lognormal: {median: 4m, p95: 10m}}`.
    """

    fixed: Duration | None = None
    uniform: UniformLatency | None = None
    lognormal: LognormalLatency | None = None

    @model_validator(mode="before")
    @classmethod
    def _plain_duration_is_fixed(cls, value: Any) -> Any:
        return {"fixed": value} if isinstance(value, str | timedelta) else value

    @model_validator(mode="after")
    def _exactly_one(self) -> Latency:
        if sum(kind is not None for kind in (self.fixed, self.uniform, self.lognormal)) != 1:
            raise fail("scenario_one_latency")
        return self

    def sample(self, rng: random.Random) -> timedelta:
        """One latency drawn from the distribution."""
        if self.uniform is not None:
            low, high = self.uniform.min.total_seconds(), self.uniform.max.total_seconds()
            return timedelta(seconds=rng.uniform(low, high))
        if self.lognormal is not None:
            return timedelta(seconds=rng.lognormvariate(*self.lognormal.mu_sigma))
        return self.fixed or timedelta(0)

    @property
    def median(self) -> timedelta:
        """Half the requests take less than this."""
        if self.uniform is not None:
            return (self.uniform.min + self.uniform.max) / 2
        if self.lognormal is not None:
            return self.lognormal.median
        return self.fixed or timedelta(0)


class Outage(ScenarioModel):
    """A span of scenario time in which the agency answers nothing but 503."""

    start: Instant
    end: Instant

    @model_validator(mode="after")
    def _ordered(self) -> Outage:
        if self.end <= self.start:
            raise fail("scenario_outage_reversed")
        return self

    def covers(self, instant: datetime) -> bool:
        """Whether the agency is down at `instant` (start included, end excluded)."""
        return self.start <= instant < self.end


class AgencyBehaviour(ScenarioModel):
    """How one agency behaves; by default it answers at once and never fails."""

    latency: Latency = Latency(fixed=timedelta(0))
    transient_error_rate: float = Field(default=0.0, ge=0, le=1)
    lost_reply_rate: float = Field(default=0.0, ge=0, le=1)
    outages: tuple[Outage, ...] = ()

    def down_at(self, instant: datetime) -> bool:
        """Whether one of the outages covers the scenario instant `instant`."""
        return any(outage.covers(instant) for outage in self.outages)

    def to_simulator_behaviour(self, scale: float, *, at: datetime | None = None) -> Behaviour:
        """The simulators' `Behaviour` for a clock running `scale` times faster than life.

        Latencies are scenario time and the simulators count real time, so they are
        divided by `scale`. A uniform latency maps onto the simulators' base + jitter, a
        lognormal one onto its median and spread (σ), each drawn per request. `outage` is
        whether an outage covers the scenario instant `at` (none if `at` is None); a replay
        switches it at the instants `Scenario.behaviour_changes` lists.
        """
        if scale <= 0 or not math.isfinite(scale):
            raise ValueError("the clock scale must be a finite number above 0")
        base, jitter, sigma = timedelta(0), timedelta(0), 0.0
        if self.latency.uniform is not None:
            base, jitter = (
                self.latency.uniform.min,
                self.latency.uniform.max - self.latency.uniform.min,
            )
        elif self.latency.lognormal is not None:
            base, sigma = self.latency.lognormal.median, self.latency.lognormal.mu_sigma[1]
        else:
            base = self.latency.fixed or timedelta(0)
        return Behaviour(
            latency_ms=base.total_seconds() * 1000 / scale,
            latency_jitter_ms=jitter.total_seconds() * 1000 / scale,
            latency_log_sigma=sigma,
            transient_error_rate=self.transient_error_rate,
            lost_reply_rate=self.lost_reply_rate,
            outage=at is not None and self.down_at(at),
        )


class Agencies(ScenarioModel):
    """Each agency's behaviour; an agency left out is fast and reliable."""

    registration: AgencyBehaviour = AgencyBehaviour()
    bank_precheck: AgencyBehaviour = AgencyBehaviour()
    seal_design: AgencyBehaviour = AgencyBehaviour()
    seal: AgencyBehaviour = AgencyBehaviour()
    bank_account: AgencyBehaviour = AgencyBehaviour()
    tax: AgencyBehaviour = AgencyBehaviour()
    social_insurance: AgencyBehaviour = AgencyBehaviour()
    medical_insurance: AgencyBehaviour = AgencyBehaviour()
    housing_fund: AgencyBehaviour = AgencyBehaviour()
    courier: AgencyBehaviour = AgencyBehaviour()
    sms: AgencyBehaviour = AgencyBehaviour()  # the SMS gateway, which texts the applicant

    def items(self) -> Iterator[tuple[AgencyName | GatewayName, AgencyBehaviour]]:
        """Every agency with its behaviour, in workflow order, then the gateways."""
        for name in (*AGENCIES, *GATEWAYS):
            yield name, cast(AgencyBehaviour, getattr(self, name))
