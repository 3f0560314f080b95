"""`onestop subsidies report` and `onestop subsidies approve` on the embedded OneStop."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.runtime import Runtime
from orchestrator.subsidies import ledger, reimbursement
from tests.filings import complete, file, wait_for
from tests.people import BranchStaff

runner = CliRunner()


@pytest.mark.usefixtures("ample_budget")
def test_the_report_sums_as_the_ledger_in_each_form(
    onestop: Runtime, branch_staff: BranchStaff, tmp_path: Path
) -> None:
    wait_for(onestop, file(onestop, branch_staff), complete)
    month = ledger.period_of(onestop.clock.now())
    args = ["subsidies", "report", "--district", "370783", "--month", month]
    text = runner.invoke(app, args)
    assert text.exit_code == 0, text.output
    with onestop.database.reading() as session:
        expected = reimbursement.report(session.connection(), district_code="370783", period=month)
    assert f"total ¥{reimbursement.yuan(expected.total_fen)}" in text.output
    csv = runner.invoke(app, [*args, "--csv"])
    totals = [row.split(",") for row in csv.output.splitlines() if ",TOTAL," in row]
    assert sum(int(row[4]) for row in totals) == expected.settled_fen > 0
    pdf = runner.invoke(app, [*args, "--pdf", "--output", str(tmp_path / "r.pdf")])
    assert pdf.exit_code == 0 and (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")


def test_an_officer_approves_an_ended_month_once(
    onestop: Runtime, branch_staff: BranchStaff
) -> None:
    args = ["subsidies", "approve", "--district", "370783", "--month", "2001-03"]
    refused = runner.invoke(app, [*args, "--by", "sunli"])  # Rencheng's officer
    assert refused.exit_code == 2
    approved = runner.invoke(app, [*args, "--by", "zhaojing"])
    assert approved.exit_code == 0, approved.output
    again = runner.invoke(app, [*args, "--by", "zhaojing"])
    assert again.exit_code == 2 and "already been approved" in again.output
