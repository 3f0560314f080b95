"""The public licence checks are rate-limited per client address, across API processes."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from limits import parse_many
from pydantic import ValidationError
from starlette.requests import Request

from integrations.simulators.licence import issue_licence
from orchestrator.api.app import create_app
from orchestrator.api.rate_limits import client_address
from orchestrator.runtime import Runtime
from orchestrator.settings import Settings
from tests.api import assert_bilingual
from tests.integrations.test_e_licence import licence_data
from tests.orchestrator.test_processes import free_port

VERIFY = "/api/v1/licences/verify"
UNKNOWN_NUMBER = "/api/v1/licences/370783202599999999"
UNKNOWN_TOKEN = "/api/v1/licences/check/" + "Z" * 22


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return issue_licence(licence_data())


def client_for(settings: Settings, address: str = "203.0.113.7") -> TestClient:
    """A client, calling from `address`, of a fresh API application with `settings`."""
    return TestClient(create_app(settings), client=(address, 50000))


def limited(onestop: Runtime, **changes: Any) -> Settings:
    """The embedded runtime's settings with other rate limits."""
    return onestop.settings.model_copy(update=changes)


def assert_refused(response: Any) -> int:
    """A 429 in the API's error shape; how many seconds it says to wait."""
    body = assert_bilingual(response, 429, "rate_limited")
    retry_after = int(response.headers["Retry-After"])
    assert body["retry_after_seconds"] == retry_after
    return retry_after


class TestLicenceChecks:
    def test_past_its_limit_a_client_gets_429_with_retry_after(
        self, onestop: Runtime, pdf: bytes
    ) -> None:
        api = client_for(limited(onestop, rate_limit_licence_checks="3/minute"))
        for _ in range(3):
            assert api.post(VERIFY, content=pdf).json()["status"] == "genuine"
        assert 1 <= assert_refused(api.post(VERIFY, content=pdf)) <= 60

    def test_every_limit_of_a_setting_holds(self, onestop: Runtime, pdf: bytes) -> None:
        api = client_for(limited(onestop, rate_limit_licence_checks="10/minute;2/hour"))
        assert [api.post(VERIFY, content=pdf).status_code for _ in range(3)] == [200, 200, 429]
        assert assert_refused(api.post(VERIFY, content=pdf)) > 60  # the hour's window

    def test_each_client_address_has_its_own_allowance(self, onestop: Runtime, pdf: bytes) -> None:
        app = create_app(limited(onestop, rate_limit_licence_checks="1/minute"))
        first = TestClient(app, client=("203.0.113.1", 50000))
        second = TestClient(app, client=("203.0.113.2", 50000))
        assert first.post(VERIFY, content=pdf).status_code == 200
        assert_refused(first.post(VERIFY, content=pdf))
        assert second.post(VERIFY, content=pdf).status_code == 200

    def test_a_qr_code_check_is_a_licence_check(self, onestop: Runtime) -> None:
        api = client_for(limited(onestop, rate_limit_licence_checks="2/minute"))
        assert [api.get(UNKNOWN_TOKEN).status_code for _ in range(2)] == [404, 404]
        assert_refused(api.get(UNKNOWN_TOKEN))

    def test_refused_requests_are_counted_before_anything_is_read(self, onestop: Runtime) -> None:
        api = client_for(limited(onestop, rate_limit_licence_checks="1/minute"))
        assert api.post(VERIFY, content=b"").status_code == 400
        assert_refused(api.post(VERIFY, content=b"%PDF-1.7 anything"))
        assert_refused(api.get("/api/v1/licences/check/not-a-token"))


class TestLookupsByNumber:
    def test_are_limited_more_strictly_than_checks_by_default(self) -> None:
        defaults = Settings()
        by_number = parse_many(defaults.rate_limit_licence_lookups_by_number)
        checks = parse_many(defaults.rate_limit_licence_checks)
        assert len(by_number) == len(checks)
        for stricter, looser in zip(by_number, checks, strict=True):
            assert stricter.get_expiry() == looser.get_expiry()
            assert stricter.amount < looser.amount

    def test_counting_through_numbers_is_refused_while_checks_go_on(
        self, onestop: Runtime, pdf: bytes
    ) -> None:
        settings = Settings()  # the defaults; the runtime still answers from the embedded one
        api = client_for(settings)
        allowed = min(
            item.amount for item in parse_many(settings.rate_limit_licence_lookups_by_number)
        )
        for _ in range(allowed):
            assert api.get(UNKNOWN_NUMBER).status_code == 404
        assert_refused(api.get(UNKNOWN_NUMBER))
        assert api.post(VERIFY, content=pdf).status_code == 200


