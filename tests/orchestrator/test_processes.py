"""The process layout: the CLI's commands, where processes find each other, a failed start."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
import typer
from pydantic import ValidationError
from typer.testing import CliRunner

from integrations.simulators.licence import DEFAULT_VERIFY_URL
from orchestrator.cli import app
from orchestrator.settings import Settings, licence_verify_url
from orchestrator.tools.deployment import Deployment, DeploymentError

runner = CliRunner()


def cli_commands() -> set[str]:
    commands = getattr(typer.main.get_command(app), "commands", {})
    return set(commands)


class TestCli:
    def test_help_lists_every_process_and_tool(self) -> None:
        assert runner.invoke(app, ["--help"]).exit_code == 0
        assert {
            "serve", "api", "worker", "beat", "simulators", "up", "migrate", "seed", "token",
            "calendar",
        } <= cli_commands()  # fmt: skip

    def test_every_command_has_help(self) -> None:
        for command in cli_commands():
            result = runner.invoke(app, [command, "--help"])
            assert result.exit_code == 0, command
            assert len(result.output) > 100


class TestPublicAddress:
    """A simulated licence's QR code must lead to where this OneStop answers."""

    def test_a_deployment_points_licences_at_its_own_api(self) -> None:
        deployment = Deployment(api_port=8123, simulators_port=8124, env={})
        assert deployment.env["ONESTOP_PUBLIC_URL"] == "http://127.0.0.1:8123"

    def test_an_explicit_public_url_wins(self) -> None:
        env = {"ONESTOP_PUBLIC_URL": "https://onestop.example.cn"}
        assert (
            Deployment(api_port=8123, env=env).env["ONESTOP_PUBLIC_URL"]
            == env["ONESTOP_PUBLIC_URL"]
        )

    def test_the_verify_address_is_under_the_public_url(self) -> None:
        url = licence_verify_url("https://onestop.example.cn/")
        assert url == "https://onestop.example.cn/api/v1/licences/check/{token}"

    def test_the_simulators_default_is_the_local_apis_address(self) -> None:
        assert licence_verify_url("http://127.0.0.1:8000") == DEFAULT_VERIFY_URL

    def test_a_public_url_that_is_no_http_address_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="public_url"):
            Settings(public_url="onestop.example.cn")


class TestFailedStart:
    """A process that cannot start takes the others down with it, and says why."""

    def test_the_others_are_stopped_and_the_log_says_why(self, tmp_path: Path) -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            deployment = Deployment(
                workers=0,
                beat=False,
                api_port=free_port(),
                simulators_port=taken.getsockname()[1],  # the simulators cannot bind it
                env={**os.environ, "ONESTOP_DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite"},
                log_dir=tmp_path / "logs",
            )
            started: list[subprocess.Popen[bytes]] = []
            with (
                patch.object(subprocess, "Popen", side_effect=_remembered(started)),
                pytest.raises(DeploymentError) as failure,
            ):
                deployment.start()
        message = str(failure.value)
        assert message.startswith("simulators exited with code 3 after")
        assert "simulators| " in message and "address already in use" in message.lower()
        assert [process.poll() is not None for process in started] == [True, True]
        assert deployment.processes == {}


def _remembered(started: list[subprocess.Popen[bytes]]) -> Callable[..., subprocess.Popen[bytes]]:
    popen = subprocess.Popen

    def start(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        started.append(popen(*args, **kwargs))
        return started[-1]

    return start


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
