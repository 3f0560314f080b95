"""A small history with figures known by hand: four filings ready in March 2025 at a branch
of their own, two open with a 容缺 material missing (one past its deadline, one at risk), three
ratings, one open follow-up, and the district's subsidies of the month."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import update

from orchestrator.clock import CHINA
from orchestrator.feedback.models import FollowUp, FollowUpStatus, Rating
from orchestrator.filings.models import (
    Filing,
    FilingStatus,
    Material,
    MaterialStatus,
    SlaState,
    Step,
    StepStatus,
)
from orchestrator.identity.models import Role
from orchestrator.runtime import Runtime
from orchestrator.subsidies.models import SubsidyPeriod
from orchestrator.supervision.fold import fold_days
from tests.people import SHOUGUANG, shouguang_branch, staff_at

FIRST, LAST = date(2025, 3, 1), date(2025, 3, 31)
_codes = itertools.count(1)


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    """An instant of 2025 in China."""
    return datetime(2025, month, day, hour, minute, tzinfo=CHINA)


@dataclass(frozen=True)
class Known:
    branch_id: int
    manager_token_staff: int


def _filing(
    branch_id: int,
    staff_id: int,
    accepted: datetime,
    ready: datetime | None,
    *,
    steps: tuple[tuple[str, datetime, datetime], ...] = (),
    missing_due: datetime | None = None,
    sla_state: SlaState | None = None,
    open_steps: tuple[tuple[str, StepStatus, datetime], ...] = (),
) -> Filing:
    code = f"OSK{next(_codes):04d}{branch_id:05d}"
    filing = Filing(
        tracking_code=code,
        district_code=SHOUGUANG,
        branch_id=branch_id,
        created_by=staff_id,
        company_name=f"寿光市已知{code}有限公司",
        status=FilingStatus.COMPLETE if ready else FilingStatus.ACCEPTED,
        payload={},
        graph=[],
        accepted_at=accepted,
        sla_working_days=0.5,
        deadline_at=accepted,
        ready_at=ready,
        completed_at=ready,
        sla_state=sla_state or (SlaState.MET if ready else SlaState.ON_TRACK),
    )
    filing.steps = [
        Step(
            name=name,
            position=i,
            status=StepStatus.DONE,
            pending_needs=0,
            started_at=start,
            finished_at=end,
            result={},
        )
        for i, (name, start, end) in enumerate(steps)
    ] + [
        Step(name=name, position=len(steps) + i, status=status, pending_needs=0, started_at=start)
        for i, (name, status, start) in enumerate(open_steps)
    ]
    if missing_due is not None:
        filing.materials = [
            Material(
                code="staff_roster",
                status=MaterialStatus.MISSING,
                blocks=["social_insurance"],
                due_at=missing_due,
            )
        ]
    return filing


def write_known(rt: Runtime) -> int:
    """Write the known history (once per database) and fold March 2025; its branch's id."""
    with rt.database.transaction() as session:
        branch = shouguang_branch(session, "SG-SUP-KNOWN", "监管测试网点", "ABC")
        clerk = staff_at(session, branch, "sup_known_clerk", "监管测试柜员")
        staff_at(session, branch, "sup_known_manager", "网点主管", role=Role.BRANCH_MANAGER)
        session.flush()
        if session.query(Filing).filter_by(branch_id=branch.id).count() == 0:
            f1 = _filing(
                branch.id,
                clerk.id,
                at(3, 9),
                at(3, 10, 30),  # 1.5 working hours
                steps=(
                    ("registration", at(3, 9), at(3, 9, 45)),
                    ("tax", at(3, 9, 45), at(3, 10, 30)),
                ),
            )
            f2 = _filing(branch.id, clerk.id, at(3, 16), at(4, 11))  # 1 h + 2 h
            f3 = _filing(
                branch.id,
                clerk.id,
                at(3, 9),
                at(5, 9),  # two working days: 14 h
                steps=(("registration", at(3, 9), at(4, 9)),),  # one working day, exactly
            )
            f4 = _filing(branch.id, clerk.id, at(7, 9), at(17, 9))  # six working days: 42 h
            # Past its deadline, held back by tax (started first of its unfinished steps).
            f5 = _filing(
                branch.id,
                clerk.id,
                at(20, 9),
                None,
                missing_due=at(27, 17),
                sla_state=SlaState.BREACHED,
                open_steps=(
                    ("tax", StepStatus.SUBMITTED, at(20, 16)),
                    ("social_insurance", StepStatus.BLOCKED, at(21, 9)),
                ),
            )
            f6 = _filing(  # at risk, registration running
                branch.id,
                clerk.id,
                at(21, 9),
                None,
                missing_due=datetime(2099, 1, 5, tzinfo=CHINA),
                sla_state=SlaState.AT_RISK,
                open_steps=(("registration", StepStatus.RUNNING, at(21, 9)),),
            )
            session.add_all([f1, f2, f3, f4, f5, f6])
            session.merge(
                SubsidyPeriod(
                    district_code=SHOUGUANG,
                    period="2025-03",
                    budget_fen=100_000,
                    committed_fen=30_000,
                    settled_fen=12_000,
                )
            )
            session.flush()
            ratings = [
                Rating(filing_id=f1.id, round=1, score=5, created_at=at(4, 10)),
                Rating(filing_id=f2.id, round=1, score=2, created_at=at(5, 10)),
                Rating(filing_id=f3.id, round=1, score=4, created_at=at(6, 10)),
            ]
            session.add_all(ratings)
            session.flush()
            session.add(
                FollowUp(
                    filing_id=f2.id,
                    branch_id=branch.id,
                    rating_id=ratings[1].id,
                    status=FollowUpStatus.OPEN,
                    opened_at=at(5, 10),
                )
            )
        branch_id = branch.id
    with rt.database.transaction() as session:
        fold_days(session, FIRST, LAST, calendar=rt.calendar)
    return branch_id


def stamp_threats(rt: Runtime, branch_id: int) -> None:
    """Put the known open filings back in the states the figures are known for: the
    tracker's beat, run by other tests on the same database, judges them again (both long
    past their 2025 deadlines by any clock of today's)."""
    with rt.database.transaction() as session:
        for accepted, state in ((at(20, 9), SlaState.BREACHED), (at(21, 9), SlaState.AT_RISK)):
            session.execute(
                update(Filing)
                .where(Filing.branch_id == branch_id, Filing.accepted_at == accepted)
                .values(sla_state=state)
            )