class TestUnreachableStore:
    def test_is_503_never_an_unlimited_pass(self, onestop: Runtime, pdf: bytes) -> None:
        nowhere = f"redis://127.0.0.1:{free_port()}/0"
        api = client_for(limited(onestop, rate_limit_storage_url=nowhere))
        response = api.post(VERIFY, content=pdf)
        assert response.status_code == 503, response.text
        assert response.json()["error"] == "rate_limit_unavailable"
        assert int(response.headers["Retry-After"]) > 0


class TestSettings:
    @pytest.mark.parametrize("limit", ["often", "5/fortnight", ""])
    def test_a_limit_that_cannot_be_read_is_refused(self, limit: str) -> None:
        with pytest.raises(ValidationError, match="rate_limit_licence_checks"):
            Settings(rate_limit_licence_checks=limit)

    @pytest.mark.parametrize("url", ["memcached://127.0.0.1:11211", "127.0.0.1:6379", ""])
    def test_an_unknown_store_is_refused(self, url: str) -> None:
        with pytest.raises(ValidationError, match="rate_limit_storage_url"):
            Settings(rate_limit_storage_url=url)


class TestClientAddress:
    @pytest.mark.parametrize(
        ("host", "counted_as"),
        [
            ("203.0.113.9", "203.0.113.9"),
            ("::ffff:203.0.113.9", "203.0.113.9"),  # IPv4 through a dual-stack socket
            ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),  # an IPv6 client holds a /64
            ("2001:db8:1:2:bbbb::7", "2001:db8:1:2::/64"),
            ("testclient", "testclient"),
        ],
    )
    def test_is_the_address_or_an_ipv6_clients_network(self, host: str, counted_as: str) -> None:
        request = Request({"type": "http", "client": (host, 1234), "headers": []})
        assert client_address(request) == counted_as


@pytest.mark.integration
class TestSharedThroughRedis:
    @pytest.fixture
    def prefix(self, redis_url: str) -> Iterator[str]:
        """A key prefix of this test's own, its keys deleted afterwards."""
        prefix = f"onestop-test-{uuid.uuid4().hex}"
        yield prefix
        store = redis.Redis.from_url(redis_url)
        for key in store.scan_iter(match=f"*{prefix}*"):
            store.delete(key)
        store.close()

    @pytest.fixture
    def in_redis(self, onestop: Runtime, redis_url: str, prefix: str) -> Callable[[str], Settings]:
        """The settings of an API process whose counters live in Redis under `prefix`, with
        licence checks limited to the rate given."""
        return lambda rate: limited(
            onestop,
            rate_limit_storage_url=redis_url,
            rate_limit_key_prefix=prefix,
            rate_limit_licence_checks=rate,
        )

    def test_two_api_processes_sharing_redis_share_each_clients_limit(
        self,
        in_redis: Callable[[str], Settings],
        pdf: bytes,
        redis_url: str,
        prefix: str,
    ) -> None:
        settings = in_redis("4/minute")
        first, second = client_for(settings), client_for(settings)
        answers = [api.post(VERIFY, content=pdf).status_code for api in (first, second) * 2]
        assert answers == [200, 200, 200, 200]
        assert_refused(first.post(VERIFY, content=pdf))
        assert_refused(second.post(VERIFY, content=pdf))
        with redis.Redis.from_url(redis_url) as store:
            assert store.keys(f"*{prefix}*"), "the counters live in Redis"

    def test_another_deployments_prefix_counts_apart(
        self, in_redis: Callable[[str], Settings], pdf: bytes, prefix: str
    ) -> None:
        settings = in_redis("1/minute")
        assert client_for(settings).post(VERIFY, content=pdf).status_code == 200
        assert_refused(client_for(settings).post(VERIFY, content=pdf))
        other = settings.model_copy(update={"rate_limit_key_prefix": f"{prefix}-other"})
        assert client_for(other).post(VERIFY, content=pdf).status_code == 200
