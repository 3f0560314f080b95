"""Crash safety end to end: workers SIGKILLed in the middle of steps, again and again, and a
broker that goes away mid-run lose no filing and duplicate no agency effect; every filing
completes (promises 1 and 3, on real PostgreSQL and RabbitMQ, processes as in production).

Sizes: ONESTOP_SOAK_FILINGS sets the number of filings of each soak (see `soak_size`);
ONESTOP_SOAK_SEED replays a run's dice.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from orchestrator.celery_app import STEPS_QUEUE, SWEEP_QUEUE
from tests.faults.soak import (
    Kill,
    Soak,
    TcpProxy,
    assert_nothing_lost_or_duplicated,
    consumers,
    fresh_database,
    rabbitmq_vhost,
    soak_seed,
    soak_size,
    wait_for_consumers,
    wait_until_drained,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Short leases and sweeps: a step whose message was lost is found again within seconds.
FAST_RECOVERY = {
    "ONESTOP_STEP_LEASE_SECONDS": "5",
    "ONESTOP_SWEEP_INTERVAL_SECONDS": "1",
    "ONESTOP_RETRY_BASE_SECONDS": "0.2",
    "ONESTOP_RETRY_MAX_COUNTDOWN_SECONDS": "5",
    "ONESTOP_AGENCY_TIMEOUT_SECONDS": "5",
}
# 50–150 ms per agency call, answered within the call: steps are in flight when hit.
AGENCY_LATENCY = {"latency_ms": 50, "latency_jitter_ms": 100}
FILINGS = soak_size(200)
FILINGS_PER_SECOND = 12.0
# Bounds that grow with the soak: the filings still at work after the last one is filed,
# and the whole test (start, filing, that wait, the audit).
COMPLETION_TIMEOUT = 60 + FILINGS / 4
TIMEOUT = 180 + FILINGS * 0.6
OUTAGE_SECONDS = 4


@pytest.fixture
def soak_database(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL database of the soak's own."""
    with fresh_database(postgres_url) as url:
        yield url


@pytest.fixture
def broker_vhost(rabbitmq_url: str) -> Iterator[str]:
    """A RabbitMQ vhost of the soak's own: no other test's messages, none left behind."""
    with rabbitmq_vhost(rabbitmq_url) as url:
        yield url


@pytest.fixture
def broker_proxy(broker_vhost: str) -> Iterator[TcpProxy]:
    """A proxy in front of the soak's vhost, to make the broker go away and come back."""
    proxy = TcpProxy(broker_vhost).start()
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
        self, soak_database: str, broker_vhost: str, tmp_path: Path
    ) -> None:
        count = FILINGS
        seed = soak_seed()
        rng = random.Random(seed)
        workers = 3
        soak = Soak(
            database_url=soak_database,
            broker_url=broker_vhost,
            workers=workers,
            log_dir=tmp_path / "logs",
            env=FAST_RECOVERY,
        )
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
        # Not vacuous: the kills landed in the middle of steps, which other workers finished.
        assert len(kills) >= 3
        assert sum(1 for steps in cut_off if steps) >= len(kills) / 2, cut_off


class TestBrokerOutage:
    @pytest.mark.timeout(TIMEOUT)
    def test_cut_broker_connections_lose_no_filing_and_duplicate_no_effect(
        self, soak_database: str, broker_vhost: str, broker_proxy: TcpProxy, tmp_path: Path
    ) -> None:
        count = FILINGS
        workers = 3
        soak = Soak(
            database_url=soak_database,
            broker_url=broker_proxy.url(broker_vhost),
            workers=workers,
            log_dir=tmp_path / "logs",
            env=FAST_RECOVERY,
        )
        dropped: list[int] = []
        with running(soak), ThreadPoolExecutor(1) as background:
            started = time.monotonic()
            filing = background.submit(soak.file, count, per_second=FILINGS_PER_SECOND)
            for at in (0.25, 0.6):  # of the filing time
                time.sleep(max(0.0, started + at * count / FILINGS_PER_SECOND - time.monotonic()))
                # Each outage hits a connected deployment: every worker consumes again.
                wait_for_consumers(broker_vhost, STEPS_QUEUE, workers, timeout=30)
                dropped.append(broker_proxy.cut())
                time.sleep(OUTAGE_SECONDS)  # the API goes on filing: its publishes fail
                broker_proxy.resume()
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
        # Not vacuous: every outage cut the workers' connections, they all came back, and
        # messages lost with them (the API's publishes, for one) were found by the sweeper.
        assert all(n >= workers for n in dropped), dropped
        assert back == workers
        assert sweepers == workers  # sweeps have their own queue, never behind the steps
        assert audit.redispatched_steps > 0
