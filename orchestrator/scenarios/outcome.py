"""What a replay came to, in figures: the outcome `onestop run` reports.

Working time from acceptance to ready (every agency step done: the SLA clock stops) and to
complete (licence and seals handed over), as distributions in working hours; the share of
accepted filings ready within their district's target; retries and rejections; filings
lost (accepted, then neither complete nor stopped for a clerk to act); and the effects the
agencies counted twice (`/_sim/effects`). A replay is good when nothing was lost, nothing
was done twice and every filing was filed.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from orchestrator.percentiles import percentile

EXIT_OK = 0
EXIT_LOST_OR_DUPLICATED = 1
# Shared with `onestop demo`.
EXIT_BAD_SCENARIO = 2
EXIT_INTERRUPTED = 130

# Statuses in which a filing is accounted for: done, or stopped with a reason for a clerk.
_ACCOUNTED = ("complete", "action_required", "cancelled")


def distribution(values: Sequence[float]) -> dict[str, float | int | None]:
    """Count, min, median, p90, p95, max and mean of `values` (None for each when empty)."""
    if not values:
        return dict.fromkeys(("min", "p50", "p90", "p95", "max", "mean"), None) | {"count": 0}
    return {
        "count": len(values),
        "min": round(min(values), 3),
        "p50": round(percentile(values, 50), 3),
        "p90": round(percentile(values, 90), 3),
        "p95": round(percentile(values, 95), 3),
        "max": round(max(values), 3),
        "mean": round(statistics.fmean(values), 3),
    }


def _calendar_hours(row: Mapping[str, Any], until: str) -> float | None:
    if not row.get(until) or not row.get("accepted_at"):
        return None
    span = datetime.fromisoformat(row[until]) - datetime.fromisoformat(row["accepted_at"])
    return round(span.total_seconds() / 3600, 4)


@dataclass
class RunOutcome:
    """One replay's per-filing rows (`replay.summarise`) and the agencies' effects report."""

    scenario: str
    short: bool
    scale: float
    rows: list[dict[str, Any]]
    effects: Mapping[str, Any]
    real_seconds: float
    timed_out: bool
    interrupted: bool = False
    working_day_hours: float = 7.0

    @property
    def accepted(self) -> list[dict[str, Any]]:
        """The filings OneStop accepted (they have a tracking code)."""
        return [row for row in self.rows if row["tracking_code"]]

    @property
    def lost(self) -> list[dict[str, Any]]:
        """Accepted filings neither complete nor stopped with a reason for a clerk."""
        return [row for row in self.accepted if row["status"] not in _ACCOUNTED]

    @property
    def unfiled(self) -> list[dict[str, Any]]:
        """Filings never accepted: refused at intake, or not yet filed when the run stopped."""
        return [row for row in self.rows if not row["tracking_code"]]

    @property
    def duplicate_effects(self) -> int:
        """Real-world actions an agency took more than once, per key and per subject."""
        return int(self.effects.get("duplicates", 0)) + int(
            self.effects.get("subject_duplicates", 0)
        )

    @property
    def exit_code(self) -> int:
        """0 if nothing was lost or done twice and every filing was filed; 130 if interrupted."""
        if self.interrupted:
            return EXIT_INTERRUPTED
        if self.lost or self.unfiled or self.duplicate_effects:
            return EXIT_LOST_OR_DUPLICATED
        return EXIT_OK

    def figures(self) -> dict[str, Any]:
        """The outcome as one JSON-ready object (the last line of `onestop run --json`)."""
        accepted = self.accepted
        ready_hours = [r["working_hours_to_ready"] for r in accepted if r["ready_at"]]
        complete_hours = [r["working_hours_to_complete"] for r in accepted if r["completed_at"]]
        targets = sorted({r["target_working_days"] for r in self.rows})
        within = sum(1 for r in accepted if r["within_target"])
        return {
            "scenario": self.scenario,
            "short": self.short,
            "scale": self.scale,
            "ok": self.exit_code == EXIT_OK,
            "exit_code": self.exit_code,
            "real_seconds": round(self.real_seconds, 2),
            "timed_out": self.timed_out,
            "filings": len(self.rows),
            "accepted": len(accepted),
            "ready": sum(1 for r in accepted if r["ready_at"]),
            "complete": sum(1 for r in accepted if r["complete"]),
            "working_hours_to_ready": distribution(ready_hours),
            "working_hours_to_complete": distribution(complete_hours),
            "calendar_hours_to_ready": distribution(
                [h for r in accepted if (h := _calendar_hours(r, "ready_at")) is not None]
            ),
            "calendar_hours_to_complete": distribution(
                [h for r in accepted if (h := _calendar_hours(r, "completed_at")) is not None]
            ),
            "target_working_days": targets[0] if len(targets) == 1 else targets,
            "working_day_hours": self.working_day_hours,
            "within_target": within,
            "within_target_share": round(within / len(accepted), 4) if accepted else None,
            "retries": sum(r["retries"] for r in self.rows),
            "filings_retried": sum(1 for r in self.rows if r["retries"]),
            "rejections": sum(r["rejections"] for r in self.rows),
            "refused_at_intake": sum(1 for r in self.rows if r["status"] == "refused"),
            "lost": len(self.lost),
            "lost_filings": [r["tracking_code"] for r in self.lost],
            "unfiled": len(self.unfiled),
            "duplicate_effects": int(self.effects.get("duplicates", 0)),
            "duplicate_subjects": int(self.effects.get("subject_duplicates", 0)),
            "rows": self.rows,
        }
