"""Crash safety end to end: workers SIGKILLed in the middle of steps, again and again, a
broker that goes away mid-run, and a database that does, lose no filing and duplicate no
agency effect; every filing completes (promises 1, 3 and 9, on real PostgreSQL and RabbitMQ,
processes as in production).

Sizes: ONESTOP_SOAK_FILINGS sets the number of filings of each soak (see `soak_size`);
ONESTOP_SOAK_SEED replays a run's dice.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import NamedTuple

import pytest

from orchestrator.celery_app import STEPS_QUEUE, SWEEP_QUEUE
from orchestrator.settings import Settings
from tests.faults.soak import (
    AGENCY_LATENCY,
    Kill,
    NewSoak,
    Soak,
    TcpProxy,
    assert_no_server_error,
    assert_nothing_lost_or_duplicated,
    consumers,
    soak_seed,
    soak_size,
    wait_for_consumers,
    wait_until,
    wait_until_drained,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FILINGS = soak_size(200)
FILINGS_PER_SECOND = 12.0
# Bounds that grow with the soak: the filings still at work after the last one is filed,
# and the whole test (start, filing, that wait, the audit).
COMPLETION_TIMEOUT = 60 + FILINGS / 4
TIMEOUT = 180 + FILINGS * 0.6
OUTAGE_SECONDS = 4
DATABASE_OUTAGE_SECONDS = 10


@pytest.fixture
def broker_proxy(broker_vhost: str) -> Iterator[TcpProxy]:
    """A proxy in front of the soak's vhost, to make the broker go away and come back."""
    proxy = TcpProxy(broker_vhost).start()
    yield proxy
    proxy.close()


@pytest.fixture
def database_proxy(soak_database: str) -> Iterator[TcpProxy]:
    """A proxy in front of the soak's PostgreSQL, to make the database go away and come back."""
    proxy = TcpProxy(soak_database).start()
    yield proxy
    proxy.close()


@contextmanager
def running(soak: Soak) -> Iterator[Soak]:
    """The soak's processes started, with agencies that take their time; stopped after."""
    try:
        soak.start()
        soak.agencies(**AGENCY_LATENCY)
        yield soak
    finally:
        soak.stop()


class TestWorkerCrashes:
    @pytest.mark.timeout(TIMEOUT)
    def test_sigkilled_workers_lose_no_filing_and_duplicate_no_effect(
        self, new_soak: NewSoak, broker_vhost: str
    ) -> None:
        count = FILINGS
        seed = soak_seed()
        rng = random.Random(seed)
        workers = 3
        soak = new_soak(workers=workers)
        kills: list[Kill] = []
        with running(soak), ThreadPoolExecutor(1) as background:
            filing = background.submit(soak.file, count, per_second=FILINGS_PER_SECOND)
            # Kill a worker in the middle of steps every second or two while filings arrive,
            # at least three times: when the filings are all in and fewer workers have died
            # (a fast machine leaves short windows with steps in flight), a few more arrive.
            chaos_ends = time.monotonic() + count / FILINGS_PER_SECOND + 60
            pause = rng.uniform(1.0, 2.0)
            while time.monotonic() < chaos_ends and not (filing.done() and len(kills) >= 3):
                time.sleep(pause)
                kill = soak.kill_mid_step(rng)
                if kill is not None:
                    kills.append(kill)
                    pause = rng.uniform(1.0, 2.0)
                    continue
                pause = 0.1  # none mid-step at this look: look again soon
                if filing.done() and len(kills) < 3:
                    filing.result()
                    extra = round(2 * FILINGS_PER_SECOND)
                    filing = background.submit(
                        soak.file, extra, per_second=FILINGS_PER_SECOND, first=count
                    )
                    count += extra
            filing.result()
            waited = soak.wait_until_complete(count, timeout=COMPLETION_TIMEOUT)
            wait_until_drained(broker_vhost, STEPS_QUEUE, timeout=30)
            audit = soak.audit()
        cut_off = [kill.cut_off(audit) for kill in kills]
        print(
            f"seed {seed}: {count} filings; {len(kills)} workers killed in the middle of "
            f"{sum(len(k.in_flight) for k in kills)} steps, {sum(map(len, cut_off))} of them "
            f"taken up by another worker; {audit.resumed_steps} steps resumed, "
            f"{audit.redispatched_steps} redispatched; all complete {waited:.1f} s after the "
            "last kill"
        )
        assert_nothing_lost_or_duplicated(soak, audit, count)
        assert_no_server_error(soak)
        # Not vacuous: the kills landed in the middle of steps, which other workers finished.
        assert len(kills) >= 3
        assert sum(1 for steps in cut_off if steps) >= len(kills) / 2, cut_off


