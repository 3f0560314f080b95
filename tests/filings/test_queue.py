"""The work queue's buckets: each a condition on the filing, counted and listed within the
caller's scope and search, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orchestrator.filings import queue, service
from orchestrator.filings.models import FilingStatus
from orchestrator.filings.queue import Bucket
from orchestrator.identity.service import Scope
from orchestrator.runtime import Runtime
from tests.factories import ESSENTIAL_MATERIALS
from tests.filings import file, set_behaviour, wait_for
from tests.people import BranchStaff

pytestmark = pytest.mark.databases("sqlite", "postgresql")


def buckets_of(rt: Runtime, scope: Scope, code: str, *, later: timedelta = timedelta()) -> set[str]:
    """The buckets the filing `code` is in (found by its tracking code), `later` from now."""
    with rt.database.reading() as session:
        counts = queue.counts(session, scope, now=rt.clock.now() + later, search=code)
    assert counts[Bucket.ALL] in (0, 1)
    return {bucket.value for bucket, n in counts.items() if n and bucket != Bucket.ALL}


class TestBuckets:
    def test_a_filing_with_a_material_to_supplement_waits_for_it(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        code = file(onestop, branch_staff, dispatch=False, materials=list(ESSENTIAL_MATERIALS))
        scope = branch_staff.clerk.scope
        assert buckets_of(onestop, scope, code) == {"in_progress", "waiting_supplement"}

    def test_past_its_committed_deadline_it_is_overdue_until_ready(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        code = file(onestop, branch_staff, dispatch=False)
        scope = branch_staff.clerk.scope
        assert buckets_of(onestop, scope, code) == {"in_progress"}
        assert buckets_of(onestop, scope, code, later=timedelta(days=30)) == {
            "in_progress",
            "overdue",
        }

    def test_a_rejected_step_needs_attention_and_a_complete_filing_is_done(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        set_behaviour(onestop, "tax", rejection_rate=1.0)
        refused = file(onestop, branch_staff)
        wait_for(onestop, refused, lambda f: f.status == FilingStatus.ACTION_REQUIRED)
        set_behaviour(onestop, "tax", rejection_rate=0.0)
        done = file(onestop, branch_staff)
        wait_for(onestop, done, lambda f: f.status == FilingStatus.COMPLETE)
        scope = branch_staff.clerk.scope
        assert buckets_of(onestop, scope, refused) == {"needs_attention"}
        assert buckets_of(onestop, scope, done) == {"done"}
        later = timedelta(days=30)  # a complete filing is never overdue
        assert buckets_of(onestop, scope, done, later=later) == {"done"}

    def test_a_bucket_lists_its_own_filings_only(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        code = file(onestop, branch_staff, dispatch=False)
        with onestop.database.reading() as session:
            scope = branch_staff.clerk.scope
            now = onestop.clock.now()
            rows, total = queue.page(session, scope, Bucket.IN_PROGRESS, now=now, search=code)
            assert [f.tracking_code for f in rows] == [code] and total == 1
            rows, total = queue.page(session, scope, Bucket.DONE, now=now, search=code)
            assert rows == [] and total == 0

    def test_another_branch_sees_none_of_it(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        code = file(onestop, branch_staff, dispatch=False)
        elsewhere = Scope(branch_id=branch_staff.branch_id + 1000, can_file=True)
        assert buckets_of(onestop, elsewhere, code) == set()
        with onestop.database.reading() as session:
            assert service.get_filing(session, branch_staff.clerk.scope, code)
