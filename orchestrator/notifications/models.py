"""The outbox: each text to send, written in the transaction of what causes it."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import cast

from sqlalchemy import ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from orchestrator.db import Base, str_enum


class OutboxStatus(enum.StrEnum):
    """Where a text stands: waiting to go, handed to the gateway, or never to go."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # the gateway refused it on the merits (not a mobile number)
    EXPIRED = "expired"  # it could not go before it lost its point (a one-time code)


class OutboxMessage(Base):
    """One text to one mobile. `key` is the gateway's idempotency key: a text sent again
    (redelivered, swept, crashed before it was marked sent) is still one text."""

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    filing_id: Mapped[int | None] = mapped_column(ForeignKey("filing.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    mobile: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[OutboxStatus] = mapped_column(str_enum(OutboxStatus))
    created_at: Mapped[datetime]
    # When the sweeper should send it if no task has: the lease of the send after commit.
    next_attempt_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    sent_at: Mapped[datetime | None]
    gateway_ref: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(String(500))


OUTBOX_TABLE = cast(Table, OutboxMessage.__table__)
