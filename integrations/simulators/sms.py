"""The simulated SMS gateway: validates the number, "sends" the text, and remembers it.

Every text it would have sent is kept, in order, for tests and the demo to read
(`GET /sms/v1/messages?to=...`, or `GET /_sim/sms/messages`, which no scripted outage
hides). The engine gives it what every simulated agency has: one text per idempotency
key however often it is sent, latency, transient errors, outages and lost replies.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import Field

from integrations.simulators.checks import Sequence, WireModel
from integrations.simulators.engine import AgencyRules, Completed, Decision, Refused, parse

# Mainland mobile numbers: 11 digits, 13x–19x.
_MOBILE = r"^1[3-9][0-9]{9}$"


class TextIn(WireModel):
    """What the gateway accepts: one text to one number."""

    to: str = Field(min_length=1, max_length=20)
    text: str = Field(min_length=1, max_length=500)


class SmsRules(AgencyRules):
    """Sends each new text (records it) unless its number is no mobile number."""

    name = "sms"

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self._serials = Sequence(rng, start_below=10**8)
        self._sent: list[dict[str, Any]] = []

    def decide(self, payload: object) -> Decision:
        """Send the text, or refuse a number that is not a mainland mobile."""
        text = parse(TextIn, payload)
        if not _is_mobile(text.to):
            return Refused("invalid_number", "the number is not a mainland mobile number")
        message_id = f"SM{self._serials.take():010d}"
        self._sent.append(
            {"message_id": message_id, "to": text.to, "text": text.text, "sent_at": time.time()}
        )
        return Completed(result={"message_id": message_id, "state": "DELIVERED"})

    def queries(self) -> Mapping[str, Callable[[Mapping[str, str]], dict[str, Any]]]:
        """`messages`: every text sent, oldest first (`to=` one number's only)."""
        return {"messages": self._messages}

    def _messages(self, params: Mapping[str, str]) -> dict[str, Any]:
        to = params.get("to")
        return {"messages": [dict(m) for m in self._sent if to is None or m["to"] == to]}


def _is_mobile(number: str) -> bool:
    return re.fullmatch(_MOBILE, number) is not None
