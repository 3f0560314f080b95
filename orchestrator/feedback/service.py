"""好差评: rating a completed filing, and following a bad rating up until it is answered.

The applicant rates a filing once it is complete: 1 to 5, with an optional comment. A rating
of 1 or 2 opens a follow-up on the branch manager's queue, which the manager takes through
verified → put right → answered; at the answer the applicant is invited to rate again
(`invite_to_rate_again`), and that re-rating is recorded against the follow-up.

Only an applicant who proved they hold the mobile (a one-time code, checked by the caller
before it calls `rate`) and a manager of the filing's branch (checked by the caller: the
branch is `branch_id` here) reach these services. They never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from orchestrator.errors import Conflict, Invalid, NotFound
from orchestrator.feedback.models import FollowUp, FollowUpStatus, Rating
from orchestrator.filings.history import record
from orchestrator.filings.models import Filing, FilingStatus
from orchestrator.notifications import notices, outbox
from orchestrator.notifications.notices import FilingFacts

LOWEST_SCORE, HIGHEST_SCORE = 1, 5
# A rating this low or lower opens a follow-up (差评).
BAD_SCORE = 2
MAX_COMMENT_CHARS = 500
MAX_NOTE_CHARS = 1000
APPLICANT = "applicant"

# Each act of a follow-up: the state it leaves, the columns it fills, the event it records.
_ACTS: dict[FollowUpStatus, tuple[FollowUpStatus, str, str, str, str]] = {
    FollowUpStatus.VERIFIED: (
        FollowUpStatus.OPEN, "verified_at", "verified_by", "finding", "follow_up_verified"
    ),
    FollowUpStatus.PUT_RIGHT: (
        FollowUpStatus.VERIFIED, "put_right_at", "put_right_by", "remedy", "follow_up_put_right"
    ),
    FollowUpStatus.ANSWERED: (
        FollowUpStatus.PUT_RIGHT, "answered_at", "answered_by", "answer", "follow_up_answered"
    ),
}  # fmt: skip


@dataclass(frozen=True)
class RatingState:
    """Whether the applicant may rate the filing now, and the ratings given so far."""

    may_rate: bool
    invited_by: int | None  # the answered follow-up whose invitation a rating now answers
    scores: tuple[int, ...]  # oldest first


def rating_state(session: Session, filing: Filing) -> RatingState:
    """Whether `filing` may be rated now: complete, and not rated yet or invited to re-rate."""
    scores = tuple(
        session.scalars(
            select(Rating.score).where(Rating.filing_id == filing.id).order_by(Rating.round)
        )
    )
    invited = session.scalar(
        select(FollowUp.id).where(
            FollowUp.filing_id == filing.id,
            FollowUp.status == FollowUpStatus.ANSWERED,
            FollowUp.rerating_id.is_(None),
        )
    )
    complete = filing.status == FilingStatus.COMPLETE
    return RatingState(
        may_rate=complete and (not scores or invited is not None),
        invited_by=invited if scores else None,
        scores=scores,
    )


def _score(value: Any) -> int:
    try:
        score = int(str(value).strip())
    except ValueError:
        score = 0
    if not LOWEST_SCORE <= score <= HIGHEST_SCORE:
        raise Invalid(
            f"评分应为 {LOWEST_SCORE} 至 {HIGHEST_SCORE} 之间的整数",
            f"a rating is a whole number from {LOWEST_SCORE} to {HIGHEST_SCORE}",
            field="score",
        )
    return score


def _text(value: str, *, field: str, limit: int, required: bool) -> str:
    text = value.strip()
    if required and not text:
        raise Invalid("请填写此项", "this cannot be left empty", field=field)
    if len(text) > limit:
        raise Invalid(
            f"最多 {limit} 个字符，输入的有 {len(text)} 个",
            f"at most {limit} characters; this has {len(text)}",
            field=field,
        )
    if not all(ch.isprintable() or ch in "\r\n" for ch in text):
        raise Invalid("不能含控制字符", "cannot contain control characters", field=field)
    return text


def rate(session: Session, *, filing: Filing, score: Any, comment: str, now: datetime) -> Rating:
    """Record the applicant's rating of `filing`; a rating of `BAD_SCORE` or less opens a
    follow-up. Invalid for a score outside 1–5 or a comment too long; Conflict if the filing
    is not complete, or was rated already and no answered follow-up invites a new rating."""
    checked_score = _score(score)
    checked_comment = _text(comment, field="comment", limit=MAX_COMMENT_CHARS, required=False)
    state = rating_state(session, filing)
    if filing.status != FilingStatus.COMPLETE:
        raise Conflict("办结后才能评价", "a filing can be rated once it is complete", field="score")
    already = Conflict("该申请已评价", "this filing has been rated already", field="score")
    if not state.may_rate:
        raise already
    rating = Rating(
        filing_id=filing.id,
        round=len(state.scores) + 1,
        score=checked_score,
        comment=checked_comment,
        created_at=now,
    )
    try:
        # Two ratings sent at once both read the same round: the unique round refuses one.
        with session.begin_nested():
            session.add(rating)
            session.flush()
    except IntegrityError as exc:
        raise already from exc
    if state.invited_by is not None:
        session.execute(
            update(FollowUp)
            .where(FollowUp.id == state.invited_by)
            .values(rerating_id=rating.id)
            .execution_options(synchronize_session=False)
        )
    record(session, filing.id, "rated", at=now, actor=APPLICANT, score=checked_score)
    if checked_score <= BAD_SCORE:
        follow_up = FollowUp(
            filing_id=filing.id,
            branch_id=filing.branch_id,
            rating_id=rating.id,
            status=FollowUpStatus.OPEN,
            opened_at=now,
        )
        session.add(follow_up)
        session.flush()
        record(session, filing.id, "follow_up_opened", at=now, follow_up=follow_up.id)
    return rating


@dataclass(frozen=True)
class FollowUpItem:
    """A follow-up as the manager's queue shows it."""

    id: int
    status: FollowUpStatus
    tracking_code: str
    company_name: str
    score: int
    comment: str
    rated_at: datetime
    opened_at: datetime
    finding: str | None
    remedy: str | None


