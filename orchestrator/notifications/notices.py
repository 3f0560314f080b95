"""Which event of a filing texts the applicant what: the one place that decides.

Callers say what happened, with the filing's facts; this module picks the texts
(`texts_for`) and writes them to the outbox in the caller's transaction (`announce`).
Every text goes to the legal representative's mobile, the one the tracking page checks.

    accepted       accepted, with the tracking link; and each 容缺 material still due
    material_reminder  each 容缺 material due within a working day (`tracker.reminders`)
    filing_ready   ready, with the unified social credit code
    shipped        the courier's waybill number (the delivery step finished with one)
    rerate_invited a bad rating's follow-up was answered: an invitation to rate again
    code_issued    a one-time code for the tracking page (`send_code`)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import Connection

from orchestrator.notifications import outbox, texts
from orchestrator.notifications.texts import Text
from orchestrator.settings import get_settings, tracking_url

FilingNotice = Literal["accepted", "material_reminder", "filing_ready", "shipped", "rerate_invited"]
# A text's own task has this long to send it; after that the next sweep does. The applicant
# waits for a code; other texts written outside a step's lease get the same.
SEND_LEASE = timedelta(seconds=30)


@dataclass(frozen=True)
class DueMaterial:
    """A 容缺 material still to supply, and by when."""

    name_zh: str
    name_en: str
    due_at: datetime


@dataclass(frozen=True)
class FilingFacts:
    """What the texts about a filing say; each event reads the facts it needs."""

    filing_id: int
    tracking_code: str
    company_name: str
    mobile: str  # the legal representative's
    credit_code: str | None = None
    waybill: str | None = None
    materials_due: tuple[DueMaterial, ...] = ()


def texts_for(event: FilingNotice, facts: FilingFacts, *, public_url: str) -> list[Text]:
    """The texts `event` sends the applicant (none if a fact it needs is missing)."""
    url = tracking_url(public_url, facts.tracking_code)
    if event == "accepted":
        welcome = texts.accepted(
            company_name=facts.company_name, tracking_code=facts.tracking_code, tracking_url=url
        )
        return [welcome, *_each_due(texts.material_due, facts, url)]
    if event == "material_reminder":
        return _each_due(texts.material_reminder, facts, url)
    if event == "filing_ready" and facts.credit_code:
        return [texts.ready(company_name=facts.company_name, credit_code=facts.credit_code)]
    if event == "shipped" and facts.waybill:
        return [texts.waybill(company_name=facts.company_name, waybill_no=facts.waybill)]
    if event == "rerate_invited":
        return [texts.rate_again(company_name=facts.company_name, tracking_url=url)]
    return []


def _each_due(text: Callable[..., Text], facts: FilingFacts, url: str) -> list[Text]:
    """`text` about each 容缺 material still due."""
    return [
        text(
            tracking_code=facts.tracking_code,
            name_zh=item.name_zh,
            name_en=item.name_en,
            due_at=item.due_at,
            tracking_url=url,
        )
        for item in facts.materials_due
    ]


def announce(
    conn: Connection, event: FilingNotice, facts: FilingFacts, *, now: datetime, send_by: datetime
) -> list[int]:
    """Write the texts of `event` to the outbox in the caller's transaction; their ids."""
    public_url = get_settings().public_base_url
    return [
        outbox.record(
            conn,
            text=text,
            mobile=facts.mobile,
            filing_id=facts.filing_id,
            now=now,
            send_by=send_by,
        )
        for text in texts_for(event, facts, public_url=public_url)
    ]


def send_code(
    conn: Connection,
    *,
    filing_id: int,
    mobile: str,
    code: str,
    purpose: str,
    now: datetime,
    expires_at: datetime,
) -> int:
    """Write a one-time code's text to the outbox; it is not sent once the code expired."""
    minutes = max(1, round((expires_at - now).total_seconds() / 60))
    return outbox.record(
        conn,
        text=texts.one_time_code(code=code, purpose=purpose, minutes=minutes),
        mobile=mobile,
        filing_id=filing_id,
        now=now,
        send_by=now + SEND_LEASE,
        expires_at=expires_at,
    )
