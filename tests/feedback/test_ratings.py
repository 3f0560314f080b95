"""好差评: rating a completed filing, and a bad rating's follow-up on the manager's queue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from orchestrator.errors import Conflict, Invalid, NotFound
from orchestrator.feedback import service as feedback
from orchestrator.feedback.models import FollowUp, FollowUpStatus, Rating
from orchestrator.filings.models import Event, Filing
from orchestrator.runtime import Runtime
from tests.filings import complete, file, wait_for
from tests.notifications import mobile_of, texts_to, wait_for_texts
from tests.people import BranchStaff

pytestmark = pytest.mark.databases("sqlite", "postgresql")

MANAGER = "staff:manager"


def _completed(rt: Runtime, staff: BranchStaff) -> str:
    code = file(rt, staff)
    wait_for(rt, code, complete)
    return code


def _rate(rt: Runtime, code: str, score: object, comment: str = "") -> Rating:
    with rt.database.transaction() as session:
        filing = session.scalars(select(Filing).where(Filing.tracking_code == code)).one()
        rating = feedback.rate(
            session, filing=filing, score=score, comment=comment, now=rt.clock.now()
        )
        session.flush()
        session.expunge(rating)
        return rating


def _follow_up_of(rt: Runtime, rating: Rating) -> FollowUp | None:
    with rt.database.reading() as session:
        found = session.scalars(select(FollowUp).where(FollowUp.rating_id == rating.id)).first()
        if found is not None:
            session.expunge(found)
        return found


def _advance(
    rt: Runtime, follow_up_id: int, to: FollowUpStatus, branch_id: int, note: str = "checked"
) -> FollowUp:
    with rt.database.transaction() as session:
        moved = feedback.advance(
            session,
            follow_up_id=follow_up_id,
            to=to,
            branch_id=branch_id,
            actor=MANAGER,
            note=note,
            now=rt.clock.now(),
        )
        session.expunge(moved)
        return moved


def _event_kinds(rt: Runtime, code: str) -> list[str]:
    with rt.database.reading() as session:
        return list(
            session.scalars(
                select(Event.kind)
                .join(Filing, Filing.id == Event.filing_id)
                .where(Filing.tracking_code == code)
                .order_by(Event.id)
            )
        )


class TestRate:
    def test_a_filing_under_way_cannot_be_rated(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        code = file(onestop, branch_staff, dispatch=False)
        with pytest.raises(Conflict) as refused:
            _rate(onestop, code, 5)
        assert "办结后" in refused.value.message_zh and "complete" in refused.value.message_en

    @pytest.mark.parametrize("score", [0, 6, "x", "", "2.5", None])
    def test_a_score_outside_one_to_five_is_refused_in_both_languages(
        self, onestop: Runtime, branch_staff: BranchStaff, score: object
    ) -> None:
        code = _completed(onestop, branch_staff)
        with pytest.raises(Invalid) as refused:
            _rate(onestop, code, score)
        assert refused.value.detail["field"] == "score"
        assert "1 至 5" in refused.value.message_zh and "1 to 5" in refused.value.message_en
        _rate(onestop, code, 4)

    def test_a_comment_too_long_or_with_control_characters_is_refused(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        code = _completed(onestop, branch_staff)
        for comment in ("好" * (feedback.MAX_COMMENT_CHARS + 1), "ok\x00"):
            with pytest.raises(Invalid) as refused:
                _rate(onestop, code, 3, comment)
            assert refused.value.detail["field"] == "comment"
        rating = _rate(onestop, code, 3, "  办得很快\n谢谢  ")
        assert rating.comment == "办得很快\n谢谢" and rating.round == 1

    def test_a_good_rating_opens_no_follow_up_and_a_second_rating_is_refused(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        code = _completed(onestop, branch_staff)
        rating = _rate(onestop, code, 5)
        assert _follow_up_of(onestop, rating) is None
        with pytest.raises(Conflict):
            _rate(onestop, code, 1)
        assert _event_kinds(onestop, code).count("rated") == 1


class TestFollowUp:
    def test_a_bad_rating_goes_through_verified_put_right_answered_and_is_rated_again(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        code = _completed(onestop, branch_staff)
        rating = _rate(onestop, code, 2, "等了很久")
        follow_up = _follow_up_of(onestop, rating)
        assert follow_up is not None and follow_up.status == FollowUpStatus.OPEN
        assert follow_up.branch_id == branch_staff.branch_id
        with onestop.database.reading() as session:
            queue = feedback.open_follow_ups(session, branch_id=branch_staff.branch_id)
        (item,) = [i for i in queue if i.id == follow_up.id]
        assert item.tracking_code == code and item.score == 2 and item.comment == "等了很久"

        # Out of order: nothing moves.
        with pytest.raises(Conflict):
            _advance(onestop, follow_up.id, FollowUpStatus.ANSWERED, branch_staff.branch_id)
        verified = _advance(
            onestop, follow_up.id, FollowUpStatus.VERIFIED, branch_staff.branch_id, "核实属实"
        )
        assert verified.finding == "核实属实" and verified.verified_by == MANAGER
        _advance(onestop, follow_up.id, FollowUpStatus.PUT_RIGHT, branch_staff.branch_id)
        with onestop.database.reading() as session:
            filing = session.scalars(select(Filing).where(Filing.tracking_code == code)).one()
            assert not feedback.rating_state(session, filing).may_rate  # not answered yet
        answered = _advance(onestop, follow_up.id, FollowUpStatus.ANSWERED, branch_staff.branch_id)
        assert answered.rerate_invited_at is not None and answered.rerating_id is None
        with onestop.database.reading() as session:
            queue = feedback.open_follow_ups(session, branch_id=branch_staff.branch_id)
            filing = session.scalars(select(Filing).where(Filing.tracking_code == code)).one()
            state = feedback.rating_state(session, filing)
        assert follow_up.id not in {i.id for i in queue}  # answered: off the queue
        assert state.may_rate and state.invited_by == follow_up.id

        again = _rate(onestop, code, 5, "问题已解决")
        assert again.round == 2
        settled = _follow_up_of(onestop, rating)
        assert settled is not None and settled.rerating_id == again.id
        with pytest.raises(Conflict):  # the invitation is spent
            _rate(onestop, code, 5)
        kinds = _event_kinds(onestop, code)
        for kind in (
            "rated",
            "follow_up_opened",
            "follow_up_verified",
            "follow_up_put_right",
            "follow_up_answered",
            "rerate_invited",
        ):
            assert kind in kinds

    def test_another_branchs_follow_up_is_not_found_and_a_note_is_required(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        code = _completed(onestop, branch_staff)
        follow_up = _follow_up_of(onestop, _rate(onestop, code, 1))
        assert follow_up is not None
        with pytest.raises(NotFound):
            _advance(onestop, follow_up.id, FollowUpStatus.VERIFIED, branch_staff.branch_id + 1000)
        with pytest.raises(Invalid) as refused:
            _advance(onestop, follow_up.id, FollowUpStatus.VERIFIED, branch_staff.branch_id, " ")
        assert refused.value.detail["field"] == "note"
        unchanged = _follow_up_of(onestop, _rating(onestop, follow_up.rating_id))
        assert unchanged is not None and unchanged.status == FollowUpStatus.OPEN

    def test_the_answer_invites_the_applicant_by_text_to_rate_again(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        code = _completed(onestop, branch_staff)
        mobile = mobile_of(onestop, code)
        follow_up = _follow_up_of(onestop, _rate(onestop, code, 2))
        assert follow_up is not None
        for to in (FollowUpStatus.VERIFIED, FollowUpStatus.PUT_RIGHT):
            _advance(onestop, follow_up.id, to, branch_staff.branch_id)
        before = [m["text"] for m in texts_to(onestop, mobile)]
        assert not any("再次评价" in text for text in before)
        answered = _advance(onestop, follow_up.id, FollowUpStatus.ANSWERED, branch_staff.branch_id)
        assert answered.rerate_invited_at is not None
        assert answered.rerate_invited_at <= onestop.clock.now() + timedelta(seconds=1)
        texts = wait_for_texts(onestop, mobile, len(before) + 1)
        (invitation,) = [text for text in texts if "再次评价" in text]
        assert f"/track/?code={code}" in invitation


def _rating(rt: Runtime, rating_id: int) -> Rating:
    with rt.database.reading() as session:
        rating = session.get(Rating, rating_id)
        assert rating is not None
        session.expunge(rating)
        return rating
