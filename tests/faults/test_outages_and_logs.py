"""OneStop as production runs it (simulators, api, beat and a worker as processes, on
PostgreSQL and a RabbitMQ vhost of their own, each behind a proxy that can cut it), every
process logging at debug level:

- with the broker away, a filing is still accepted (201) and the sweeper sends it on later;
- with the database away, the API answers 503 with `Retry-After`, in JSON, never a 500;
- and no log of any process names a filing's resident IDs or mobile numbers, in ASCII or
  in full-width digits, after all that.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestrator.privacy import masked
from tests.api import assert_unavailable
from tests.factories import TRADE_NAMES, filing_input, resident_id
from tests.faults.soak import Soak, TcpProxy, fresh_database, rabbitmq_vhost

pytestmark = pytest.mark.integration

# Short leases and sweeps: a step whose message was lost is found again within seconds.
FAST_RECOVERY = {
    "ONESTOP_STEP_LEASE_SECONDS": "3",
    "ONESTOP_SWEEP_INTERVAL_SECONDS": "1",
    "ONESTOP_RETRY_BASE_SECONDS": "0.2",
    "ONESTOP_RETRY_MAX_COUNTDOWN_SECONDS": "5",
    "ONESTOP_WORKER_CONCURRENCY": "8",
    # A filing at a time needs few connections; the PostgreSQL server is shared.
    "ONESTOP_DB_POOL_SIZE": "4",
    "ONESTOP_DB_MAX_OVERFLOW": "2",
}
FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


def fresh_people(rng: random.Random) -> dict[str, Any]:
    """`filing_input` overrides naming people of this test's own: nobody else's numbers."""

    def person_id() -> str:
        born = date(1960, 1, 1) + timedelta(days=rng.randrange(40 * 365))
        return resident_id(born, sequence=rng.randrange(1000))

    def mobile() -> str:
        return f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"

    owner, partner, finance = person_id(), person_id(), person_id()
    owner_mobile = mobile()
    return {
        "legal_representative__id_number": owner,
        "legal_representative__mobile": owner_mobile,
        "shareholders__0__id_number": owner,
        "shareholders__0__mobile": owner_mobile,
        "shareholders__1__id_number": partner,
        "shareholders__1__mobile": mobile(),
        "finance_officer__id_number": finance,
        "finance_officer__mobile": mobile(),
        "staff__0__id_number": person_id(),
        "staff__1__id_number": person_id(),
        "delivery__mobile": mobile(),
    }


def personal_numbers(application: dict[str, Any]) -> set[str]:
    """The resident IDs and mobile numbers in an application: what `masked` masks."""
    found: set[str] = set()

    def walk(original: Any, shown: Any) -> None:
        if isinstance(original, dict):
            for key, value in original.items():
                walk(value, shown[key])
        elif isinstance(original, list):
            for value, shown_value in zip(original, shown, strict=True):
                walk(value, shown_value)
        elif original != shown:
            found.add(original)

    walk(application, masked(application))
    return found


@dataclass
class Production:
    """The deployment, its two proxies, and the numbers of every person filed through it."""

    soak: Soak
    database: TcpProxy
    broker: TcpProxy
    log_dir: Path
    rng: random.Random = field(default_factory=random.Random)
    numbers: set[str] = field(default_factory=set)

    def client(self) -> httpx.Client:
        assert self.soak.deployment.api_url
        return httpx.Client(
            base_url=self.soak.deployment.api_url,
            headers={"Authorization": f"Bearer {self.soak.token}"},
            timeout=30,
        )

    def new_application(self) -> dict[str, Any]:
        """A fresh filing of people nobody else files, whose numbers are remembered."""
        application = filing_input(
            company_name__trade_name=next(TRADE_NAMES), **fresh_people(self.rng)
        )
        self.numbers |= personal_numbers(application)
        return application

    def filing(self, code: str) -> dict[str, Any]:
        with self.client() as client:
            reply = client.get(f"/api/v1/filings/{code}")
        assert reply.status_code == 200, reply.text
        filing: dict[str, Any] = reply.json()
        return filing

    def wait_until_complete(self, code: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (filing := self.filing(code))["status"] != "complete":
            self.soak.deployment.check_alive()
            if time.monotonic() > deadline:
                steps = {s["name"]: s["status"] for s in filing["steps"]}
                pytest.fail(f"{code} not complete after {timeout} s: {steps}")
            time.sleep(0.2)
        return filing

    def logs(self) -> dict[str, str]:
        """Every process's log so far, by process name."""
        return {p.stem: p.read_text(errors="replace") for p in sorted(self.log_dir.glob("*.log"))}


