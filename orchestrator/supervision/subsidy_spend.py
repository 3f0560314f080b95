"""Subsidy spend against budget: the free seals and courier of the months a period touches.

Read from the district's month rows of the ledger (`subsidies.models.SubsidyPeriod`), which
the ledger keeps as it books: one row per district and month, whatever the history. The
budget is the district's, so a branch filter does not narrow this figure; for every
district at once (administrators) the months are summed and none is called approved.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orchestrator.subsidies.models import SubsidyPeriod
from orchestrator.supervision.figures import CsvTable, Filters, Period, Table


class MonthSpend(BaseModel):
    """One month of subsidies: what its reservations hold and what is owed, in fen."""

    month: str = Field(description="China calendar month, 2026-12")
    budget_fen: int
    committed_fen: int = Field(description="Reserved for the month's filings, less released")
    settled_fen: int = Field(description="Owed to the vendors (its reimbursement report)")
    share_committed: float | None = Field(description="committed / budget; null without one")
    approved: bool = Field(description="An officer approved the month's reimbursement")


class SubsidySpend(Table):
    """The months from the period's first to its last, those with any booking."""

    period: Period
    months: list[MonthSpend]
    committed_fen: int
    settled_fen: int

    def csv(self) -> CsvTable:
        """The months as a table."""
        header = list(MonthSpend.model_fields)
        return header, [[getattr(m, f) for f in header] for m in self.months]


def _month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def subsidy_spend(session: Session, filters: Filters) -> SubsidySpend:
    """The spend of `filters`' district (every district's summed, if none) by month."""
    month = SubsidyPeriod
    query = (
        select(
            month.period,
            func.sum(month.budget_fen),
            func.sum(month.committed_fen),
            func.sum(month.settled_fen),
            func.count(month.approved_at),
            func.count(),
        )
        .where(month.period >= _month(filters.start), month.period <= _month(filters.end))
        .group_by(month.period)
        .order_by(month.period)
    )
    if filters.district_code is not None:
        query = query.where(month.district_code == filters.district_code)
    months = [
        MonthSpend(
            month=period,
            budget_fen=int(budget),
            committed_fen=int(committed),
            settled_fen=int(settled),
            share_committed=round(int(committed) / int(budget), 4) if budget else None,
            approved=filters.district_code is not None and approved == rows,
        )
        for period, budget, committed, settled, approved, rows in session.execute(query)
    ]
    return SubsidySpend(
        period=Period.of(filters),
        months=months,
        committed_fen=sum(m.committed_fen for m in months),
        settled_fen=sum(m.settled_fen for m in months),
    )
