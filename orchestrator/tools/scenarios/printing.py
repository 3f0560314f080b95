"""What `onestop demo` and `onestop run` print alike: the title line, the scenario's time,
tables of figures and the reasons filings did not get through."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from orchestrator.tools.scenarios.models import Scenario

_WEEKDAYS = "一二三四五六日"


def scenario_time(instant: datetime, *, year: bool = True) -> str:
    """`2026-03-02 周一 09:00` (without `year`: `03-02 周一 09:00`): an instant of the scenario's
    clock, as a replay prints one."""
    day = f"{instant:%Y-%m-%d}" if year else f"{instant:%m-%d}"
    return f"{day} 周{_WEEKDAYS[instant.weekday()]} {instant:%H:%M}"


def print_title(console: Console, command: str, scenario: Scenario) -> None:
    """`OneStop 演示 demo · <scenario> · <description>`: the first line a replay prints."""
    console.print(
        Text.assemble(
            (f"OneStop {command}", "bold"),
            f" · {scenario.name} · {scenario.description_zh or scenario.description_en}",
        )
    )


def titled_table(title: str, **options: Any) -> Table:
    """A table of a replay's figures, in the style both print them: a bold title and header
    over a simple rule, no edge (`options` add to it)."""
    return Table(
        title=title,
        box=box.SIMPLE_HEAD,
        show_edge=False,
        header_style="bold",
        title_style="bold",
        **options,
    )


def print_reasons(console: Console, rows: Sequence[Mapping[str, Any]]) -> None:
    """`✘ #3 <company>: <reason>` for each of the outcome's `rows` that has a reason."""
    for row in rows:
        if row["reason"]:
            console.print(
                f"✘ #{row['number']} {row['company_name']}: {row['reason']}",
                style="red",
                markup=False,
            )
