"""The subsidy ledger, its hooks and its reimbursement reports.

The ledger's own tests run on an in-memory SQLite database with the schema and bare filing
rows: hundreds of examples a second.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert

from orchestrator.clock import CHINA
from orchestrator.models import Base
from orchestrator.reference import ReferenceData, load_reference
from orchestrator.subsidies.models import ENTRY_TABLE, PERIOD_TABLE

SHOUGUANG = "370783"
ACCEPTED = datetime(2026, 11, 20, 10, 0, tzinfo=CHINA)


def clean(conn: Connection) -> None:
    """Empty the ledger, the months and the filings."""
    for table in (ENTRY_TABLE, PERIOD_TABLE, Base.metadata.tables["filing"]):
        conn.execute(table.delete())


def new_filing(conn: Connection, district: str, n: int) -> int:
    """A bare filing row (no branch, staff or steps: foreign keys are not enforced)."""
    filing = Base.metadata.tables["filing"]
    return int(
        conn.execute(
            insert(filing).returning(filing.c.id),
            {
                "tracking_code": f"OS{n:010d}",
                "district_code": district,
                "branch_id": 1,
                "created_by": 1,
                "company_name": f"公司{n}",
                "status": "accepted",
                "payload": {},
                "graph": [],
                "accepted_at": ACCEPTED,
                "sla_working_days": 3,
                "deadline_at": ACCEPTED,
            },
        ).scalar_one()
    )


def with_budget(budget_fen: int) -> ReferenceData:
    """The shipped reference data with Shouguang's monthly budget set to `budget_fen`."""
    reference = load_reference()
    district = reference.districts[SHOUGUANG]
    subsidies = district.policy.subsidies.model_copy(update={"budget_fen": budget_fen})
    policy = district.policy.model_copy(update={"subsidies": subsidies})
    districts = {
        **reference.districts,
        SHOUGUANG: district.model_copy(update={"policy": policy}),
    }
    return reference.model_copy(update={"districts": districts})
