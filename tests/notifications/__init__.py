"""Reading what the simulated SMS gateway sent, as the outbox, code and page tests do."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from orchestrator.filings.models import Filing
from orchestrator.notifications.models import OutboxMessage, OutboxStatus
from orchestrator.runtime import Runtime
from tests.filings import simulators

_NUMBERS = itertools.count(1)
# How a one-time code reads in its text (orchestrator/notifications/texts.py).
CODE_IN_TEXT = re.compile(r"验证码(\d{6})")


def fresh_mobile() -> str:
    """A mobile number no other test's filing texts (139 and 8 digits of a counter)."""
    return f"139{next(_NUMBERS) + 40_000_000:08d}"


def texts_to(rt: Runtime, mobile: str) -> list[dict[str, Any]]:
    """Every text the simulated gateway sent `mobile`, oldest first (`to`, `text`, ...)."""
    with simulators(rt) as sim:
        response = sim.get("/_sim/sms/messages", params={"to": mobile})
    response.raise_for_status()
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


def wait_for_texts(
    rt: Runtime, mobile: str, count: int, *, about: str = "", timeout: float = 20
) -> list[str]:
    """The texts sent `mobile` (those that mention `about`, if given) once there are at least
    `count` of them (their bodies)."""
    deadline = time.monotonic() + timeout
    while True:
        texts = [m["text"] for m in texts_to(rt, mobile) if about in m["text"]]
        if len(texts) >= count:
            return texts
        if time.monotonic() > deadline:
            pytest.fail(f"{len(texts)} of {count} texts reached {mobile}: {texts}")
        time.sleep(0.05)


def codes_texted(rt: Runtime, mobile: str) -> list[str]:
    """The one-time codes texted to `mobile` so far, oldest first (its other texts left out)."""
    found = (CODE_IN_TEXT.search(m["text"]) for m in texts_to(rt, mobile))
    return [match.group(1) for match in found if match]


def mobile_of(rt: Runtime, tracking_code: str) -> str:
    """The mobile of the filing's legal representative: where its one-time codes go."""
    with rt.database.reading() as session:
        filing = session.scalars(select(Filing).where(Filing.tracking_code == tracking_code)).one()
        mobile: str = filing.payload["legal_representative"]["mobile"]
    return mobile


def code_sent_by(
    rt: Runtime, tracking_code: str, send: Callable[[], object], *, timeout: float = 20
) -> str:
    """The one-time code that `send` (a page's "send me a code", pressed or posted) had
    texted to the filing's legal representative, read at the simulated SMS gateway."""
    mobile = mobile_of(rt, tracking_code)
    before = len(codes_texted(rt, mobile))
    send()
    deadline = time.monotonic() + timeout
    while len(codes := codes_texted(rt, mobile)) <= before:
        if time.monotonic() > deadline:
            pytest.fail(f"no new code reached {mobile} ({len(codes)} before and after)")
        time.sleep(0.05)
    return codes[-1]


def outbox_rows(rt: Runtime, mobile: str) -> list[OutboxMessage]:
    """The outbox's rows for `mobile`, in the order written."""
    with rt.database.transaction() as session:
        return list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.mobile == mobile)
                .order_by(OutboxMessage.id)
            )
        )


def wait_until_marked_sent(rt: Runtime, mobile: str, *, timeout: float = 10) -> None:
    """Until every outbox row for `mobile` is marked sent (the mark follows the gateway's
    answer, so a text can be at the gateway a moment before its row says so)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = outbox_rows(rt, mobile)
        if all(r.status == OutboxStatus.SENT for r in rows):
            return
        if time.monotonic() > deadline:
            pytest.fail(f"not all marked sent: {[(r.kind, r.status) for r in rows]}")
        time.sleep(0.05)
