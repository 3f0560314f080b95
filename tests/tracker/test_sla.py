"""The SLA state and the prediction, judged on the working calendar without a database."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from orchestrator.calendar import WorkingCalendar, default_calendar
from orchestrator.clock import CHINA
from orchestrator.filings.blocked_time import uncounted
from orchestrator.filings.models import FilingStatus, SlaState, StepStatus
from orchestrator.tracker.predictions import OVERRUN_SHARE, Durations, StepState, forecast
from orchestrator.tracker.sla import judge

CAL: WorkingCalendar = default_calendar()
HOUR = timedelta(hours=1)


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=CHINA)


# A Tuesday morning filing with a Shouguang-like half-day deadline (3.5 working hours).
ACCEPTED = at(11, 24, 9)
DEADLINE = CAL.add(ACCEPTED, timedelta(hours=3, minutes=30))  # 13:30 (lunch is not work)


def _judge(now: datetime, predicted: datetime, **kwargs: object) -> SlaState | None:
    arguments: dict[str, object] = {
        "status": FilingStatus.ACCEPTED,
        "ready_at": None,
        "deadline": DEADLINE,
        "predicted_ready": predicted,
        "now": now,
        "calendar": CAL,
    }
    arguments.update(kwargs)
    return judge(**arguments)  # type: ignore[arg-type]


class TestJudge:
    def test_deadline_falls_after_lunch(self) -> None:
        assert at(11, 24, 13, 30) == DEADLINE

    def test_on_track_while_predicted_by_the_deadline(self) -> None:
        assert _judge(at(11, 24, 10), at(11, 24, 12)) == SlaState.ON_TRACK

    def test_at_risk_when_the_prediction_passes_the_deadline(self) -> None:
        assert _judge(at(11, 24, 10), at(11, 24, 14)) == SlaState.AT_RISK

    def test_breached_once_the_deadline_passed_unready(self) -> None:
        assert _judge(at(11, 24, 13, 31), at(11, 24, 15)) == SlaState.BREACHED

    @pytest.mark.parametrize(
        ("ready", "state"),
        [(at(11, 24, 13, 30), SlaState.MET), (at(11, 24, 13, 31), SlaState.MISSED)],
    )
    def test_met_or_missed_once_ready(self, ready: datetime, state: SlaState) -> None:
        later = at(11, 26, 9)
        assert _judge(later, ready, ready_at=ready, status=FilingStatus.READY) == state

    def test_cancelled_has_no_state(self) -> None:
        assert _judge(at(11, 24, 10), at(11, 24, 12), status=FilingStatus.CANCELLED) is None

    def test_at_risk_stays_until_the_prediction_clears_the_deadline_by_a_margin(self) -> None:
        close = at(11, 24, 13, 25)  # five working minutes to spare
        assert _judge(at(11, 24, 10), close, previous=SlaState.AT_RISK) == SlaState.AT_RISK
        assert _judge(at(11, 24, 10), close, previous=SlaState.ON_TRACK) == SlaState.ON_TRACK
        clear = at(11, 24, 13)
        assert _judge(at(11, 24, 10), clear, previous=SlaState.AT_RISK) == SlaState.ON_TRACK


GRAPH = [["registration", []], ["seal", ["registration"]], ["tax", ["registration"]],
         ["delivery", ["seal", "tax"]]]  # fmt: skip
DURATIONS = {"registration": HOUR, "seal": 2 * HOUR, "tax": HOUR, "delivery": 7 * HOUR}


def _steps(**states: tuple[StepStatus, datetime | None, datetime | None]) -> dict[str, StepState]:
    steps = {name: StepState(name, StepStatus.WAITING, None, None) for name, _ in GRAPH}
    steps.update({name: StepState(name, *state) for name, state in states.items()})
    return steps


class TestForecast:
    def test_a_new_filing_is_ready_after_its_critical_path(self) -> None:
        steps = _steps(registration=(StepStatus.READY, None, None))
        predicted = forecast(GRAPH, steps, DURATIONS.__getitem__, now=ACCEPTED, calendar=CAL)
        assert predicted.ready_at == at(11, 24, 12)  # 1 h + 2 h, to the lunch break
        assert predicted.complete_at == at(11, 25, 12)  # delivery: a working day more

    def test_steps_done_and_under_way_count_from_where_they_stand(self) -> None:
        steps = _steps(
            registration=(StepStatus.DONE, ACCEPTED, at(11, 24, 9, 30)),
            seal=(StepStatus.RUNNING, at(11, 24, 9, 30), None),
            tax=(StepStatus.DONE, at(11, 24, 9, 30), at(11, 24, 10)),
        )
        now = at(11, 24, 10, 30)  # seal has run an hour of its two
        predicted = forecast(GRAPH, steps, DURATIONS.__getitem__, now=now, calendar=CAL)
        assert predicted.ready_at == at(11, 24, 11, 30)

    def test_an_overrunning_step_still_needs_a_share_of_its_time(self) -> None:
        steps = _steps(
            registration=(StepStatus.DONE, ACCEPTED, at(11, 24, 9, 30)),
            seal=(StepStatus.SUBMITTED, at(11, 24, 9, 30), None),
            tax=(StepStatus.DONE, at(11, 24, 9, 30), at(11, 24, 10)),
        )
        now = at(11, 24, 16)  # five working hours into a two-hour step
        predicted = forecast(GRAPH, steps, DURATIONS.__getitem__, now=now, calendar=CAL)
        assert predicted.ready_at == now + 2 * HOUR * OVERRUN_SHARE

    def test_a_blocked_step_is_predicted_as_if_its_material_came_now(self) -> None:
        steps = _steps(
            registration=(StepStatus.DONE, ACCEPTED, at(11, 24, 9, 30)),
            seal=(StepStatus.DONE, at(11, 24, 9, 30), at(11, 24, 11)),
            tax=(StepStatus.BLOCKED, at(11, 24, 9, 30), None),
        )
        now = at(11, 27, 16, 30)  # a Friday: the hour of tax runs into Monday
        predicted = forecast(GRAPH, steps, DURATIONS.__getitem__, now=now, calendar=CAL)
        assert predicted.ready_at == at(11, 30, 9, 30)

    def test_a_ready_filing_keeps_its_ready_time(self) -> None:
        done = {name: (StepStatus.DONE, ACCEPTED, at(11, 24, 12)) for name, _ in GRAPH[:-1]}
        steps = _steps(**done, delivery=(StepStatus.RUNNING, at(11, 24, 12), None))
        predicted = forecast(
            GRAPH, steps, DURATIONS.__getitem__, now=at(11, 24, 14), calendar=CAL,
            ready_at=at(11, 24, 12),
        )  # fmt: skip
        assert predicted.ready_at == at(11, 24, 12)
        assert predicted.complete_at == at(11, 25, 12)


class TestBlockedTime:
    def test_blocked_over_a_weekend_counts_working_time_only(self) -> None:
        since, worked = uncounted(CAL, [at(11, 27, 16)], None, at(11, 30, 10))
        assert since == at(11, 27, 16) and worked == 2 * HOUR  # Friday 16–17, Monday 9–10

    def test_blocked_over_the_national_day_holiday(self) -> None:
        # 1–7 October off; the 8th a working Thursday.
        _, worked = uncounted(CAL, [at(9, 30, 16)], None, at(10, 8, 10))
        assert worked == 2 * HOUR

    def test_steps_blocked_at_once_count_once_from_the_earliest(self) -> None:
        _, worked = uncounted(CAL, [at(11, 24, 10), at(11, 24, 9)], None, at(11, 24, 11))
        assert worked == 2 * HOUR

    def test_time_already_credited_is_not_credited_again(self) -> None:
        since, worked = uncounted(CAL, [at(11, 24, 9)], at(11, 24, 10), at(11, 24, 11))
        assert since == at(11, 24, 10) and worked == HOUR

    def test_nothing_blocked_nothing_to_credit(self) -> None:
        assert uncounted(CAL, [], None, at(11, 24, 11)) == (None, timedelta(0))


class TestRemaining:
    def test_a_late_step_needs_what_the_slow_tail_took(self) -> None:
        samples = {"seal": (1800, 2400, 3000, 3600, 7200, 9000, 10800)}
        durations = Durations(DURATIONS.__getitem__, samples)
        # Run an hour: of the durations longer than that, the median is 9000 s.
        assert durations.remaining("seal", HOUR) == timedelta(seconds=9000) - HOUR

    def test_without_a_tail_to_go_by_a_share_of_the_expected_time(self) -> None:
        durations = Durations(DURATIONS.__getitem__, {"seal": (1800, 2400)})
        assert durations.remaining("seal", 5 * HOUR) == 2 * HOUR * OVERRUN_SHARE
        assert durations.remaining("seal", HOUR) == HOUR
