"""Properties of working-time arithmetic, checked on generated instants and durations."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.calendar import WorkingCalendar
from orchestrator.clock import CHINA

CALENDAR = WorkingCalendar.from_file()
PERIOD_ENDS = {end for _, end in CALENDAR.office_hours}
# Starts and durations stay inside the years with data (2025–2026) even after adding.
FIRST_DAY, LAST_DAY = date(2025, 1, 1), date(2026, 10, 31)

# Period boundaries and midnight are where off-by-one mistakes live, so they are drawn often.
_BOUNDARIES = [time(0), time(9), time(12), time(13), time(17), time(11, 59, 59, 999999)]
_times = st.one_of(st.sampled_from(_BOUNDARIES), st.times())
instants = st.builds(
    lambda day, moment, aware: datetime.combine(day, moment, CHINA if aware else None),
    st.dates(min_value=FIRST_DAY, max_value=LAST_DAY),
    _times,
    st.booleans(),
)
durations = st.one_of(
    st.timedeltas(min_value=timedelta(0), max_value=15 * CALENDAR.day_length),
    st.integers(min_value=0, max_value=60).map(lambda n: n * timedelta(minutes=30)),
)
positive_durations = durations.filter(lambda d: d > timedelta(0))

FAST = settings(max_examples=300, deadline=None)


def _china(instant: datetime) -> datetime:
    """As the calendar reads it: naive is China time."""
    return instant if instant.tzinfo else instant.replace(tzinfo=CHINA)


@FAST
@given(instants, durations)
def test_elapsed_undoes_add(start: datetime, duration: timedelta) -> None:
    assert CALENDAR.elapsed(start, CALENDAR.add(start, duration)) == duration


@FAST
@given(instants, instants, instants)
def test_elapsed_is_additive_over_a_split_point(a: datetime, b: datetime, c: datetime) -> None:
    first, middle, last = sorted((a, b, c), key=_china)
    assert CALENDAR.elapsed(first, last) == CALENDAR.elapsed(first, middle) + CALENDAR.elapsed(
        middle, last
    )


@FAST
@given(instants, instants)
def test_elapsed_is_never_negative_and_zero_backwards(a: datetime, b: datetime) -> None:
    earlier, later = sorted((a, b), key=_china)
    assert CALENDAR.elapsed(earlier, later) >= timedelta(0)
    assert CALENDAR.elapsed(later, earlier) == timedelta(0)


@FAST
@given(instants, durations)
def test_add_lands_in_office_hours_or_at_a_period_end(start: datetime, duration: timedelta) -> None:
    result = CALENDAR.add(start, duration)
    at_period_end = result.timetz().replace(tzinfo=None) in PERIOD_ENDS
    assert result.tzinfo == CHINA
    assert result >= _china(start)
    assert CALENDAR.is_office_time(result) or (at_period_end and CALENDAR.is_workday(result))


@FAST
@given(instants, durations, durations)
def test_add_is_monotonic_in_the_duration(start: datetime, d1: timedelta, d2: timedelta) -> None:
    shorter, longer = sorted((d1, d2))
    assert CALENDAR.add(start, shorter) <= CALENDAR.add(start, longer)


@FAST
@given(instants, instants, durations)
def test_add_is_monotonic_in_the_start(a: datetime, b: datetime, duration: timedelta) -> None:
    earlier, later = sorted((a, b), key=_china)
    assert CALENDAR.add(earlier, duration) <= CALENDAR.add(later, duration)


@FAST
@given(instants, durations, positive_durations)
def test_add_composes(start: datetime, d1: timedelta, d2: timedelta) -> None:
    # Only for a positive second step: adding nothing at 12:00 moves on to 13:00.
    assert CALENDAR.add(CALENDAR.add(start, d1), d2) == CALENDAR.add(start, d1 + d2)


@FAST
@given(instants)
def test_next_working_instant(instant: datetime) -> None:
    result = CALENDAR.next_working_instant(instant)
    assert result >= _china(instant)
    assert CALENDAR.is_office_time(result)
    assert CALENDAR.elapsed(instant, result) == timedelta(0)
    assert CALENDAR.add(instant, timedelta(0)) == result


@settings(max_examples=40, deadline=None)
@given(
    st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 28)).map(
        lambda t: t.replace(second=0, microsecond=0)
    ),
    st.integers(min_value=0, max_value=3 * 24 * 60),
)
def test_elapsed_matches_counting_minutes(start: datetime, minutes: int) -> None:
    # A slow but obviously right oracle: count the office minutes one by one.
    end = start + timedelta(minutes=minutes)
    counted = sum(CALENDAR.is_office_time(start + timedelta(minutes=n)) for n in range(minutes))
    assert CALENDAR.elapsed(start, end) == timedelta(minutes=counted)
