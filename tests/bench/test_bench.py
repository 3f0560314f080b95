"""`onestop bench`: the critical path it measures against, the agencies' own timings, and a
CI-sized run on real PostgreSQL and RabbitMQ that loses nothing and duplicates nothing.

Speed is for docs/benchmarks.md, not for tests: nothing here asserts a throughput.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
from sqlalchemy import update

from integrations.simulators.app import SimulatorConfig, create_app
from integrations.simulators.engine import AgencyRules, AgencySimulator, Completed, Decision
from integrations.simulators.server import serve_in_thread
from orchestrator.filings.models import Filing, FilingStatus
from orchestrator.reference import load_reference
from orchestrator.runtime import Runtime
from orchestrator.settings import Settings
from orchestrator.tools.bench.load import BenchOptions, RunCounts
from orchestrator.tools.bench.report import critical_path_ms, step_durations
from orchestrator.tools.bench.run import worker_threads
from orchestrator.workflow import by_name
from tests.api import file_undispatched
from tests.factories import credit_code
from tests.integrations.test_simulators import FakeClock
from tests.people import BranchStaff

REPO = Path(__file__).resolve().parents[2]
STANDARD = load_reference().graph_of("370811").steps  # Rencheng's


class TestCriticalPath:
    def test_is_the_longest_path_through_the_declared_graph(self) -> None:
        durations = {
            "registration": 100.0,
            "seal": 50.0,
            "bank_account": 50.0,
            "tax": 120.0,
            "social_insurance": 10.0,
            "medical_insurance": 10.0,
            "housing_fund": 10.0,
            "delivery": 30.0,
        }
        # registration + max(seal + bank_account, tax, …) + delivery
        assert critical_path_ms(durations, STANDARD) == 100 + 120 + 30
        assert critical_path_ms(durations | {"seal": 80.0}, STANDARD) == 100 + 130 + 30

    def test_follows_whatever_graph_is_declared(self) -> None:
        diamond = (("a", ()), ("b", ("a",)), ("c", ("a",)), ("d", ("b", "c")))
        assert critical_path_ms({"a": 1, "b": 5, "c": 2, "d": 1}, diamond) == 7

    def test_is_unknown_when_a_step_was_not_timed(self) -> None:
        assert critical_path_ms({"registration": 10.0}, STANDARD) is None

    def test_step_durations_are_found_by_idempotency_key_at_each_steps_agency(self) -> None:
        steps = load_reference().graph_of("370783").steps
        by_agency = {by_name()[name].agency: {f"OS123-{name}": 7.0} for name, _ in steps}
        found = step_durations("OS123", by_agency, steps)
        assert found == {name: 7.0 for name, _ in steps}
        assert "delivery" in found  # carried by the courier agency


class TestWorkerThreads:
    """The benchmark sizes the workers' threads to the calls it will keep in flight."""

    settings = Settings(worker_concurrency=32)

    def test_instant_agencies_need_few_threads(self) -> None:
        assert worker_threads(BenchOptions(filings=10, agency_latency_ms=0), self.settings) == 8

    def test_slow_agencies_get_half_as_many_again_as_calls_in_flight(self) -> None:
        # 10 filings/s × 10 steps (the demo's Shouguang graph) × 0.3 s = 30 calls in
        # flight; × 1.5 over 2 workers = 22.5.
        options = BenchOptions(filings=10, agency_latency_ms=300, rate=10, workers=2)
        assert len(load_reference().graph_of("370783").steps) == 10
        assert worker_threads(options, self.settings) == 23

    def test_an_unknown_arrival_rate_keeps_the_configured_threads(self) -> None:
        options = BenchOptions(filings=10, agency_latency_ms=300)
        assert worker_threads(options, self.settings) == 32


class _Instant(AgencyRules):
    name = "instant"

    def decide(self, payload: object) -> Decision:
        return Completed(result={})


class TestAgencyDurations:
    """The simulators time each request from its arrival to its final outcome."""

    def make(self, latency_ms: float = 0) -> tuple[AgencySimulator, FakeClock]:
        clock = FakeClock()
        sim = AgencySimulator(_Instant, seed=1, clock=clock)
        sim.behaviour = sim.behaviour.model_copy(update={"latency_ms": latency_ms})
        return sim, clock

    def test_a_synchronous_answer_counts_from_arrival_to_answer(self) -> None:
        sim, clock = self.make(latency_ms=300)
        arrived = clock.now
        clock.now += 0.002  # reading the body
        record = sim.accept("k", {}, received_at=arrived)
        clock.now += 0.300
        sim.time_outcome("k", record, answered=True)
        assert sim.durations() == {"k": pytest.approx(302, abs=0.01)}

    def test_an_outcome_found_by_a_status_query_counts_until_it_was_ready(self) -> None:
        sim, clock = self.make(latency_ms=3000)
        record = sim.accept("k", {})
        clock.now += 1
        sim.time_outcome("k", record, answered=False)
        assert sim.durations() == {}  # not ready yet: nothing to time
        clock.now += 10  # the caller came back late; the agency was done at 3 s
        sim.time_outcome("k", record, answered=False)
        assert sim.durations() == {"k": pytest.approx(3000)}

    def test_a_repeated_request_keeps_the_first_timing(self) -> None:
        sim, clock = self.make(latency_ms=100)
        record = sim.accept("k", {})
        clock.now += 0.1
        sim.time_outcome("k", record, answered=True)
        clock.now += 5
        again = sim.accept("k", {}, received_at=clock.now)
        sim.time_outcome("k", again, answered=True)
        assert sim.durations() == {"k": pytest.approx(100)}

    def test_reset_forgets_timings(self) -> None:
        sim, _ = self.make()
        sim.time_outcome("k", sim.accept("k", {}), answered=True)
        sim.reset()
        assert sim.durations() == {}

    def test_served_per_agency_and_key(self) -> None:
        config = SimulatorConfig(seed=3, agencies=("courier",), gateways=())
        server = serve_in_thread(create_app(config))
        try:
            with httpx.Client(base_url=server.base_url, timeout=5) as client:
                client.put("/_sim/courier/behaviour", json={"latency_ms": 50}).raise_for_status()
                order = {
                    "sender_ref": credit_code(),
                    "consignee": {
                        "name": "王建国",
                        "phone": "13805361234",
                        "address": "寿光市圣城街道",
                    },
                    "contents": ["business_licence_original"],
                }
                reply = client.post(
                    "/courier/v1/requests", json=order, headers={"Idempotency-Key": "OS1-delivery"}
                )
                durations = client.get("/_sim/durations").json()
        finally:
            server.stop()
        assert reply.json()["result"]["state"] == "SIGNED"  # answered at once: delivered
        assert set(durations) == {"courier"}
        assert 50 <= durations["courier"]["OS1-delivery"] < 1000


