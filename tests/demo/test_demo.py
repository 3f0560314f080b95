"""`onestop demo`: the demo scenario replayed end to end, the way `make demo` runs it.

Each replay runs as `onestop demo PATH --json` in a process of its own: stopping an
embedded Celery worker sets Celery's process-wide shutdown flag, which would stop the
session's embedded worker (the `_embedded` fixture) too.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from integrations.codes import is_valid_uscc
from orchestrator.cli import app
from orchestrator.reference import load_reference
from orchestrator.tools.demo import EXIT_BAD_SCENARIO, EXIT_COMPLETE, EXIT_INCOMPLETE, run_demo
from orchestrator.tools.scenarios import DEMO_SCENARIO, load_scenario
from orchestrator.tools.scenarios.replay import ReplayPlan

DEMO_TEXT = DEMO_SCENARIO.read_text(encoding="utf-8")


class Run:
    """One replay: its exit code, everything it printed, and its JSON summary (last line)."""

    def __init__(self, code: int, output: str, errors: str) -> None:
        self.code = code
        self.output = output
        assert output.strip(), errors
        self.summary: dict[str, Any] = json.loads(output.splitlines()[-1])
        self.filings: list[dict[str, Any]] = self.summary["filings"]

    def filing(self, trade_name: str) -> dict[str, Any]:
        (found,) = [f for f in self.filings if trade_name in f["company_name"]]
        return found


def start(
    path: Path, directory: Path, *, timeout: float, options: tuple[str, ...] = ("--json",)
) -> subprocess.Popen[str]:
    """`onestop demo PATH --json` in `directory` (its database goes to `var/` there)."""
    command = [sys.executable, "-m", "orchestrator.cli", "demo", str(path), *options]
    return subprocess.Popen(
        [*command, "--timeout", f"{timeout:g}"],
        cwd=directory,
        env={**os.environ, "COLUMNS": "120"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def scenario_file(directory: Path, old: str, new: str) -> Path:
    """The demo scenario with `old` (occurring once) replaced by `new`."""
    assert DEMO_TEXT.count(old) == 1
    path = directory / "scenario.yaml"
    path.write_text(DEMO_TEXT.replace(old, new), encoding="utf-8")
    return path


# The tax bureau is down from 09:32 to 10:00 of scenario time (about three real seconds).
TAX_OUTAGE = (
    "tax: {latency: {uniform: {min: 2m, max: 4m}}}",
    "tax: {latency: {uniform: {min: 2m, max: 4m}}, "
    "outages: [{start: 2026-11-23T09:32:00, end: 2026-11-23T10:00:00}]}",
)
# Market supervision is down all day: nothing gets past registration.
REGISTRATION_DOWN = (
    "registration: {latency: {uniform: {min: 3m, max: 6m}}}",
    "registration: {outages: [{start: 2026-11-23T09:00:00, end: 2026-11-24T09:00:00}]}",
)
SHORT_TIMEOUT = 2


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """The replays, run side by side: each spends most of its time waiting."""
    directories = {name: tmp_path_factory.mktemp(name) for name in ("demo", "outage", "down")}
    processes = {
        "demo": start(DEMO_SCENARIO, directories["demo"], timeout=60),
        "outage": start(
            scenario_file(directories["outage"], *TAX_OUTAGE), directories["outage"], timeout=60
        ),
        "down": start(
            scenario_file(directories["down"], *REGISTRATION_DOWN),
            directories["down"],
            timeout=SHORT_TIMEOUT,
        ),
    }
    finished = {}
    for name, process in processes.items():
        output, errors = process.communicate(timeout=120)
        finished[name] = Run(process.returncode, output, errors)
    return finished


@pytest.fixture
def demo(runs: dict[str, Run]) -> Run:
    return runs["demo"]


class TestDemoScenario:
    def test_every_filing_completes(self, demo: Run) -> None:
        expected = len(list(load_scenario(DEMO_SCENARIO).filings_in_order()))
        assert demo.code == EXIT_COMPLETE, demo.output
        assert demo.summary["ok"] and not demo.summary["timed_out"]
        assert demo.summary["complete"] == demo.summary["total"] == expected == 6
        assert all(f["status"] == "complete" and f["reason"] is None for f in demo.filings)

    def test_each_company_has_a_valid_credit_code(self, demo: Run) -> None:
        codes = [f["credit_code"] for f in demo.filings]
        assert all(is_valid_uscc(code) for code in codes), codes
        assert len(set(codes)) == len(codes)

    def test_each_company_has_a_basic_account_at_its_filing_bank(self, demo: Run) -> None:
        banks = load_reference().banks
        branch_banks = {b.code: b.bank_code for b in load_scenario(DEMO_SCENARIO).branches}
        for filing in demo.filings:
            assert filing["bank_code"] == branch_banks[filing["branch_code"]]
            assert banks[filing["bank_code"]].account_number.matches(
                filing["bank_account_number"]
            ), filing

    def test_each_company_is_registered_for_tax_as_filed(self, demo: Run) -> None:
        assert all(f["tax_registered"] for f in demo.filings)
        assert demo.filing("聚鲜")["taxpayer_type"] == "general"
        assert demo.filing("禾丰")["taxpayer_type"] == "small_scale"

    def test_the_clerk_supplements_the_missing_material_once_its_step_waits(
        self, demo: Run
    ) -> None:
        seeds = demo.filing("沃土")  # filed without the housing-fund authorisation (容缺)
        assert seeds["supplemented"] == ["housing_fund_authorisation"]
        events = seeds["events"]
        assert events.index("blocked") < events.index("material_supplemented")
        assert events.count("material_supplemented") == 1
        others = [f for f in demo.filings if f is not seeds]
        assert all(not f["supplemented"] and "blocked" not in f["events"] for f in others)

    def test_the_clerk_hands_over_what_waits_at_the_branch(self, demo: Run) -> None:
        restaurant = demo.filing("弥河人家")  # delivery: branch pickup
        assert restaurant["handed_over"]
        assert "at_branch" in restaurant["events"]
        assert restaurant["delivery"] == {"handed_over_by": "staff:abc.wangpeng"}
        couriered = [f for f in demo.filings if f is not restaurant]
        assert all(not f["handed_over"] and f["delivery"].get("waybill") for f in couriered)

    def test_working_time_is_within_the_shouguang_target(self, demo: Run) -> None:
        target = load_reference().districts["370783"].policy.sla_working_days
        for filing in demo.filings:
            assert filing["target_working_days"] == target == 0.5
            assert 0 < filing["working_days_to_ready"] <= target, filing
            assert filing["working_hours_to_ready"] == pytest.approx(
                filing["working_days_to_ready"] * 7, abs=1e-3
            )
            assert filing["within_target"]
        assert demo.summary["within_target_share"] == 1.0
        assert 0 < demo.summary["median_working_days_to_ready"] <= target

    def test_filings_arrive_in_order_from_the_scenario_start(self, demo: Run) -> None:
        # Scenario time starts once everything is up, so the first filing is not late by the
        # start-up time (at ×600 a real second is ten minutes: allow a busy machine an hour).
        start = load_scenario(DEMO_SCENARIO).clock.start
        accepted = [datetime.fromisoformat(f["accepted_at"]) for f in demo.filings]
        assert accepted == sorted(accepted)
        assert start <= accepted[0] < start + timedelta(hours=1)

    def test_prints_notes_and_a_summary_without_terminal_codes(self, demo: Run) -> None:
        assert "\x1b" not in demo.output
        assert "补正材料" in demo.output and "housing_fund_authorisation" in demo.output
        assert "交付证照印章" in demo.output
        assert "办结汇总 Summary" in demo.output
        for filing in demo.filings:
            assert filing["credit_code"] in demo.output
            assert filing["bank_account_number"] in demo.output
        assert "办结 6/6 complete" in demo.output


class TestAgencyOutage:
    def test_filings_complete_once_the_tax_bureau_is_back(self, runs: dict[str, Run]) -> None:
        run = runs["outage"]
        assert run.code == EXIT_COMPLETE, run.output
        assert "tax 停止服务 down" in run.output and "tax 恢复服务 back up" in run.output
        tax_retried = [f for f in run.filings if "retry_scheduled" in f["events"]]
        assert tax_retried, "the outage should have made some tax registration wait"


class TestIncomplete:
    def test_a_timeout_exits_1_naming_each_filing_not_complete(self, runs: dict[str, Run]) -> None:
        run = runs["down"]
        assert run.code == EXIT_INCOMPLETE
        assert run.summary["timed_out"] and not run.summary["ok"]
        assert run.summary["complete"] == 0
        filed = [f for f in run.filings if f["tracking_code"]]
        assert filed, run.output
        for filing in filed:
            assert f"not complete after {SHORT_TIMEOUT}s" in filing["reason"]
            assert "registration" in filing["reason"]
            assert filing["company_name"] in run.output
        assert f"超时 timed out after {SHORT_TIMEOUT}s" in run.output


class TestServing:
    def test_after_the_replay_a_clerk_signs_in_and_sees_what_it_filed_until_ctrl_c(
        self, tmp_path: Path
    ) -> None:
        process = start(DEMO_SCENARIO, tmp_path, timeout=60, options=("--serve",))
        try:
            printed = _printed_until(process, "Ctrl-C")
            found = re.search(
                r"(http://\S+)/portal/login\s+登录 sign in as (\S+) · 密码 password (\S+)", printed
            )
            assert found, printed
            base, username, password = found.groups()
            assert f"{base}/track/?code=OS" in printed and "mobile ending" in printed
            with httpx.Client(base_url=f"{base}/portal", follow_redirects=True) as portal:
                form = re.search(r'name="csrf_token" value="([^"]+)"', portal.get("/login").text)
                assert form is not None
                queue = portal.post(
                    "/login",
                    data={"username": username, "password": password, "csrf_token": form[1]},
                )
                plan = ReplayPlan.of(load_scenario(DEMO_SCENARIO))
                first = plan.filings[0]
                assert first.clerk_username == username
                filed_here = [f for f in plan.filings if f.branch_code == first.branch_code]
                assert queue.url.path == "/portal/"
                assert queue.text.count('data-test="filing"') == len(filed_here)
            assert process.poll() is None  # still serving
            process.send_signal(signal.SIGINT)
            output, _ = process.communicate(timeout=30)
        finally:
            process.kill()
        assert process.returncode == EXIT_COMPLETE
        assert "已停止 stopped" in output

    def test_without_a_terminal_it_exits_after_the_summary(self, demo: Run) -> None:
        assert "sign in as" not in demo.output


def _printed_until(process: subprocess.Popen[str], text: str) -> str:
    """What `process` printed, up to and including the first line with `text` in it."""
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if text in line:
            return "".join(lines)
    pytest.fail(f"exited ({process.wait()}) without printing {text!r}: {''.join(lines)}")


class TestBadScenario:
    def test_a_missing_file_exits_2_saying_so(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        missing = tmp_path / "nowhere.yaml"
        assert run_demo(missing, directory=tmp_path) == EXIT_BAD_SCENARIO
        err = capsys.readouterr().err
        assert "the scenario cannot be used" in err
        assert str(missing) in err and "cannot be read" in err
        assert not list(tmp_path.glob("demo-*.db"))  # nothing was started

    def test_an_invalid_scenario_exits_2_naming_file_line_and_field(self, tmp_path: Path) -> None:
        path = scenario_file(tmp_path, "scale: 600 ", "scale: -1  ")
        result = CliRunner().invoke(app, ["demo", str(path), "--json"])
        assert result.exit_code == EXIT_BAD_SCENARIO
        line = DEMO_TEXT[: DEMO_TEXT.index("scale: 600")].count("\n") + 1
        assert f"{path}:{line}" in result.output
        assert "clock.scale" in result.output
