"""What every wire protocol of the simulators shares: carrying out a submit, losing a reply.

`integrations.simulators.rest` and `integrations.simulators.soap` each parse and render their
own format; between the two, a submit goes through `carry_out` (record it, and wait out a
latency within the sync limit) and its reply may be lost on purpose (`lost_reply`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from integrations.simulators.engine import AgencySimulator, Record

MAX_BODY_BYTES = 1024 * 1024
MAX_KEY_LENGTH = 200


class DroppedConnection(Exception):
    """Raised on purpose mid-reply so that the server drops the connection (a lost reply)."""


class DropConnection(Response):
    """Starts a reply, sends part of it, then fails so that the server closes the connection."""

    def __init__(self, content_type: str, start_of_body: bytes) -> None:
        super().__init__()
        self._content_type = content_type.encode()
        self._start_of_body = start_of_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", self._content_type), (b"content-length", b"512")],
            }
        )
        await send({"type": "http.response.body", "body": self._start_of_body, "more_body": True})
        raise DroppedConnection("simulated lost reply: connection dropped after commit")


def valid_key(key: str) -> bool:
    """Whether `key` may serve as an idempotency key."""
    return 0 < len(key) <= MAX_KEY_LENGTH and key.isprintable()


async def carry_out(
    sim: AgencySimulator, key: str, payload: object, *, received_at: float
) -> Record:
    """Record a submit; if the agency answers within its sync limit, wait for the outcome.

    Raises `InvalidRequest` (nothing recorded) if the payload does not fit the agency's format.
    """
    if sim.decides_slowly:
        # Drawing impressions or signing a licence: off the event loop, so that one agency's
        # work does not stall every other agency's replies. The others decide in less time
        # than handing the work to a thread would take.
        record = await asyncio.to_thread(sim.accept, key, payload, received_at=received_at)
    else:
        record = sim.accept(key, payload, received_at=received_at)
    if sim.answers_synchronously(record):
        # Event-loop sleep: a slow agency must not hold up the others in this process.
        while (wait := sim.seconds_until_ready(record)) > 0:
            await asyncio.sleep(wait)
        sim.time_outcome(key, record, answered=True)
    return record


def lost_reply(
    sim: AgencySimulator, *, server_error: Callable[[], Response], dropped: Callable[[], Response]
) -> Response | None:
    """The reply that replaces the real one when the scenario says it gets lost, else None."""
    lost = sim.roll_lost_reply()
    if lost == "http_500":
        return server_error()
    if lost == "drop":
        return dropped()
    return None
