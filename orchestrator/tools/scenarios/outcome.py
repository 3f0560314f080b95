"""What a replay came to, per filing and in figures: the outcome `onestop run` and
`onestop demo` render.

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
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from orchestrator.calendar import WorkingCalendar
from orchestrator.reference import load_reference
from orchestrator.tools.percentiles import percentile
from orchestrator.tools.scenarios.clerks import Tracked
from orchestrator.workflow import BASIC_ACCOUNT, HANDOVER_STEP, TAXPAYER, step_giving

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
class ReplayOutcome:
    """One replay's per-filing rows (`summarise`) and the agencies' effects report."""

    scenario: str
    short: bool
    scale: float
    rows: list[dict[str, Any]]
    effects: Mapping[str, Any]
    real_seconds: float
    timed_out: bool
    interrupted: bool = False
    working_day_hours: float = 7.0
    database: Path | None = None  # the SQLite file it ran on, to open afterwards
    timeout: float | None = None  # real seconds it was given
    # At-risk warnings, their lead time, and the estimates' error (`sla_report.sla_figures`).
    sla: dict[str, Any] = field(default_factory=dict)

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
            "sla": self.sla,
            "rows": self.rows,
        }


def summarise(
    filings: Sequence[Tracked], calendar: WorkingCalendar, *, timed_out: float | None
) -> list[dict[str, Any]]:
    """One summary per filing: what a summary table shows and `--json` prints.

    Working time is counted on the calendar from acceptance to ready (every agency step
    done) and to complete (licence and seals handed over); `steps` gives when each step
    finished, `retries` how often a step had to be tried again after a transient error.
    """
    reference = load_reference()
    rows = []
    for tracked in filings:
        detail = tracked.detail or {}
        target = reference.districts[tracked.plan.filing.district_code].policy.sla_working_days
        to_ready = _working_time_until(detail, "ready_at", calendar)
        to_complete = _working_time_until(detail, "completed_at", calendar)
        days = to_ready / calendar.day_length if to_ready is not None else None
        tax, bank = (
            tracked.result(step_giving(TAXPAYER)),
            tracked.result(step_giving(BASIC_ACCOUNT)),
        )
        events = [event["kind"] for event in detail.get("events", [])]
        rows.append(
            {
                "number": tracked.number,
                "tracking_code": tracked.tracking_code,
                "company_name": tracked.company_name,
                "branch_code": tracked.plan.branch_code,
                "clerk": tracked.plan.clerk_username,
                "status": tracked.status,
                "complete": tracked.status == "complete",
                "credit_code": detail.get("credit_code"),
                "bank_account_number": bank.get("account_number"),
                "bank_code": bank.get("bank_code"),
                "tax_registered": bool(tax),
                "taxpayer_type": tax.get("taxpayer_type"),
                "taxpayer_id": tax.get("taxpayer_id"),
                "delivery": tracked.result(HANDOVER_STEP),
                "accepted_at": detail.get("accepted_at"),
                "deadline_at": detail.get("deadline_at"),
                "ready_at": detail.get("ready_at"),
                "completed_at": detail.get("completed_at"),
                "working_hours_to_ready": _hours(to_ready),
                "working_days_to_ready": round(days, 4) if days is not None else None,
                "working_hours_to_complete": _hours(to_complete),
                "target_working_days": target,
                "within_target": days is not None and days <= target,
                "supplemented": list(tracked.supplemented),
                "handed_over": tracked.handed_over,
                "retries": events.count("retry_scheduled"),
                "rejections": events.count("rejected"),
                "steps": {
                    name: {"status": step["status"], "finished_at": step.get("finished_at")}
                    for name, step in tracked.steps().items()
                },
                "events": events,
                "reason": _reason(tracked, timed_out),
            }
        )
    return rows


def _working_time_until(
    detail: Mapping[str, Any], field_name: str, calendar: WorkingCalendar
) -> timedelta | None:
    if not detail.get(field_name):
        return None
    return calendar.elapsed(
        datetime.fromisoformat(detail["accepted_at"]), datetime.fromisoformat(detail[field_name])
    )


def _hours(span: timedelta | None) -> float | None:
    return round(span.total_seconds() / 3600, 4) if span is not None else None


def _reason(tracked: Tracked, timed_out: float | None) -> str | None:
    """Why a filing is not complete, in words a clerk can act on; None if it is."""
    if tracked.status == "complete":
        return None
    if tracked.refused is not None:
        return f"未受理 refused at intake: {tracked.refused}"
    if tracked.failure is not None:
        return f"操作失败 a clerk's action failed: {tracked.failure}"
    steps = tracked.steps()
    rejected = [s for s in steps.values() if s["status"] == "rejected"]
    if rejected:
        return "; ".join(
            f"{s['label_zh']} {s['name']} 驳回 rejected: {s['reason']}" for s in rejected
        )
    if tracked.status == "cancelled":
        return "已撤销 cancelled"
    when = f"after {timed_out:g}s" if timed_out is not None else "when the replay stopped"
    if tracked.detail is None:
        return f"未提交 not filed yet {when}"
    # The steps under way say where it stands; those merely waiting for them add nothing.
    open_steps = [s for s in steps.values() if s["status"] != "done"]
    under_way = [s for s in open_steps if s["status"] != "waiting"] or open_steps
    where = ", ".join(
        f"{s['name']} {s['status']}" + (f" ({s['last_error']})" if s.get("last_error") else "")
        for s in under_way
    )
    return f"未办结 not complete {when}; at: {where}"
