"""A branch's work queue: its filings in buckets a clerk switches between, each with its count.

A filing may sit in several buckets at once (in progress and past its deadline); every
bucket is a condition on the filing, counted and listed in the database, within what the
caller's access scope may see and what the search finds.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, select, true
from sqlalchemy.orm import Session

from orchestrator.filings import service, supplements
from orchestrator.filings.models import Filing, FilingStatus, Material, MaterialStatus, SlaState
from orchestrator.identity.service import Scope


class Bucket(enum.StrEnum):
    """The work queue's buckets, in the order a clerk sees them."""

    ALL = "all"
    IN_PROGRESS = "in_progress"  # accepted, steps under way
    NEEDS_ATTENTION = "needs_attention"  # an agency refused a step: staff must act
    WAITING_SUPPLEMENT = "waiting_supplement"  # a 容缺 material is still outstanding
    SUPPLEMENT_TO_CONFIRM = "supplement_to_confirm"  # the applicant sent one: check it
    MATERIAL_OVERDUE = "material_overdue"  # a 容缺 material's due date has passed
    AT_RISK = "at_risk"  # the tracker predicts it ready after its deadline
    OVERDUE = "overdue"  # not ready, and its committed deadline has passed
    READY = "ready"  # every agency step done; licence and seals not handed over yet
    DONE = "done"  # complete


# Not ready yet: the SLA clock still runs, and a missing material still holds a step.
_OPEN = (FilingStatus.ACCEPTED, FilingStatus.ACTION_REQUIRED)


def condition(bucket: Bucket, *, now: datetime) -> ColumnElement[bool]:
    """Whether a filing is in `bucket` at `now`."""
    if bucket == Bucket.ALL:
        return true()
    if bucket == Bucket.IN_PROGRESS:
        return Filing.status == FilingStatus.ACCEPTED
    if bucket == Bucket.NEEDS_ATTENTION:
        return Filing.status == FilingStatus.ACTION_REQUIRED
    if bucket == Bucket.WAITING_SUPPLEMENT:
        return and_(Filing.status.in_(_OPEN), _missing())
    if bucket == Bucket.MATERIAL_OVERDUE:
        return and_(Filing.status.in_(_OPEN), _missing(Material.due_at < now))
    if bucket == Bucket.SUPPLEMENT_TO_CONFIRM:
        return supplements.awaiting_confirmation()
    if bucket == Bucket.AT_RISK:
        return and_(Filing.status.in_(_OPEN), Filing.sla_state == SlaState.AT_RISK)
    if bucket == Bucket.OVERDUE:
        return and_(Filing.status.in_(_OPEN), Filing.deadline_at < now)
    if bucket == Bucket.READY:
        return Filing.status == FilingStatus.READY
    assert bucket == Bucket.DONE
    return Filing.status == FilingStatus.COMPLETE


def _missing(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    """Whether the filing has a 容缺 material still missing (that meets `conditions`)."""
    return exists(
        select(Material.id).where(
            Material.filing_id == Filing.id, Material.status == MaterialStatus.MISSING, *conditions
        )
    )


def counts(session: Session, scope: Scope, *, now: datetime, search: str = "") -> dict[Bucket, int]:
    """How many filings the scope may see (and the search finds) are in each bucket."""
    columns = [
        func.coalesce(func.sum(case((condition(bucket, now=now), 1), else_=0)), 0)
        for bucket in Bucket
    ]
    row = session.execute(
        select(*columns).select_from(Filing).where(*service.visible_matching(scope, search))
    ).one()
    return {bucket: int(count) for bucket, count in zip(Bucket, row, strict=True)}


def page(
    session: Session,
    scope: Scope,
    bucket: Bucket,
    *,
    now: datetime,
    search: str = "",
    number: int = 1,
    page_size: int = 50,
) -> tuple[list[Filing], int]:
    """A page of a bucket's filings, newest first (with their steps), and how many in all."""
    where: tuple[Any, ...] = (condition(bucket, now=now),) if bucket != Bucket.ALL else ()
    return service.list_filings(
        session, scope, search=search, page=number, page_size=page_size, where=where
    )
