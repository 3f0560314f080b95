"""`onestop history` and `onestop supervision …`: a realistic history written straight into
PostgreSQL, and the officers' figures folded and benchmarked on it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from orchestrator.settings import get_settings

HISTORY_EPILOG = (
    "Example: onestop history --filings 1000000 --days 365 (how long it takes: "
    "docs/benchmarks.md). Refuses SQLite: set ONESTOP_DATABASE_URL to a PostgreSQL database."
)


def history(
    filings: Annotated[
        int, typer.Option("--filings", "-n", help="Filings to write.", min=1, max=50_000_000)
    ],
    days: Annotated[
        int,
        typer.Option(help="Calendar days back from today the filings are accepted over.", min=1),
    ] = 365,
    district: Annotated[
        list[str] | None,
        typer.Option(
            help="A district code (GB/T 2260) to file in; repeat for several "
            "(default: every district of the reference data).",
            show_default=False,
        ),
    ] = None,
    branches: Annotated[
        int,
        typer.Option(help="Branches (each with a clerk) made in a district that has none.", min=1),
    ] = 6,
    seed: Annotated[
        int, typer.Option(help="Random seed: the same seed draws the same history.")
    ] = 2026,
    batch_size: Annotated[
        int, typer.Option(help="Filings per COPY transaction.", min=100, max=100_000)
    ] = 10_000,
    jobs: Annotated[
        int, typer.Option(help="Processes drawing and copying batches side by side.", min=1)
    ] = 2,
) -> None:
    """Write a realistic history straight into PostgreSQL, for demos and benchmarks.

    Filings accepted in office hours over the last DAYS days at each district's branches
    (made, with clerks and an officer, where a district has none), their steps timed from the
    reference working times on the working-day calendar, some 容缺 materials still missing,
    the recent filings still open, ratings (好差评) with their follow-ups, the events the
    dashboards read, and the supervision summary. Progress goes to stderr; exits 2 on SQLite.
    History filings are not resumed: no worker takes up their open steps.
    """
    from orchestrator.migrations import migrate as run_migrations
    from orchestrator.runtime import current
    from orchestrator.tools.history import (
        HistoryOptions,
        HistoryRefused,
        check_database,
        write_history,
    )

    settings = get_settings()
    options = HistoryOptions(
        filings=filings,
        days=days,
        districts=tuple(district or ()),
        branches_per_district=branches,
        batch_size=batch_size,
        seed=seed,
        jobs=jobs,
    )

    def progress(done: int, total: int, seconds: float) -> None:
        rate = done / seconds if seconds else 0.0
        left = (total - done) / rate if rate else 0.0
        typer.echo(
            f"history: {done:,}/{total:,} filings ({done / total:.0%}), {seconds:,.0f} s,"
            f" {rate:,.0f}/s, ~{left:,.0f} s left",
            err=True,
        )

    try:
        check_database(settings)
        run_migrations(settings.database_url)
        rt = current()
        report = write_history(
            settings, options, calendar=rt.calendar, clock=rt.clock, progress=progress
        )
    except HistoryRefused as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from error
    typer.echo(
        f"{report.filings:,} filings, {report.steps:,} steps, {report.materials:,} 容缺"
        f" materials, {report.events:,} events, {report.ratings:,} ratings,"
        f" {report.follow_ups:,} follow-ups, {report.subsidy_entries:,} subsidy entries,"
        f" {report.summary_rows:,} summary rows in"
        f" {report.seconds:,.1f} s ({report.filings_per_second:,.0f} filings/s)"
    )


app = typer.Typer(
    help="The officers' supervision figures: fold them, benchmark them.", no_args_is_help=True
)


@app.command("fold")
def supervision_fold(
    start: Annotated[
        datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First China day to fold.")
    ],
    end: Annotated[
        datetime | None,
        typer.Option("--to", formats=["%Y-%m-%d"], help="Last day (default: today)."),
    ] = None,
) -> None:
    """Fold the days from --from to --to afresh into the figures (beat folds the last two)."""
    from orchestrator.runtime import current
    from orchestrator.supervision.fold import fold_days

    rt = current()
    last = end.date() if end else rt.clock.now().date()
    with rt.database.transaction() as session:
        rows = fold_days(session, start.date(), last, calendar=rt.calendar)
    typer.echo(f"folded {start.date()} to {last}: {rows} summary rows")


@app.command("bench")
def supervision_bench(
    requests: Annotated[int, typer.Option(help="Timed requests per endpoint.", min=1)] = 100,
    district: Annotated[
        str | None, typer.Option(help="District to ask about (default: the busiest).")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Time every /api/v1/supervision endpoint and every view of the dashboard (p50, p95) on
    the configured database, after `onestop history`; and one beat's fold. Run by hand;
    figures go in docs/benchmarks.md."""
    import dataclasses
    import json

    from orchestrator.runtime import current
    from orchestrator.tools.supervision_bench import run_bench

    figures = run_bench(
        current(),
        district_code=district,
        requests=requests,
        progress=None if json_output else lambda line: typer.echo(line, err=True),
    )
    if json_output:
        typer.echo(json.dumps(dataclasses.asdict(figures)))
        return
    typer.echo(
        f"{figures.filings:,} filings, {figures.district_filings:,} in {figures.district_code}"
    )
    typer.echo(f"{'endpoint':<20} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for row in [*figures.endpoints, *figures.views]:
        typer.echo(
            f"{row.endpoint:<20} {row.requests:>5} {row.p50_ms:>8} {row.p95_ms:>8} {row.max_ms:>8}"
        )
    typer.echo(f"fold of yesterday and today: {figures.fold_seconds} s, {figures.fold_rows} rows")
