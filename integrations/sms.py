"""The SMS gateway: texts to the applicant's mobile, each sent under an idempotency key.

It speaks the agencies' REST/JSON protocol (`integrations.rest`): a text sent twice under
one key is one text at the gateway, and `status` asks what became of a key. An invalid
number is a `RejectedError` (no retry helps); an outage or a timeout a `TransientError`.
The gateway is no agency of a filing's steps: the core's outbox sends through it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from integrations.adapter import Channel, Finished, Reply
from integrations.base import TransientError
from integrations.rest import RestChannel

GATEWAY = "sms"
MAX_TEXT_LENGTH = 500  # a long SMS is split by the carriers; ours are a few lines


class TextMessage(BaseModel):
    """One text to one mobile number (mainland China, 11 digits)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    to: str = Field(pattern=r"^1[3-9][0-9]{9}$")
    text: str = Field(min_length=1, max_length=MAX_TEXT_LENGTH)


@dataclass(frozen=True)
class Sent:
    """The gateway took the text: `message_id` is its number for it ("" while it queues)."""

    message_id: str
    state: str  # "delivered", "sent", or "queued" (the gateway has it and will send it)


class SmsGateway:
    """Sends texts through the gateway's REST endpoint; raises only `AgencyError` kinds."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    def send(self, message: TextMessage, *, idempotency_key: str) -> Sent:
        """Hand the text to the gateway; the same key never makes a second text."""
        reply = self._channel.send(
            {"to": message.to, "text": message.text}, idempotency_key=idempotency_key
        )
        return _sent(reply)

    def status(self, idempotency_key: str) -> Sent | None:
        """What became of the text sent under this key; None if the gateway never saw it."""
        reply = self._channel.query(idempotency_key)
        return None if reply is None else _sent(reply)

    def close(self) -> None:
        """Release connections."""
        self._channel.close()


def _sent(reply: Reply) -> Sent:
    if not isinstance(reply, Finished):
        return Sent(message_id="", state="queued")  # recorded under the key: it will go out
    payload: Mapping[str, Any] = reply.payload
    message_id, state = payload.get("message_id"), payload.get("state", "sent")
    if not isinstance(message_id, str) or not isinstance(state, str):
        raise TransientError("sms: the reply names no message", code="unexpected_reply")
    return Sent(message_id=message_id, state=state.lower())


def build_sms_gateway(base_url: str, *, timeout: float) -> SmsGateway:
    """The gateway under `base_url` (its REST endpoint is `{base_url}/sms/v1`)."""
    return SmsGateway(RestChannel(base_url, GATEWAY, timeout=timeout))