class TestProgressCounts:
    def _set(self, rt: Runtime, code: str, status: FilingStatus, *, ready: bool) -> None:
        with rt.database.transaction() as session:
            session.execute(
                update(Filing)
                .where(Filing.tracking_code == code)
                .values(status=status, ready_at=rt.clock.now() if ready else None)
            )

    def test_counts_ready_complete_and_stopped_among_the_acknowledged(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        codes = [file_undispatched(onestop, branch_staff) for _ in range(4)]
        self._set(onestop, codes[0], FilingStatus.COMPLETE, ready=True)
        self._set(onestop, codes[1], FilingStatus.READY, ready=True)
        self._set(onestop, codes[2], FilingStatus.ACTION_REQUIRED, ready=False)
        counts = RunCounts(onestop.database)
        assert counts.read(codes[:3]) == (2, 1, 1)  # the fourth is not acknowledged yet
        assert counts.read(codes) == (2, 1, 1)
        self._set(onestop, codes[1], FilingStatus.COMPLETE, ready=True)
        self._set(onestop, codes[3], FilingStatus.READY, ready=True)
        assert counts.read(codes) == (3, 2, 1)

    def test_an_ended_filing_is_not_asked_about_again(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        code = file_undispatched(onestop, branch_staff)
        self._set(onestop, code, FilingStatus.COMPLETE, ready=True)
        counts = RunCounts(onestop.database)
        assert counts.read([code]) == (1, 1, 0)
        # Were it asked again it would count as open (no filing goes back; this one is
        # put back only to show the poll no longer reads it).
        self._set(onestop, code, FilingStatus.ACCEPTED, ready=False)
        assert counts.read([code]) == (1, 1, 0)


@pytest.fixture
def bench_vhost(rabbitmq_url: str) -> Iterator[str]:
    """A RabbitMQ vhost of the run's own when rabbitmqctl is at hand, so that no other
    test's workers take the benchmark's messages (or give it theirs)."""
    if shutil.which("rabbitmqctl") is None:
        yield rabbitmq_url
        return
    vhost = f"onestop_bench_{uuid.uuid4().hex[:8]}"
    user = urlsplit(rabbitmq_url).username or "guest"
    ctl = ["rabbitmqctl", "-q"]
    subprocess.run([*ctl, "add_vhost", vhost], check=True, capture_output=True, timeout=60)
    try:
        subprocess.run(
            [*ctl, "set_permissions", "-p", vhost, user, ".*", ".*", ".*"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        yield urlsplit(rabbitmq_url)._replace(path="/" + quote(vhost, safe="")).geturl()
    finally:
        subprocess.run([*ctl, "delete_vhost", vhost], capture_output=True, timeout=60)


def _onestop(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=400,
    )


def _environment(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONESTOP_")}
    return env | settings


@pytest.mark.integration
class TestBenchCommand:
    def test_a_small_run_completes_every_filing_once(
        self, postgres_url: str, bench_vhost: str, tmp_path: Path
    ) -> None:
        env = _environment(ONESTOP_DATABASE_URL=postgres_url, ONESTOP_BROKER_URL=bench_vhost)
        # In a directory of its own: nothing of the run is left in the checkout.
        run = _onestop(
            "bench",
            "--filings",
            "40",
            "--agency-latency-ms",
            "0",
            "--json",
            "--timeout",
            "240",
            env=env,
            cwd=tmp_path,
        )
        assert run.returncode == 0, run.stderr[-3000:]
        report: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
        assert report["filings"] == 40
        assert report["lost"] == 0
        assert report["duplicate_effects"] == 0
        assert isinstance(report["filings_per_s"], float) and report["filings_per_s"] > 0
        assert set(report["overhead_ms"]) == {"p50", "p95", "p99"}
        assert set(report["e2e_over_critical_path"]) == {"p50", "p95"}
        assert all(isinstance(v, float) for v in report["overhead_ms"].values())
        assert all(isinstance(v, float) for v in report["e2e_over_critical_path"].values())
        # Sized for instant agencies, and stamped with the machine's speed at the time.
        assert report["worker_threads"] == 8
        assert 0 < report["host_reference_s"] < 30

    def test_without_postgresql_and_rabbitmq_it_says_what_to_set(self, tmp_path: Path) -> None:
        run = _onestop(
            "bench", "--filings", "1", "--agency-latency-ms", "0", env=_environment(), cwd=tmp_path
        )
        assert run.returncode == 2
        assert "ONESTOP_DATABASE_URL" in run.stderr and "ONESTOP_BROKER_URL" in run.stderr
        assert run.stdout == ""
