"""Scenarios: the scripted world of a replay (`scenarios/*.yaml`), checked line by line."""

from pathlib import Path

from integrations.agencies import AGENCIES, AgencyName
from orchestrator.tools.scenarios.agencies import (
    Agencies,
    AgencyBehaviour,
    Latency,
    LognormalLatency,
    Outage,
    UniformLatency,
)
from orchestrator.tools.scenarios.base import BackOffices, ScenarioClock
from orchestrator.tools.scenarios.durations import Duration, format_duration, parse_duration
from orchestrator.tools.scenarios.models import (
    Arrivals,
    BehaviourChange,
    FilingEntry,
    Scenario,
    ScenarioError,
    ScheduledFiling,
    ShortForm,
    load_scenario,
    parse_scenario,
)
from orchestrator.tools.scenarios.people import Branch, BranchStaff, Officer, StaffRole
from orchestrator.tools.scenarios.yaml_lines import (
    LocatedYaml,
    Problem,
    YamlDataError,
    parse_yaml,
    read_yaml,
    validate_yaml,
    validation_problems,
)

DEMO_SCENARIO = Path(__file__).resolve().parents[3] / "scenarios" / "demo.yaml"
"""The embedded demo (in a source checkout: the `scenarios/` folder is not packaged)."""

__all__ = [
    "AGENCIES",
    "DEMO_SCENARIO",
    "Agencies",
    "AgencyBehaviour",
    "AgencyName",
    "Arrivals",
    "BackOffices",
    "BehaviourChange",
    "Branch",
    "BranchStaff",
    "Duration",
    "FilingEntry",
    "Latency",
    "LocatedYaml",
    "LognormalLatency",
    "Officer",
    "Outage",
    "Problem",
    "Scenario",
    "ScenarioClock",
    "ScenarioError",
    "ScheduledFiling",
    "ShortForm",
    "StaffRole",
    "UniformLatency",
    "YamlDataError",
    "format_duration",
    "load_scenario",
    "parse_duration",
    "parse_scenario",
    "parse_yaml",
    "read_yaml",
    "validate_yaml",
    "validation_problems",
]
