"""The subsidy ledger (append-only entries in fen) and each district's month (its budget use).

An entry concerns one item of one filing (a seal kind, or the courier parcel). An item has at
most one opening entry (reserved, or fallback when the budget could not cover it) and at most
one closing entry (settled or released): the unique key on (filing, item, closing) is what
makes a second settlement impossible, whatever the callers do.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import cast

from sqlalchemy import BigInteger, ForeignKey, Index, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orchestrator.db import Base, str_enum

PERIOD_LENGTH = 7  # "2026-12": a calendar month in China


class EntryKind(enum.StrEnum):
    """What an entry records; `reserved` and `fallback` open an item, the others close it."""

    RESERVED = "reserved"  # at acceptance: the budget holds the amount for the firm
    FALLBACK = "fallback"  # at acceptance: the budget could not: the firm pays (the amount)
    SETTLED = "settled"  # at completion: the district owes the vendor the reserved amount
    RELEASED = "released"  # at cancellation or withdrawal: the amount goes back to the budget


CLOSING_KINDS = (EntryKind.SETTLED, EntryKind.RELEASED)


class SubsidyEntry(Base):
    """One line of the ledger, booked in an open month (`period`) and never changed."""

    __tablename__ = "subsidy_entry"
    __table_args__ = (
        # Also the index of a filing's entries (filing_id leads).
        UniqueConstraint("filing_id", "item", "closing", name="uq_subsidy_entry_item_closing"),
        Index("ix_subsidy_entry_period", "district_code", "period", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    filing_id: Mapped[int] = mapped_column(ForeignKey("filing.id"))
    district_code: Mapped[str] = mapped_column(String(6))
    period: Mapped[str] = mapped_column(String(PERIOD_LENGTH))
    item: Mapped[str] = mapped_column(String(40))  # "seal:official", "courier"
    vendor: Mapped[str] = mapped_column(String(30))  # the agency that does it: "seal", "courier"
    kind: Mapped[EntryKind] = mapped_column(str_enum(EntryKind))
    closing: Mapped[bool]
    amount_fen: Mapped[int]
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(60))


class SubsidyPeriod(Base):
    """A district's month: the row every entry booked in it is serialised on.

    `committed_fen` is what its reservations hold (reserved less released, by the month of
    the reservation), checked against the budget in force at each reservation
    (`budget_fen`, the last one seen); `settled_fen` is what is owed for it to the vendors
    (its reimbursement report). Both are sums of the ledger, kept here so that a
    reservation decides on one locked row. Once approved (`approved_at`, `approved_by`: the
    audited act), nothing more is booked in the month.
    """

    __tablename__ = "subsidy_period"

    district_code: Mapped[str] = mapped_column(ForeignKey("district.code"), primary_key=True)
    period: Mapped[str] = mapped_column(String(PERIOD_LENGTH), primary_key=True)
    # A month's sums in fen may pass 2^31 (¥21 million) where one entry never does.
    budget_fen: Mapped[int] = mapped_column(BigInteger)
    committed_fen: Mapped[int] = mapped_column(BigInteger)
    settled_fen: Mapped[int] = mapped_column(BigInteger)
    approved_at: Mapped[datetime | None]
    approved_by: Mapped[str | None] = mapped_column(String(60))


ENTRY_TABLE = cast(Table, SubsidyEntry.__table__)
PERIOD_TABLE = cast(Table, SubsidyPeriod.__table__)
