"""`onestop predictions report`: how far the predicted ready times were from the real ones."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer

from orchestrator import runtime
from orchestrator.tracker.predictions import error_report

app = typer.Typer(
    help="预计办结时间 / Completion estimates: the error of past predictions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


@app.command()
def report(
    since: Annotated[
        datetime | None,
        typer.Option("--since", help="Only predictions made from this instant (ISO-8601)."),
    ] = None,
    district: Annotated[
        str | None, typer.Option("--district", help="Only filings of this district (GB/T 2260).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Median and p90 absolute error, in working hours, of the predicted ready times of the
    filings now ready: over every prediction recorded, and over each filing's first."""
    rt = runtime.current()
    with rt.database.transaction() as session:
        figures = error_report(session, rt.calendar, since=since, district_code=district)
    if as_json:
        typer.echo(json.dumps(figures, ensure_ascii=False))
        return
    typer.echo(f"就绪申请 filings ready with predictions: {figures['filings']}")
    for key, label in (("every_prediction", "每次预测 every prediction"),
                       ("first_prediction", "首次预测 first prediction")):  # fmt: skip
        part = figures[key]
        if not part["count"]:
            typer.echo(f"{label}: —")
            continue
        typer.echo(
            f"{label}: n={part['count']}  绝对误差中位数 median {part['median_hours']:.2f} h"
            f"  p90 {part['p90_hours']:.2f} h (工作小时 working hours)"
        )
