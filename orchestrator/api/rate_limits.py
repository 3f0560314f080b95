"""Rate limits per client address on the public endpoints, held across every API process.

The `limits` library keeps the counters where ONESTOP_RATE_LIMIT_STORAGE_URL says: in this
process's memory (the embedded default) or in a Redis that every API process shares, so
that running more processes, on more machines, does not multiply what a client may send.
It counts in a moving window, so a client cannot double its allowance at a window's edge.

A route declares its limit as a dependency, naming the setting that holds it:

    @router.get("/x", dependencies=[Depends(RateLimited("x", lambda s: s.rate_limit_x))])

A refused request is a 429 in the API's error shape with `Retry-After`; a store that
cannot be reached is a 503, never an unlimited pass.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections.abc import Callable, Iterable
from contextlib import suppress
from functools import lru_cache

from fastapi import Request
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from orchestrator.errors import DomainError
from orchestrator.settings import Settings

log = logging.getLogger(__name__)

# How long a request waits for an unresponsive store before it is answered 503.
_STORAGE_TIMEOUT_SECONDS = 1.0
# When to try again after the store failed: long enough for a restarted Redis.
_UNAVAILABLE_RETRY_SECONDS = 5
# An IPv6 client usually holds a whole /64: counting addresses one by one would give it
# billions of allowances.
_IPV6_CLIENT_PREFIX = 64


class TooManyRequests(DomainError):
    """A client sent more than its limit allows; it may try again after `retry_after` s."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"请求过于频繁，请在 {retry_after} 秒后再试",
            f"too many requests: try again in {retry_after} s",
            retry_after_seconds=retry_after,
        )
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        """`Retry-After`, in whole seconds."""
        return {"Retry-After": str(self.retry_after)}


class RateLimitUnavailable(DomainError):
    """The counters cannot be reached: refuse rather than serve without a limit."""

    status_code = 503
    code = "rate_limit_unavailable"

    def __init__(self) -> None:
        super().__init__("服务暂时不可用，请稍后再试", "temporarily unavailable: try again shortly")

    def headers(self) -> dict[str, str]:
        """`Retry-After`, in whole seconds."""
        return {"Retry-After": str(_UNAVAILABLE_RETRY_SECONDS)}


@lru_cache(maxsize=32)
def _items(text: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(text))


class RateLimiter:
    """The counters of one API application, in the store its settings name."""

    def __init__(self, settings: Settings) -> None:
        storage = storage_from_string(
            settings.rate_limit_storage_url,
            wrap_exceptions=True,  # any store's failure is a StorageError
            socket_timeout=_STORAGE_TIMEOUT_SECONDS,  # ignored by the memory store
            socket_connect_timeout=_STORAGE_TIMEOUT_SECONDS,
        )
        self._strategy = MovingWindowRateLimiter(storage)
        self._prefix = settings.rate_limit_key_prefix

    def hit(self, name: str, limits: str, client: str) -> None:
        """Count a request of `client` against `limits` (e.g. "5/minute;30/hour") of `name`.

        Raises `TooManyRequests` if one of them is spent, `RateLimitUnavailable` if the
        store cannot be reached.
        """
        identifiers = (self._prefix, name, client)
        try:
            for item in _items(limits):
                if not self._strategy.hit(item, *identifiers):
                    reset_at = self._strategy.get_window_stats(item, *identifiers).reset_time
                    raise TooManyRequests(max(1, math.ceil(reset_at - time.time())))
        except StorageError as exc:
            log.warning("rate-limit store unavailable: %s", exc.storage_error)
            raise RateLimitUnavailable() from exc

    def spent(self, name: str, limits: str, client: str) -> int | None:
        """Without counting anything: None if `client` may still be counted against `limits`
        of `name`, else the seconds until it may (for limits on failures, counted with `hit`
        only when one happens). Raises `RateLimitUnavailable` if the store cannot be reached.
        """
        identifiers = (self._prefix, name, client)
        try:
            for item in _items(limits):
                if not self._strategy.test(item, *identifiers):
                    reset_at = self._strategy.get_window_stats(item, *identifiers).reset_time
                    return max(1, math.ceil(reset_at - time.time()))
        except StorageError as exc:
            log.warning("rate-limit store unavailable: %s", exc.storage_error)
            raise RateLimitUnavailable() from exc
        return None

    def longest_wait(self, counters: Iterable[tuple[str, str, str]]) -> int | None:
        """The longest `spent` of `counters` (name, limits, client each), without counting
        anything: None if none of them is spent."""
        waits = [
            wait
            for name, limits, client in counters
            if (wait := self.spent(name, limits, client)) is not None
        ]
        return max(waits) if waits else None

    def count_failure(self, counters: Iterable[tuple[str, str, str]]) -> None:
        """Count a failure against each of `counters` (name, limits, client each), to be
        asked with `longest_wait` before the next attempt."""
        for name, limits, client in counters:
            # A spent limit: the next attempt is locked out; this one has failed anyway.
            with suppress(TooManyRequests):
                self.hit(name, limits, client)


def client_address(request: Request) -> str:
    """Whom a request is counted against: its client's address (an IPv6 client's /64)."""
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:  # an IPv4 client of a dual-stack listener
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/{_IPV6_CLIENT_PREFIX}", strict=False))
    return str(address)


class RateLimited:
    """A route dependency: count the request against the limit a setting holds."""

    def __init__(self, name: str, limit: Callable[[Settings], str]) -> None:
        self.name = name
        self.limit = limit

    def __call__(self, request: Request) -> None:
        """Pass, or raise `TooManyRequests` (429) / `RateLimitUnavailable` (503)."""
        limiter: RateLimiter = request.app.state.rate_limiter
        settings: Settings = request.app.state.settings
        limiter.hit(self.name, self.limit(settings), client_address(request))
