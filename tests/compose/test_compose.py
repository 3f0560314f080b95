"""compose.yaml is a file Docker Compose accepts — no key given twice (Compose refuses that,
where PyYAML would silently keep the last one), valid against the Compose Specification's
schema — and runs OneStop's processes with restart policies, honest healthchecks, and every
credential in an env file instead of the file itself."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import typer
from dotenv import dotenv_values
from jsonschema import Draft7Validator

from orchestrator.cli import app
from orchestrator.settings import Settings
from orchestrator.tools.scenarios.yaml_lines import YamlDataError, parse_yaml, read_yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
ENV_EXAMPLE = ROOT / "compose.env.example"
SPEC = Path(__file__).parent / "compose-spec"
PLACEHOLDER = "change-me"

# Services that run for good (the others run once).
LONG_RUNNING = ("postgres", "rabbitmq", "redis", "simulators", "api", "worker", "beat")
# Exactly what the images need to create their users: the env file holds them all.
CREDENTIALS = ("POSTGRES_PASSWORD", "RABBITMQ_DEFAULT_PASS", "REDIS_PASSWORD")


def compose() -> dict[str, Any]:
    """compose.yaml, read by a loader that refuses a key given twice in one mapping."""
    data = read_yaml(COMPOSE, name="compose.yaml").data
    assert isinstance(data, dict)
    return data


def services() -> dict[str, dict[str, Any]]:
    found = compose()["services"]
    assert isinstance(found, dict)
    return found


def schema_errors(document: Any) -> list[str]:
    """What the Compose Specification's schema finds wrong with `document`, one line each."""
    schema = json.loads((SPEC / "compose-spec.json").read_text())
    validator = Draft7Validator(schema)
    return sorted(
        f"{'.'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
        for error in validator.iter_errors(document)
    )


def cli_commands(*path: str) -> set[str]:
    """The subcommands of `onestop <path>`."""
    command: Any = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return set(command.commands)


class TestStrictLoading:
    def test_compose_yaml_gives_no_key_twice(self) -> None:
        assert "services" in compose()

    def test_a_key_given_twice_is_refused_with_its_line(self) -> None:
        # What compose.yaml once was: a second `services:` that PyYAML read without a word.
        text = COMPOSE.read_text() + "\nservices:\n  redis: {image: redis:7}\n"
        with pytest.raises(YamlDataError) as refused:
            parse_yaml(text, name="compose.yaml")
        line = len(COMPOSE.read_text().splitlines()) + 2
        assert str(refused.value).startswith(f"compose.yaml:{line}: services: "), refused.value

    def test_a_key_given_twice_deeper_down_is_refused_too(self) -> None:
        text = "services:\n  api:\n    image: a\n    image: b\n"
        with pytest.raises(YamlDataError, match=r"compose\.yaml:4: image: "):
            parse_yaml(text, name="compose.yaml")

    def test_a_key_that_overrides_a_merged_one_is_no_duplicate(self) -> None:
        # `<<: *base` then `restart:` is how compose.yaml shares settings between services.
        text = "x: &base {restart: always}\nservices:\n  api: {<<: *base, restart: 'no'}\n"
        assert parse_yaml(text, name="compose.yaml").data["services"]["api"]["restart"] == "no"


class TestSchema:
    def test_compose_yaml_is_valid_against_the_compose_specification(self) -> None:
        assert schema_errors(compose()) == []

    def test_the_schema_refuses_what_compose_would(self) -> None:
        # Not vacuous: the schema at hand does find mistakes.
        broken = compose()
        broken["services"]["api"]["restrat"] = "always"
        broken["services"]["worker"]["healthcheck"]["retries"] = [3]
        broken["volume"] = {}
        assert schema_errors(broken) == [
            "(top): 'volume' does not match any of the regexes: '^x-'",
            "services.api: 'restrat' does not match any of the regexes: '^x-'",
            "services.worker.healthcheck.retries: [3] is not of type 'number', 'string'",
        ]

    def test_the_vendored_schema_is_the_one_its_note_describes(self) -> None:
        digest = hashlib.sha256((SPEC / "compose-spec.json").read_bytes()).hexdigest()
        assert digest in (SPEC / "SOURCE.md").read_text()
        assert "Apache License" in (SPEC / "LICENSE").read_text()

    @pytest.mark.skipif(
        shutil.which("docker") is None
        or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
        reason="no `docker compose` here (it checks a file without a Docker engine)",
    )
    def test_docker_compose_config_accepts_it(self, tmp_path: Path) -> None:
        shutil.copy(COMPOSE, tmp_path / "compose.yaml")
        shutil.copy(ENV_EXAMPLE, tmp_path / "compose.env")
        checked = subprocess.run(
            ["docker", "compose", "config", "--quiet"], cwd=tmp_path, capture_output=True, text=True
        )
        assert checked.returncode == 0, checked.stderr


