"""The base of every scenario model, and scenario time (`Instant`, `ScenarioClock`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

# The messages of every scenario model are registered with the validation catalogue.
import orchestrator.tools.scenarios.messages  # noqa: F401
from orchestrator.clock import CHINA


def _china_time(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=CHINA)
    return value.astimezone(CHINA)


Instant = Annotated[datetime, AfterValidator(_china_time)]
"""An ISO date-time, in China time when it names no offset."""


class ScenarioModel(BaseModel):
    """The base of every part of a scenario: frozen, and no field it does not declare."""

    model_config = ConfigDict(frozen=True, extra="forbid")


BackOffices = Literal["working_time", "wall_clock"]


class ScenarioClock(ScenarioModel):
    """Where scenario time starts, how much faster than life it runs, and when agencies work.

    With `back_offices: working_time` (the default) an agency's latency is work done only in
    office hours of working days (the working-day calendar); `wall_clock` counts every second.
    """

    start: Instant
    scale: float = Field(
        default=1.0, gt=0, allow_inf_nan=False, description="Scenario seconds per real second."
    )
    back_offices: BackOffices = "working_time"

    def real_seconds(self, scenario: timedelta) -> float:
        """How long `scenario` time lasts in real time."""
        return scenario.total_seconds() / self.scale

    def at(self, offset: timedelta) -> datetime:
        """The scenario instant `offset` after the start."""
        return self.start + offset