class TestBrokerOutage:
    @pytest.mark.timeout(TIMEOUT)
    def test_cut_broker_connections_lose_no_filing_and_duplicate_no_effect(
        self, new_soak: NewSoak, broker_vhost: str, broker_proxy: TcpProxy
    ) -> None:
        count = FILINGS
        workers = 3
        soak = new_soak(workers=workers, broker_url=broker_proxy.url(broker_vhost))
        dropped: list[int] = []
        with running(soak), ThreadPoolExecutor(1) as background:
            started = time.monotonic()
            filing = background.submit(soak.file, count, per_second=FILINGS_PER_SECOND)
            for at in (0.25, 0.6):  # of the filing time
                time.sleep(max(0.0, started + at * count / FILINGS_PER_SECOND - time.monotonic()))
                # Each outage hits a connected deployment: every worker consumes again.
                wait_for_consumers(broker_vhost, STEPS_QUEUE, workers, timeout=30)
                with broker_proxy.away() as cut:
                    dropped.append(cut)
                    time.sleep(OUTAGE_SECONDS)  # the API goes on filing: its publishes fail
            filing.result()
            waited = soak.wait_until_complete(count, timeout=COMPLETION_TIMEOUT)
            # No worker hung by the outages: each consumes again, none sits on messages.
            wait_until_drained(broker_vhost, STEPS_QUEUE, timeout=30)
            back = consumers(broker_vhost, STEPS_QUEUE)
            sweepers = consumers(broker_vhost, SWEEP_QUEUE)
            audit = soak.audit()
        print(
            f"{count} filings; {len(dropped)} broker outages of {OUTAGE_SECONDS} s dropped "
            f"{dropped} connections, {back} workers consuming after the last; "
            f"{audit.redispatched_steps} steps redispatched, {audit.resumed_steps} resumed; "
            f"all complete {waited:.1f} s after the last filing"
        )
        assert_nothing_lost_or_duplicated(soak, audit, count)
        assert_no_server_error(soak)
        # Not vacuous: every outage cut the workers' connections, they all came back, and
        # messages lost with them (the API's publishes, for one) were found by the sweeper.
        assert all(n >= workers for n in dropped), dropped
        assert back == workers
        assert sweepers == workers  # sweeps have their own queue, never behind the steps
        assert audit.redispatched_steps > 0


class TestDatabaseOutage:
    @pytest.mark.timeout(TIMEOUT + 2 * DATABASE_OUTAGE_SECONDS)
    def test_cut_database_connections_lose_no_filing_and_duplicate_no_effect(
        self, new_soak: NewSoak, soak_database: str, broker_vhost: str, database_proxy: TcpProxy
    ) -> None:
        count = FILINGS
        seed = soak_seed()
        rng = random.Random(seed)
        workers = 3
        # Every process of the deployment reaches PostgreSQL through the proxy only.
        soak = new_soak(
            workers=workers, env={"ONESTOP_DATABASE_URL": database_proxy.url(soak_database)}
        )
        kills: list[Kill | None] = []
        with running(soak), ThreadPoolExecutor(1) as background:
            started = time.monotonic()
            filing_time = count / FILINGS_PER_SECOND
            filing = background.submit(soak.file, count, per_second=FILINGS_PER_SECOND)
            _sleep_until(started + 0.15 * filing_time)
            kills.append(_kill_a_busy_worker(soak, rng))
            _sleep_until(started + 0.3 * filing_time)
            under_load = Sessions.of(soak.database_sessions())
            with database_proxy.away() as dropped:
                cut_at = time.monotonic()
                # Every session of the deployment ends with its connection: none lingers.
                wait_until(lambda: not soak.database_sessions(), timeout=10, what="sessions end")
                kills.append(_kill_a_busy_worker(soak, rng))  # a worker dies while it is away
                _sleep_until(cut_at + DATABASE_OUTAGE_SECONDS)
            _sleep_until(time.monotonic() + 2)
            kills.append(_kill_a_busy_worker(soak, rng))
            filing.result()
            waited = soak.wait_until_complete(count, timeout=COMPLETION_TIMEOUT)
            wait_until_drained(broker_vhost, STEPS_QUEUE, timeout=30)
            audit = soak.audit()
            # Back to a steady level: at rest, no session left inside a transaction, and no
            # more sessions than the processes' pools keep (the deployment runs the default).
            capacity = (1 + workers) * Settings.model_fields["db_pool_size"].default
            at_rest = wait_until(
                lambda: _at_rest(Sessions.of(soak.database_sessions()), capacity),
                timeout=15,
                what=f"at most {capacity} sessions, none inside a transaction",
            )
        landed = [kill for kill in kills if kill is not None]
        print(
            f"seed {seed}: {count} filings; the database away for {DATABASE_OUTAGE_SECONDS} s "
            f"({dropped} connections cut, {under_load.total} sessions before, "
            f"{at_rest.total} at rest after); {len(landed)} workers killed mid-step; "
            f"answers {dict(soak.answers.by_status)}; {audit.redispatched_steps} steps "
            f"redispatched, {audit.resumed_steps} resumed; all complete {waited:.1f} s after "
            "the last filing"
        )
        assert_nothing_lost_or_duplicated(soak, audit, count)
        assert_no_server_error(soak)
        # Not vacuous: the cut hit a deployment at work, filings arrived while the database
        # was away (and were told to come back), and workers died around it.
        assert dropped > 0 and under_load.total > 0
        assert soak.answers.by_status[503] > 0, soak.answers.by_status
        assert len(landed) >= 2, kills


def _sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))


class Sessions(NamedTuple):
    """How many sessions, and how many of them inside a transaction."""

    total: int
    in_transaction: int

    @classmethod
    def of(cls, by_state: Counter[str]) -> Sessions:
        inside = sum(n for state, n in by_state.items() if "transaction" in state)
        return cls(sum(by_state.values()), inside)


def _at_rest(sessions: Sessions, capacity: int) -> Sessions | None:
    """`sessions` if none is inside a transaction and there are at most `capacity`."""
    return sessions if not sessions.in_transaction and sessions.total <= capacity else None


def _kill_a_busy_worker(soak: Soak, rng: random.Random, within: float = 5) -> Kill | None:
    """SIGKILL a worker in the middle of steps (restarting it), as soon as one is; None if none
    was within `within` seconds."""
    deadline = time.monotonic() + within
    while (kill := soak.kill_mid_step(rng)) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    return kill