def open_follow_ups(session: Session, *, branch_id: int) -> list[FollowUpItem]:
    """The branch's follow-ups not answered yet, oldest first."""
    rows = session.execute(
        select(FollowUp, Rating, Filing.tracking_code, Filing.company_name)
        .join(Rating, Rating.id == FollowUp.rating_id)
        .join(Filing, Filing.id == FollowUp.filing_id)
        .where(FollowUp.branch_id == branch_id, FollowUp.status != FollowUpStatus.ANSWERED)
        .order_by(FollowUp.opened_at, FollowUp.id)
    ).all()
    return [
        FollowUpItem(
            id=follow_up.id,
            status=follow_up.status,
            tracking_code=code,
            company_name=name,
            score=rating.score,
            comment=rating.comment,
            rated_at=rating.created_at,
            opened_at=follow_up.opened_at,
            finding=follow_up.finding,
            remedy=follow_up.remedy,
        )
        for follow_up, rating, code, name in rows
    ]


def advance(
    session: Session,
    *,
    follow_up_id: int,
    to: FollowUpStatus,
    branch_id: int,
    actor: str,
    note: str,
    now: datetime,
) -> FollowUp:
    """Take the branch's follow-up one act on (to `to`), with what the manager wrote.

    NotFound for a follow-up of another branch (its existence is not theirs to know);
    Conflict if it is not in the state that act follows; Invalid for an empty or long note.
    """
    if to not in _ACTS:
        raise Invalid("无此处理环节", "no such follow-up step", field="to")
    before, at_column, by_column, note_column, event = _ACTS[to]
    text = _text(note, field="note", limit=MAX_NOTE_CHARS, required=True)
    values: dict[str, Any] = {"status": to, at_column: now, by_column: actor, note_column: text}
    if to == FollowUpStatus.ANSWERED:
        values["rerate_invited_at"] = now
    moved = cast(
        CursorResult[Any],
        session.execute(
            update(FollowUp)
            .where(
                FollowUp.id == follow_up_id,
                FollowUp.branch_id == branch_id,
                FollowUp.status == before,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        ),
    )
    follow_up = session.scalars(
        select(FollowUp).where(FollowUp.id == follow_up_id, FollowUp.branch_id == branch_id)
    ).first()
    if follow_up is None:
        raise NotFound("未找到该回访", "no such follow-up", follow_up=follow_up_id)
    if moved.rowcount != 1:
        raise Conflict(
            "该回访已不在这一环节，请刷新后再试",
            "this follow-up has moved on: reload and try again",
            follow_up=follow_up_id,
        )
    session.refresh(follow_up)
    record(session, follow_up.filing_id, event, at=now, actor=actor, follow_up=follow_up_id)
    if to == FollowUpStatus.ANSWERED:
        invite_to_rate_again(session, follow_up=follow_up, now=now)
    return follow_up


def invite_to_rate_again(session: Session, *, follow_up: FollowUp, now: datetime) -> None:
    """Invite the applicant to rate the filing again: recorded in the filing's history, and
    texted to the legal representative's mobile through the outbox (in this transaction, so
    that it goes exactly once)."""
    record(session, follow_up.filing_id, "rerate_invited", at=now, follow_up=follow_up.id)
    filing = session.get(Filing, follow_up.filing_id)
    assert filing is not None, "a follow-up's filing is never deleted"
    facts = FilingFacts(
        filing_id=filing.id,
        tracking_code=filing.tracking_code,
        company_name=filing.company_name,
        mobile=filing.payload["legal_representative"]["mobile"],
    )
    send_by = now + notices.SEND_LEASE
    notices.announce(session.connection(), "rerate_invited", facts, now=now, send_by=send_by)
    outbox.send_after_commit(session)
