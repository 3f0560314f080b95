"""Handing licence and seals over at the branch, with the collector's identity checked in
person and kept masked in the filing's history."""

from __future__ import annotations

from datetime import date

import pytest

from orchestrator.errors import Invalid
from orchestrator.filings.handover import checked_collector
from orchestrator.filings.models import FilingStatus
from orchestrator.runtime import Runtime
from tests.factories import resident_id
from tests.filings import events, file_for_pickup, hand_over, wait_for
from tests.people import BranchStaff

NUMBER = resident_id(date(1985, 3, 9), sequence=246)


class TestCollector:
    def test_the_number_is_kept_masked(self) -> None:
        kept = checked_collector("李娜", NUMBER, checked_in_person=True)
        assert kept == {
            "name": "李娜",
            "id_number": NUMBER[:6] + "********" + NUMBER[-4:],
            "identity_checked_in_person": True,
        }

    def test_a_collector_not_checked_in_person_is_refused(self) -> None:
        with pytest.raises(Invalid) as refused:
            checked_collector("李娜", NUMBER, checked_in_person=False)
        assert [e["field"] for e in refused.value.detail["errors"]] == ["identity_checked"]

    def test_a_wrong_check_character_is_refused_as_at_intake(self) -> None:
        wrong = NUMBER[:17] + ("0" if NUMBER[17] != "0" else "1")
        with pytest.raises(Invalid) as refused:
            checked_collector("", wrong, checked_in_person=True)
        fields = {e["field"] for e in refused.value.detail["errors"]}
        assert fields == {"name", "id_number"}


@pytest.mark.databases("sqlite", "postgresql")
class TestHandOver:
    def test_the_collector_is_recorded_with_the_hand_over(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        code = file_for_pickup(onestop, branch_staff).tracking_code
        collector = checked_collector("李娜", NUMBER, checked_in_person=True)
        hand_over(onestop, branch_staff, code, collector)
        filing = wait_for(onestop, code, lambda f: f.status == FilingStatus.COMPLETE)
        (delivery,) = [s for s in filing.steps if s.name == "delivery"]
        assert delivery.result is not None
        assert delivery.result["collector"]["id_number"] == NUMBER[:6] + "********" + NUMBER[-4:]
        history = [e for e in events(onestop, code) if e.kind == "done" and e.step == "delivery"]
        assert NUMBER not in str(history[0].detail)
        assert history[0].detail["result"]["collector"]["name"] == "李娜"
