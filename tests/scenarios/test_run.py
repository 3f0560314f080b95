"""`onestop run SCENARIO --short --json`: every shipped scenario replayed in its short form.

Each replay runs in a process of its own (stopping an embedded Celery worker sets Celery's
process-wide shutdown flag) and in a directory of its own (its database goes to `var/`
there); they run side by side, since each spends most of its time waiting for the clock.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from orchestrator.calendar import WorkingCalendar
from orchestrator.cli import app
from orchestrator.tools.scenarios import DEMO_SCENARIO, load_scenario
from orchestrator.tools.scenarios.outcome import EXIT_BAD_SCENARIO, EXIT_OK

SCENARIOS = DEMO_SCENARIO.parent
SHIPPED = ("shouguang-day", "rencheng-3day", "flaky-tax", "lost-replies", "spring-festival-eve")
CALENDAR = WorkingCalendar.from_file()
HOLIDAY = (date(2026, 2, 15), date(2026, 2, 23))  # 春节 2026, both days included


class Run:
    """One replay: its exit code, what it printed, and its figures (the last line)."""

    def __init__(self, name: str, code: int, output: str, errors: str) -> None:
        self.name = name
        self.code = code
        self.output = output
        assert output.strip(), f"{name} printed nothing: {errors}"
        self.figures: dict[str, Any] = json.loads(output.splitlines()[-1])
        self.rows: list[dict[str, Any]] = self.figures["rows"]
        self.errors = errors

    def __repr__(self) -> str:  # what a failed assertion shows
        summary = {k: v for k, v in self.figures.items() if k != "rows"}
        return f"Run({self.name}, exit {self.code}, {summary}, stderr: {self.errors[-2000:]})"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    processes = {
        name: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "orchestrator.cli",
                "run",
                str(SCENARIOS / f"{name}.yaml"),
                "--short",
                "--json",
            ],
            cwd=tmp_path_factory.mktemp(name),
            env={**os.environ, "COLUMNS": "120"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in SHIPPED
    }
    finished = {}
    for name, process in processes.items():
        output, errors = process.communicate(timeout=240)
        finished[name] = Run(name, process.returncode, output, errors)
    return finished


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


class TestEveryScenario:
    @pytest.mark.parametrize("name", SHIPPED)
    def test_prints_only_the_figures_and_succeeds(self, runs: dict[str, Run], name: str) -> None:
        run = runs[name]
        assert run.code == EXIT_OK, run
        assert len(run.output.strip().splitlines()) == 1  # --json: nothing but the figures
        figures = run.figures
        assert figures["scenario"] == name and figures["short"]
        short = load_scenario(SCENARIOS / f"{name}.yaml").short
        assert short is not None
        assert figures["filings"] == short.filings == figures["accepted"] == figures["complete"]
        assert (figures["lost"], figures["unfiled"], figures["rejections"]) == (0, 0, 0)
        assert figures["duplicate_effects"] == figures["duplicate_subjects"] == 0
        for key in ("working_hours_to_ready", "working_hours_to_complete"):
            assert figures[key]["count"] == short.filings
            assert 0 < figures[key]["min"] <= figures[key]["p50"] <= figures[key]["max"]

    @pytest.mark.parametrize("name", SHIPPED)
    def test_working_time_is_counted_on_the_calendar(self, runs: dict[str, Run], name: str) -> None:
        for row in runs[name].rows:
            accepted, ready = instant(row["accepted_at"]), instant(row["ready_at"])
            elapsed = CALENDAR.elapsed(accepted, ready).total_seconds() / 3600
            assert row["working_hours_to_ready"] == pytest.approx(elapsed, abs=1e-3)
            calendar_hours = (ready - accepted).total_seconds() / 3600
            assert row["working_hours_to_ready"] <= calendar_hours + 1e-3  # rounded to 4 places

    @pytest.mark.parametrize("name", SHIPPED)
    def test_the_sla_of_every_filing_is_settled_and_reported(
        self, runs: dict[str, Run], name: str
    ) -> None:
        figures = runs[name].figures
        sla = figures["sla"]
        assert sla["states"]["met"] + sla["states"]["missed"] == figures["ready"]
        late = {r["tracking_code"] for r in figures["rows"] if not r["within_target"]}
        assert sla["states"]["missed"] >= len(late) - len(
            [r for r in figures["rows"] if r["supplemented"]]
        )  # a deadline extended for an applicant's wait may still be met
        for row in sla["flagged"]:  # warned before the deadline, as it stood then
            assert row["lead_working_hours"] >= 0
        error = sla["prediction_error"]
        assert 0 < error["filings"] <= figures["ready"]  # a filing predicted before ready
        assert error["every_prediction"]["median_hours"] is not None


class TestFaults:
    def test_flaky_tax_completes_everything_through_the_outage_and_faults(
        self, runs: dict[str, Run]
    ) -> None:
        run = runs["flaky-tax"]
        assert run.figures["complete"] == run.figures["filings"]
        assert run.figures["lost"] == 0 and run.figures["duplicate_effects"] == 0
        # Only the tax bureau fails, and it did: its steps were retried.
        assert run.figures["retries"] >= 1, run

    def test_lost_replies_complete_everything_and_nothing_is_done_twice(
        self, runs: dict[str, Run]
    ) -> None:
        run = runs["lost-replies"]
        assert run.figures["complete"] == run.figures["filings"]
        assert run.figures["lost"] == 0
        assert run.figures["duplicate_effects"] == run.figures["duplicate_subjects"] == 0
        assert run.figures["retries"] >= 1, run  # replies were lost, and asked after


class TestTargets:
    def test_shouguang_reports_its_share_within_half_a_working_day(
        self, runs: dict[str, Run]
    ) -> None:
        figures = runs["shouguang-day"].figures
        assert figures["target_working_days"] == 0.5
        within = [r for r in figures["rows"] if r["working_days_to_ready"] <= 0.5]
        assert figures["within_target"] == len(within)
        # The share itself depends on how busy the machine is: at ×3600 every real second
        # of lag is a scenario hour.
        assert figures["within_target_share"] == round(len(within) / figures["accepted"], 4)

    def test_rencheng_is_within_3_working_days(self, runs: dict[str, Run]) -> None:
        figures = runs["rencheng-3day"].figures
        assert figures["target_working_days"] == 3
        assert figures["within_target_share"] == 1.0, runs["rencheng-3day"]


class TestSpringFestival:
    def test_no_back_office_work_is_done_during_the_holiday(self, runs: dict[str, Run]) -> None:
        rows = runs["spring-festival-eve"].rows
        finished = [
            instant(step["finished_at"])
            for row in rows
            for step in row["steps"].values()
            if step["finished_at"]
        ]
        assert len(finished) == 8 * len(rows)
        # Had the back offices worked through the holiday, steps would finish in its office
        # hours. (OneStop may note late on Saturday night what an agency finished at 17:00:
        # on a fast clock a moment's lag is hours.)
        during = [
            at
            for at in finished
            if HOLIDAY[0] <= at.date() <= HOLIDAY[1] and time(9) <= at.time() <= time(17)
        ]
        assert not during, during
        # The make-up working Saturday before it is a working day: work goes on.
        assert any(at.date() == date(2026, 2, 14) for at in finished)

    def test_completion_spans_the_holiday_but_working_time_stays_within_target(
        self, runs: dict[str, Run]
    ) -> None:
        rows = runs["spring-festival-eve"].rows
        assert all(instant(r["accepted_at"]).date() == date(2026, 2, 13) for r in rows)
        assert all(r["within_target"] and r["working_days_to_ready"] <= 3 for r in rows)
        spanning = [r for r in rows if instant(r["completed_at"]).date() > HOLIDAY[1]]
        assert spanning, "the afternoon's filings should be delivered after the holiday"
        for row in spanning:
            calendar_days = (instant(row["completed_at"]) - instant(row["accepted_at"])).days
            assert calendar_days >= 10
            assert row["working_days_to_ready"] <= row["target_working_days"] == 3


class TestCommand:
    def test_a_bad_scenario_exits_2_naming_file_line_and_field(self, tmp_path: Path) -> None:
        text = (SCENARIOS / "flaky-tax.yaml").read_text(encoding="utf-8")
        assert text.count("transient_error_rate: 0.05") == 1
        path = tmp_path / "bad.yaml"
        path.write_text(text.replace("transient_error_rate: 0.05", "transient_error_rate: 5"))
        result = CliRunner().invoke(app, ["run", str(path), "--json"])
        assert result.exit_code == EXIT_BAD_SCENARIO
        line = text[: text.index("transient_error_rate: 0.05")].count("\n") + 1
        assert f"{path}:{line}: agencies.tax.transient_error_rate" in result.output
        assert not list(tmp_path.glob("var/*.db"))  # nothing was started

    def test_help_documents_the_short_form(self) -> None:
        result = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0
        assert "--short" in result.output and "short:" in result.output
        assert "--json" in result.output