class TestServices:
    def test_declares_the_production_services(self) -> None:
        assert set(LONG_RUNNING) | {"migrate"} == set(services())

    def test_every_long_running_service_is_restarted_when_it_exits(self) -> None:
        for name in LONG_RUNNING:
            assert services()[name].get("restart") in ("always", "unless-stopped"), name
        assert services()["migrate"]["restart"] == "on-failure"  # once, until it succeeds

    def test_every_long_running_service_has_a_healthcheck(self) -> None:
        for name in LONG_RUNNING:
            assert services()[name]["healthcheck"]["test"], name

    def test_onestop_processes_are_checked_by_onestop_health(self) -> None:
        for name in ("simulators", "api", "worker", "beat"):
            test = services()[name]["healthcheck"]["test"]
            assert test[:4] == ["CMD", "onestop", "health", name], test
        assert {"api", "simulators", "worker", "beat"} <= cli_commands("health")

    def test_names_only_onestop_commands_that_exist(self) -> None:
        known = cli_commands()
        for name, service in services().items():
            command = service.get("command")
            if isinstance(command, list) and command[0] == "onestop":
                assert command[1] in known, f"{name}: onestop {command[1]} does not exist"

    def test_workers_scale(self) -> None:
        assert services()["worker"]["deploy"]["replicas"] >= 2

    def test_onestop_waits_for_a_migrated_database_and_a_broker(self) -> None:
        for name in ("api", "worker", "beat"):
            needs = services()[name]["depends_on"]
            assert needs["migrate"] == {"condition": "service_completed_successfully"}, name
            assert needs["postgres"]["condition"] == needs["rabbitmq"]["condition"]


class TestCredentials:
    def test_compose_yaml_holds_no_credential(self) -> None:
        text = COMPOSE.read_text()
        for variable in (*CREDENTIALS, "ONESTOP_DATABASE_URL", "ONESTOP_BROKER_URL"):
            assert f"{variable}:" not in text and f"{variable}=" not in text, variable
        assert not re.search(r"://[^/\s:@]+:[^/\s@]+@", text), "a URL with a password"
        for name, service in services().items():
            assert "environment" not in service, name

    def test_every_service_reads_the_env_file(self) -> None:
        for name, service in services().items():
            assert service["env_file"] == ["compose.env"], name

    def test_the_env_file_is_not_committed_and_its_example_holds_placeholders(self) -> None:
        assert "compose.env" in (ROOT / ".gitignore").read_text().splitlines()
        assert "compose.env" in (ROOT / ".dockerignore").read_text().splitlines()
        example = dotenv_values(ENV_EXAMPLE)
        for variable in CREDENTIALS:
            assert example[variable] == PLACEHOLDER, variable

    def test_the_example_gives_onestop_its_settings_from_those_credentials(self) -> None:
        example = dotenv_values(ENV_EXAMPLE)  # ${VAR} resolved as compose resolves it
        settings = Settings(
            database_url=example["ONESTOP_DATABASE_URL"],
            broker_url=example["ONESTOP_BROKER_URL"],
            agencies_url=example["ONESTOP_AGENCIES_URL"],
            public_url=example["ONESTOP_PUBLIC_URL"],
        )
        assert settings.database_url == (
            f"postgresql+psycopg://onestop:{PLACEHOLDER}@postgres:5432/onestop"
        )
        assert settings.broker_url == f"amqp://onestop:{PLACEHOLDER}@rabbitmq:5672//"
        # Redis is there for the API's rate limits, and only if they are pointed at it.
        assert example["ONESTOP_RATE_LIMIT_STORAGE_URL"] == f"redis://:{PLACEHOLDER}@redis:6379/0"
        assert "redis" in services()["api"]["depends_on"]
