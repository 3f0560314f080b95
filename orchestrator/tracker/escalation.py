"""Escalation: who hears of a filing whose SLA state turned for the worse.

At risk tells the branch's managers (there is still time to act: chase an agency, call the
applicant); breached tells the district's supervising officers. A notice goes to each
one's inbox (and a text to those whose record has a mobile) in the transaction that
records the state change (`sla.evaluate_batch`), so a change is told exactly once: a batch
that rolls back leaves the change to be found, and told, again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.filings.models import Filing, SlaState
from orchestrator.identity.service import branch_recipients, district_officers
from orchestrator.notifications import inbox

if TYPE_CHECKING:  # `sla` calls this module: its type only, no import cycle at run time
    from orchestrator.tracker.sla import Change


def escalate(session: Session, changes: Sequence[Change], *, now: datetime) -> int:
    """Leave the notices `changes` call for; how many changes called for one."""
    told = [c for c in changes if c.state_to in (SlaState.AT_RISK, SlaState.BREACHED)]
    rows = session.execute(
        select(Filing.id, Filing.company_name).where(Filing.id.in_([c.filing_id for c in told]))
    )
    names = {filing_id: name for filing_id, name in rows}
    for change in told:
        at_risk = change.state_to == SlaState.AT_RISK
        inbox.notify(
            session,
            "sla_at_risk" if at_risk else "sla_breached",
            cause=f"{change.filing_id}@{change.at.isoformat()}",
            recipients=(
                branch_recipients(session, branch_id=change.branch_id)
                if at_risk
                else district_officers(session, district_code=change.district_code)
            ),
            filing_id=change.filing_id,
            now=now,
            tracking_code=change.tracking_code,
            company_name=names.get(change.filing_id, ""),
            deadline_at=change.deadline_at.isoformat(),
            predicted_ready_at=change.predicted_ready_at.isoformat(),
        )
    return len(told)
