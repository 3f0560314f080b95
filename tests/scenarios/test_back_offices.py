"""Back offices in working time: when an agency's work is done on a replay's scaled clock."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.base import Pending
from integrations.registry import build_adapters
from integrations.simulators.app import SimulatorConfig, create_app
from integrations.simulators.engine import AgencySimulator, Behaviour, wall_clock
from integrations.simulators.server import serve_in_thread
from orchestrator.calendar import WorkingCalendar
from orchestrator.clock import CHINA, Clock
from orchestrator.tools.scenarios.back_offices import OfficeHours
from tests.integrations.agency_factories import new_key, seal_request
from tests.integrations.test_simulators import FakeClock, _Counter

CALENDAR = WorkingCalendar.from_file()
HOUR = 3600.0


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CHINA)


def office_hours_from(origin: datetime, scale: float = 1.0) -> OfficeHours:
    """The model on a clock that shows `origin` now (drifting by real time × scale)."""
    clock = Clock(origin=origin, scale=scale, real_start=time.time())
    return OfficeHours(CALENDAR, lambda: clock)


class TestDoneAt:
    @pytest.mark.parametrize(
        ("start", "work", "done"),
        [
            # 16:30 on a Tuesday, 3 h of work: 30 min today, 2 h 30 tomorrow morning.
            ("2026-11-24T16:30", 3, "2026-11-25T11:30"),
            # Friday afternoon: nothing happens over the weekend.
            ("2026-11-27T16:30", 3, "2026-11-30T11:30"),
            # The lunch break does not count.
            ("2026-11-24T11:00", 2, "2026-11-24T14:00"),
            # Sent at night: work starts when the office opens.
            ("2026-11-24T20:00", 1, "2026-11-25T10:00"),
            # 13 Feb 2026 is a Friday, 14 Feb a make-up working Saturday: work goes on.
            ("2026-02-13T16:00", 4, "2026-02-14T12:00"),
            # ...then nothing from 15 to 23 Feb (Spring Festival): it resumes on the 24th.
            ("2026-02-14T16:00", 3, "2026-02-24T11:00"),
        ],
    )
    def test_work_advances_only_in_office_hours(self, start: str, work: float, done: str) -> None:
        model = office_hours_from(at(start))
        assert model.done_at(at(start), timedelta(hours=work)) == at(done)
        assert model.delay(at(start), work * HOUR, 1.0) == (at(done) - at(start)).total_seconds()

    def test_the_scale_divides_the_wait_and_the_work(self) -> None:
        start, done = at("2026-11-27T16:30"), at("2026-11-30T11:30")
        model = office_hours_from(start, scale=600)
        # 3 h of work is 18 real seconds at ×600; it is done 67 scenario hours later.
        assert model.delay(start, 18.0, 600) == pytest.approx((done - start).total_seconds() / 600)

    def test_negative_work_is_refused(self) -> None:
        with pytest.raises(ValueError, match="negative"):
            office_hours_from(at("2026-11-24T10:00")).delay(at("2026-11-24T10:00"), -1, 1)


_instants = st.builds(
    lambda day, minute: (
        datetime.combine(day, datetime.min.time(), CHINA) + timedelta(minutes=minute)
    ),
    st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 11, 30)),
    st.integers(min_value=0, max_value=24 * 60 - 1),
)
# Work in real seconds on a clock ×scale: up to 2 working days of scenario time.
_scales = st.sampled_from([1.0, 60.0, 600.0, 1440.0, 3600.0])
_scenario_work = st.floats(min_value=0, max_value=2 * 7 * HOUR, allow_nan=False)
SETTINGS = settings(max_examples=200, deadline=None)


@dataclass(frozen=True)
class _Job:
    """Work handed to an agency at `now`: `work` real seconds on a clock ×`scale`."""

    now: datetime
    work: float
    scale: float

    def delay(self) -> float:
        """The real seconds office hours make the agency take."""
        return office_hours_from(self.now, self.scale).delay(self.now, self.work, self.scale)


_jobs = st.builds(
    lambda now, scenario_work, scale: _Job(now, scenario_work / scale, scale),
    _instants,
    _scenario_work,
    _scales,
)


class TestOfficeHoursProperties:
    @SETTINGS
    @given(job=_jobs)
    def test_the_working_time_until_done_is_the_work(self, job: _Job) -> None:
        done = job.now + timedelta(seconds=job.delay() * job.scale)
        elapsed = CALENDAR.elapsed(job.now, done).total_seconds()
        assert elapsed == pytest.approx(job.work * job.scale, abs=1e-3)

    @SETTINGS
    @given(job=_jobs)
    def test_never_sooner_than_wall_clock_and_done_in_office_time(self, job: _Job) -> None:
        delay = job.delay()
        assert delay >= wall_clock(job.work) - 1e-6
        done = job.now + timedelta(seconds=round(delay * job.scale, 3))
        period_end = any(done.time() == end for _, end in CALENDAR.office_hours)
        assert CALENDAR.is_office_time(done) or (period_end and CALENDAR.is_workday(done))

    @SETTINGS
    @given(now=_instants, works=st.lists(_scenario_work, min_size=2, max_size=2), scale=_scales)
    def test_more_work_is_never_done_sooner(
        self, now: datetime, works: list[float], scale: float
    ) -> None:
        model = office_hours_from(now, scale)
        less, more = (work / scale for work in sorted(works))
        assert model.delay(now, less, scale) <= model.delay(now, more, scale)

    @SETTINGS
    @given(work=st.floats(min_value=0, max_value=1e7, allow_nan=False))
    def test_the_default_counts_every_second(self, work: float) -> None:
        assert wall_clock(work) == work


class TestAgencyInWorkingTime:
    def test_a_request_at_1630_with_3h_of_work_is_ready_at_1130_next_working_day(self) -> None:
        engine_clock = FakeClock()
        friday = at("2026-11-27T16:30")
        sim = AgencySimulator(
            _Counter,
            behaviour=Behaviour(latency_ms=3 * HOUR * 1000),
            seed=1,
            clock=engine_clock,
            time_model=office_hours_from(friday),
        )
        record = sim.accept("k", {"verdict": "done"})
        wait = (at("2026-11-30T11:30") - friday).total_seconds()
        assert record.ready_at - record.accepted_at == pytest.approx(wait, abs=0.01)
        assert not sim.answers_synchronously(record)
        engine_clock.now += wait - 60  # Monday 11:29: still at work
        assert sim.view(record).state == "processing"
        assert sim.view(record).retry_after == pytest.approx(60, abs=0.01)
        engine_clock.now += 60
        assert sim.view(record).state == "done"
        assert sim.effects() == {"k": 1}

    def test_over_the_wire_the_agency_answers_processing_until_after_the_holiday(self) -> None:
        # ×3600: Saturday 14 Feb 2026 16:00 (a make-up working day) + 3 h of work is ready at
        # 11:00 on 24 Feb, after the Spring Festival: 235 scenario hours, 235 real seconds.
        saturday = at("2026-02-14T16:00")
        config = SimulatorConfig(
            seed=7, agencies=("seal",), behaviours={"seal": Behaviour(latency_ms=3000)}
        )
        server = serve_in_thread(
            create_app(config, time_model=office_hours_from(saturday, scale=3600))
        )
        try:
            adapter = build_adapters(server.base_url, timeout=5)["seal"]
            outcome = adapter.submit(seal_request(), idempotency_key=new_key())
        finally:
            server.stop()
        assert isinstance(outcome, Pending)
        wait = (at("2026-02-24T11:00") - saturday).total_seconds() / 3600
        assert outcome.retry_after == pytest.approx(wait, abs=0.5)