@pytest.fixture(scope="module")
def production(
    postgres_url: str, rabbitmq_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Production]:
    log_dir = tmp_path_factory.mktemp("production-logs")
    with fresh_database(postgres_url) as database, rabbitmq_vhost(rabbitmq_url) as vhost:
        database_proxy, broker_proxy = TcpProxy(database).start(), TcpProxy(vhost).start()
        soak = Soak(
            database_url=database_proxy.url(database),
            broker_url=broker_proxy.url(vhost),
            workers=1,
            log_dir=log_dir,
            env={**FAST_RECOVERY, "ONESTOP_LOG_LEVEL": "debug"},
        )
        try:
            soak.start()
            yield Production(soak, database_proxy, broker_proxy, log_dir)
        finally:
            soak.stop()
            database_proxy.close()
            broker_proxy.close()


class TestTheBrokerAway:
    def test_a_filing_is_accepted_and_the_sweeper_sends_it_on_later(
        self, production: Production
    ) -> None:
        application = production.new_application()
        with production.client() as client, production.broker.away():
            started = time.monotonic()
            reply = client.post("/api/v1/filings", json=application)
            waited = time.monotonic() - started
        assert reply.status_code == 201, reply.text
        assert waited < 10, f"the API took {waited:.1f} s to give up on the broker"
        filing = production.wait_until_complete(reply.json()["tracking_code"])
        sent_again = [e for e in filing["events"] if e["kind"] == "redispatched"]
        assert sent_again and all(e["actor"] == "sweeper" for e in sent_again)


class TestTheDatabaseAway:
    def test_the_api_answers_503_with_retry_after_and_recovers(
        self, production: Production
    ) -> None:
        application = production.new_application()
        with production.client() as client:
            assert client.get("/api/v1/filings").status_code == 200  # connections pooled
            with production.database.away():
                assert_unavailable(client.get("/api/v1/filings"))
                assert_unavailable(client.post("/api/v1/filings", json=application))
                assert_unavailable(client.get("/api/v1/licences/91370783MA0000001X"))
            deadline = time.monotonic() + 10
            while (reply := client.get("/api/v1/filings")).status_code != 200:
                assert reply.status_code == 503, reply.text
                assert time.monotonic() < deadline, "the API did not recover within 10 s"
                time.sleep(0.2)
            reply = client.post("/api/v1/filings", json=application)
        assert reply.status_code == 201, reply.text
        production.wait_until_complete(reply.json()["tracking_code"])
        # Every error was answered by the API's own handlers: the server saw none escape.
        assert "Exception in ASGI application" not in production.logs()["api"]


class TestLogs:
    def test_no_log_names_a_resident_id_or_mobile_of_any_filing(
        self, production: Production
    ) -> None:
        application = production.new_application()
        owner = application["legal_representative"]
        with production.client() as client:
            reply = client.post("/api/v1/filings", json=application)
            assert reply.status_code == 201, reply.text
            code = reply.json()["tracking_code"]
            # A client may put anything into a URL, and access logs write URLs.
            assert client.get(f"/api/v1/filings/{owner['id_number']}").status_code == 404
            assert client.get("/api/v1/filings", params={"q": owner["mobile"]}).is_success
        production.wait_until_complete(code)
        time.sleep(1)  # the processes' last lines about it reach their logs

        logs = production.logs()
        assert set(logs) >= {"api", "beat", "worker-1", "simulators"}
        # Not vacuous: the processes logged at debug level, this filing's work among it.
        assert "DEBUG" in logs["api"] and "DEBUG" in logs["worker-1"] and "DEBUG" in logs["beat"]
        assert f'"GET /api/v1/filings/{code} HTTP/1.1" 200' in logs["api"]
        assert "Task filings.run_step[" in logs["worker-1"]
        assert "Task filings.run_claimed[" in logs["worker-1"]
        # This filing's people, and those of every filing filed before it in this module.
        assert len(personal_numbers(application)) >= 7
        for number in sorted(production.numbers):
            for shown in (number, number.translate(FULL_WIDTH)):
                for process, text in logs.items():
                    assert shown not in text, f"{process}.log names {shown}"
