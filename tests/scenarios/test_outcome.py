"""The figures `onestop run` reports, from per-filing rows and the agencies' effects."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.tools.scenarios.outcome import (
    EXIT_INTERRUPTED,
    EXIT_LOST_OR_DUPLICATED,
    EXIT_OK,
    ReplayOutcome,
    distribution,
)

NO_DUPLICATES = {"duplicates": 0, "subject_duplicates": 0}


def row(number: int, status: str = "complete", **fields: Any) -> dict[str, Any]:
    """A filing's summary as `replay.summarise` gives it; complete in 3 working hours."""
    done = status == "complete"
    return {
        "number": number,
        "tracking_code": f"OS{number:010d}",
        "status": status,
        "complete": done,
        "accepted_at": "2026-11-24T16:00:00+08:00",
        "ready_at": "2026-11-25T11:00:00+08:00" if done else None,
        "completed_at": "2026-11-25T15:00:00+08:00" if done else None,
        "working_hours_to_ready": 3.0 if done else None,
        "working_hours_to_complete": 6.0 if done else None,
        "target_working_days": 0.5,
        "within_target": done,
        "retries": 0,
        "rejections": 0,
        "reason": None if done else "未办结 not complete",
    } | fields


def outcome(rows: list[dict[str, Any]], effects: dict[str, int] = NO_DUPLICATES) -> ReplayOutcome:
    return ReplayOutcome(
        scenario="s",
        short=True,
        scale=600,
        rows=rows,
        effects=effects,
        real_seconds=1.0,
        timed_out=False,
    )


class TestFigures:
    def test_working_and_calendar_hours_to_ready_and_complete(self) -> None:
        figures = outcome(
            [row(1), row(2, working_hours_to_ready=5.0, within_target=False)]
        ).figures()
        assert figures["working_hours_to_ready"]["count"] == 2
        assert figures["working_hours_to_ready"]["max"] == 5.0
        assert figures["working_hours_to_complete"]["p50"] == 6.0
        assert figures["calendar_hours_to_ready"]["min"] == 19.0  # 16:00 → 11:00 next day
        assert figures["calendar_hours_to_complete"]["min"] == 23.0
        assert (figures["within_target"], figures["within_target_share"]) == (1, 0.5)
        assert figures["target_working_days"] == 0.5

    def test_retries_and_rejections_are_summed(self) -> None:
        rows = [row(1, retries=3), row(2, retries=1), row(3, "action_required", rejections=1)]
        figures = outcome(rows).figures()
        assert (figures["retries"], figures["filings_retried"]) == (4, 2)
        assert figures["rejections"] == 1


class TestExitCode:
    def test_all_complete_and_no_duplicate_is_ok(self) -> None:
        result = outcome([row(1), row(2)])
        assert result.exit_code == EXIT_OK and result.figures()["ok"]

    def test_an_accepted_filing_left_under_way_is_lost(self) -> None:
        result = outcome([row(1), row(2, "accepted")])
        assert result.exit_code == EXIT_LOST_OR_DUPLICATED
        assert result.figures()["lost"] == 1
        assert result.figures()["lost_filings"] == ["OS0000000002"]

    def test_a_filing_stopped_for_the_clerk_is_not_lost(self) -> None:
        result = outcome([row(1), row(2, "action_required", rejections=1)])
        assert result.figures()["lost"] == 0 and result.exit_code == EXIT_OK

    def test_a_filing_never_accepted_fails_the_run(self) -> None:
        result = outcome([row(1), row(2, "refused", tracking_code=None)])
        assert result.exit_code == EXIT_LOST_OR_DUPLICATED
        assert result.figures()["unfiled"] == 1

    @pytest.mark.parametrize("key", ["duplicates", "subject_duplicates"])
    def test_a_duplicate_effect_fails_the_run(self, key: str) -> None:
        result = outcome([row(1)], {**NO_DUPLICATES, key: 1})
        assert result.exit_code == EXIT_LOST_OR_DUPLICATED

    def test_interrupted(self) -> None:
        result = outcome([row(1)])
        result.interrupted = True
        assert result.exit_code == EXIT_INTERRUPTED


class TestDistribution:
    def test_empty(self) -> None:
        assert distribution([]) == {
            "count": 0,
            **dict.fromkeys(("min", "p50", "p90", "p95", "max", "mean")),
        }

    @given(st.lists(st.floats(0, 1000, allow_nan=False), min_size=1, max_size=50))
    def test_ordered_and_within_range(self, values: list[float]) -> None:
        d = distribution(values)
        assert d["count"] == len(values)
        quantiles = [d[q] for q in ("min", "p50", "p90", "p95", "max")]
        numbers = [float(q) for q in quantiles if q is not None]
        assert len(numbers) == 5 and numbers == sorted(numbers)

    def test_percentiles_interpolate_as_the_benchmark_does(self) -> None:
        d = distribution([float(n) for n in range(1, 21)])
        assert (d["p50"], d["p90"], d["p95"]) == (10.5, 18.1, 19.05)
