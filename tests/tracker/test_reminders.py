"""容缺 materials coming due: one reminder to the applicant a working day before, one flag
to the branch once past due, however often the tracker's pass runs."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from orchestrator.filings import queue
from orchestrator.filings.models import Event, Filing, Material
from orchestrator.notifications.models import OutboxMessage
from orchestrator.runtime import Runtime
from orchestrator.tracker.reminders import Pass, remind_and_flag
from tests.factories import ALL_MATERIALS
from tests.filings import file
from tests.people import BranchStaff
from tests.tracker import branch_managers, staff_notices

pytestmark = pytest.mark.databases("sqlite", "postgresql")

MATERIAL = "housing_fund_authorisation"  # 容缺 at intake: due 5 working days after


def _missing_material(rt: Runtime, staff: BranchStaff) -> tuple[str, datetime]:
    code = file(rt, staff, materials=[m for m in ALL_MATERIALS if m != MATERIAL])
    with rt.database.reading() as session:
        due = session.scalars(
            select(Material.due_at)
            .join(Filing)
            .where(Filing.tracking_code == code, Material.code == MATERIAL)
        ).one()
    assert due is not None
    return code, due


def _pass(rt: Runtime, now: datetime) -> Pass:
    with rt.database.transaction() as session:
        return remind_and_flag(session, calendar=rt.calendar, now=now, send_by=now)


def _mine(done: Pass, code: str) -> tuple[list[str], list[str]]:
    """What a pass did to this test's filing (others' filings may share the database)."""
    return (
        [material for tracking, material in done.reminded if tracking == code],
        [material for tracking, material in done.flagged if tracking == code],
    )


def _history(rt: Runtime, code: str) -> list[str]:
    with rt.database.reading() as session:
        return list(
            session.scalars(
                select(Event.kind)
                .join(Filing)
                .where(Filing.tracking_code == code)
                .order_by(Event.id)
            )
        )


def _reminder_texts(rt: Runtime, code: str) -> int:
    with rt.database.reading() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .join(Filing, Filing.id == OutboxMessage.filing_id)
                .where(Filing.tracking_code == code, OutboxMessage.kind == "material_reminder")
            )
            or 0
        )


def _overdue_in_queue(rt: Runtime, staff: BranchStaff, code: str, now: datetime) -> bool:
    with rt.database.reading() as session:
        filings, _ = queue.page(
            session, staff.clerk.scope, queue.Bucket.MATERIAL_OVERDUE, now=now, search=code
        )
    return [f.tracking_code for f in filings] == [code]


def test_reminded_once_a_working_day_before_and_flagged_once_past_due(
    onestop: Runtime, branch_staff: BranchStaff
) -> None:
    code, due = _missing_material(onestop, branch_staff)
    assert _mine(_pass(onestop, onestop.clock.now()), code) == ([], [])

    a_working_hour_before = due - timedelta(hours=1)
    assert _mine(_pass(onestop, a_working_hour_before), code) == ([MATERIAL], [])
    assert _mine(_pass(onestop, a_working_hour_before), code) == ([], [])
    assert _reminder_texts(onestop, code) == 1
    assert not _overdue_in_queue(onestop, branch_staff, code, a_working_hour_before)

    past = due + timedelta(minutes=1)
    assert _mine(_pass(onestop, past), code) == ([], [MATERIAL])
    assert _mine(_pass(onestop, past + timedelta(days=3)), code) == ([], [])
    kinds = _history(onestop, code)
    assert kinds.count("material_reminded") == 1 and kinds.count("material_overdue") == 1
    assert _reminder_texts(onestop, code) == 1
    assert _overdue_in_queue(onestop, branch_staff, code, past)


def test_a_material_first_seen_past_due_is_flagged_and_not_reminded(
    onestop: Runtime, branch_staff: BranchStaff
) -> None:
    code, due = _missing_material(onestop, branch_staff)
    # The tracker was down for a while: a reminder of a date already passed would mislead.
    assert _mine(_pass(onestop, due + timedelta(hours=2)), code) == ([], [MATERIAL])
    assert _mine(_pass(onestop, due + timedelta(hours=3)), code) == ([], [])
    assert _reminder_texts(onestop, code) == 0


def test_the_clerk_who_filed_and_the_branch_managers_find_it_in_their_inbox_once(
    onestop: Runtime, branch_staff: BranchStaff
) -> None:
    managers = branch_managers(onestop, branch_staff)
    code, due = _missing_material(onestop, branch_staff)
    _pass(onestop, due + timedelta(minutes=1))
    _pass(onestop, due + timedelta(minutes=2))
    assert sorted(staff_notices(onestop, code)) == sorted(
        (staff_id, "material_overdue") for staff_id in [branch_staff.clerk_id, *managers]
    )
