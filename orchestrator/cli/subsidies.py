"""`onestop subsidies …`: a district's monthly reimbursement report per vendor (text, CSV or
PDF) and an officer's approval of it, which closes the month.

The rules live in `orchestrator.subsidies`; this module reads the options, commits, prints.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from orchestrator.cli.tokens import configured_runtime, fail
from orchestrator.errors import DomainError

if TYPE_CHECKING:
    from orchestrator.subsidies.reimbursement import Report

app = typer.Typer(
    help="补贴 / Subsidies: monthly reimbursement of free seals and courier, per vendor.",
    epilog="Exit codes: 0 = done; 2 = invalid input (unknown district, a month not ended or"
    " already approved, someone not an officer of the district).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

District = Annotated[str, typer.Option("--district", help="GB/T 2260 code, e.g. 370783.")]
Month = Annotated[str, typer.Option("--month", help="Calendar month in China, e.g. 2026-12.")]


def _checked(district: str, month: str) -> str:
    """The district's name; a bilingual error for an unknown district or a malformed month."""
    from orchestrator.reference import load_reference

    if not re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", month):
        fail(f"月份格式应为 YYYY-MM：{month}", f"the month must read YYYY-MM: {month}")
    known = load_reference().districts.get(district)
    if known is None:
        fail(f"未知区县 {district}", f"unknown district {district}")
    return known.name_zh


@app.command("report")
def report_command(
    district: District,
    month: Month,
    vendor: Annotated[
        str | None, typer.Option("--vendor", help="Only this vendor (seal, courier).")
    ] = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on standard output.")] = False,
    as_pdf: Annotated[
        bool, typer.Option("--pdf", help="PDF on standard output (or --output).")
    ] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here.")] = None,
) -> None:
    """What the district owes each vendor for MONTH: every settled item and a total each."""
    from orchestrator.subsidies import reimbursement

    name = _checked(district, month)
    if as_csv and as_pdf:
        fail("--csv 与 --pdf 只能选一个", "give --csv or --pdf, not both")
    rt = configured_runtime()
    with rt.database.reading() as session:
        month_report = reimbursement.report(
            session.connection(), district_code=district, period=month, vendor=vendor
        )
    if as_pdf:
        data = reimbursement.to_pdf(month_report, district_name=name)
    elif as_csv:
        data = reimbursement.to_csv(month_report).encode()
    else:
        data = _summary(month_report, name).encode()
    if output is not None:
        output.write_bytes(data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


def _summary(r: Report, name: str) -> str:
    from orchestrator.subsidies.reimbursement import yuan

    state = "not approved"
    if r.approved_at is not None:
        state = f"approved {r.approved_at:%Y-%m-%d %H:%M} by {r.approved_by}"
    lines = [
        f"{name} {r.district_code} {r.period}: {state}",
        f"budget ¥{yuan(r.budget_fen)}, committed ¥{yuan(r.committed_fen)}, "
        f"settled ¥{yuan(r.settled_fen)}",
        *(f"  {v.vendor}: {v.items} items, ¥{yuan(v.amount_fen)}" for v in r.vendors),
        f"total ¥{yuan(r.total_fen)}",
    ]
    return "\n".join(lines) + "\n"


@app.command("approve")
def approve_command(
    district: District,
    month: Month,
    by: Annotated[str, typer.Option("--by", help="The approving officer's username.")],
) -> None:
    """Approve MONTH's reimbursement report as the officer BY: the month is closed for good."""
    from orchestrator.identity.service import staff_named
    from orchestrator.subsidies import reimbursement
    from orchestrator.subsidies.reimbursement import yuan

    _checked(district, month)
    rt = configured_runtime()
    try:
        with rt.database.transaction() as session:
            officer = staff_named(session, by)
            approved = reimbursement.approve(
                session.connection(),
                district_code=district,
                period=month,
                officer=officer,
                now=rt.clock.now(),
            )
    except DomainError as error:
        fail(error.message_zh, error.message_en)
    typer.echo(
        f"已审核 {district} {month}：¥{yuan(approved.total_fen)} / approved {district} {month}:"
        f" ¥{yuan(approved.total_fen)} to {len(approved.vendors)} vendor(s)"
    )
