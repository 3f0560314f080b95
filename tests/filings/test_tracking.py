"""Who may open a filing on the tracking page, for how long, and what the view of it holds."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from orchestrator.filings import tracking
from orchestrator.filings.models import StepStatus
from orchestrator.runtime import Runtime
from orchestrator.workflow import HANDOVER_STEP
from tests.filings import complete, file, set_behaviour, wait_for
from tests.people import BranchStaff

pytestmark = pytest.mark.databases("sqlite", "postgresql")

LIFETIME = timedelta(minutes=20)
MOBILE = "13805361234"  # the default filing's legal representative's


def _open(rt: Runtime, code: str, digits: str, replacing: str | None = None) -> str | None:
    with rt.database.transaction() as session:
        return tracking.open_filing(
            session,
            tracking_code=code,
            mobile_last_four=digits,
            replacing=replacing,
            language="zh_Hans",
            now=rt.clock.now(),
            lifetime=LIFETIME,
        )


def _find(
    rt: Runtime, session_id: str, *, later: timedelta = timedelta()
) -> tracking.Visitor | None:
    with rt.database.reading() as session:
        return tracking.find_visit(
            session, session_id, now=rt.clock.now() + later, lifetime=LIFETIME
        )


class TestOpenFiling:
    def test_the_last_four_digits_open_the_filing_for_a_while(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        code = file(onestop, branch_staff, dispatch=False)
        with onestop.database.transaction() as session:
            visitor_id = tracking.open_visit(session, now=onestop.clock.now(), language="en")
        opened = _open(onestop, f" {code.lower()[:6]} {code.lower()[6:]} ", "1234", visitor_id)
        assert opened is not None and opened != visitor_id
        assert _find(onestop, visitor_id) is None  # the form's session ended
        live = _find(onestop, opened)
        assert live is not None and live.filing_id is not None and live.language == "zh_Hans"
        assert _find(onestop, opened, later=LIFETIME) is None  # short-lived, busy or not

    @pytest.mark.parametrize("digits", ["1235", "0000", "234", "12345", "１２３４", "", "----"])
    def test_anything_but_the_last_four_digits_opens_nothing(
        self, onestop: Runtime, branch_staff: BranchStaff, digits: str
    ) -> None:
        code = file(onestop, branch_staff, dispatch=False)
        assert _open(onestop, code, digits) is None

    def test_an_unknown_code_opens_nothing(self, onestop: Runtime) -> None:
        assert _open(onestop, "OS2345678923", "1234") is None
        assert _open(onestop, "", "----") is None


class TestView:
    def test_the_view_holds_no_personal_number(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        code = file(onestop, branch_staff)
        wait_for(onestop, code, complete)
        opened = _open(onestop, code, "1234")
        assert opened is not None
        visitor = _find(onestop, opened)
        assert visitor is not None
        with onestop.database.reading() as session:
            filing = tracking.filing_of(session, visitor)
            assert filing is not None and filing.tracking_code == code
            view = tracking.tracking_view(session, filing, onestop.calendar)
        dumped = view.model_dump_json()
        assert view.mobile_prefix == "138" and MOBILE[3:] not in dumped
        assert not re.search(r"\d{17}[\dX]|1[3-9]\d{9}", dumped)
        assert view.credit_code and view.licence_available and not view.holders
        assert view.courier is not None and view.courier.waybill


class TestCourierInTransit:
    def test_the_waybill_of_the_couriers_first_answer_shows_while_the_parcel_travels(
        self, onestop: Runtime, branch_staff: BranchStaff
    ) -> None:
        # The courier takes its time: its first answer is "pending", the waybill with it.
        set_behaviour(onestop, "courier", latency_ms=4000, sync_limit_ms=100)
        code = file(onestop, branch_staff)
        filing = wait_for(
            onestop,
            code,
            lambda f: {s.name: s.status for s in f.steps}[HANDOVER_STEP] == StepStatus.SUBMITTED,
        )
        with onestop.database.reading() as session:
            view = tracking.tracking_view(session, filing, onestop.calendar)
        assert view.courier is not None and view.courier.status == "submitted"
        assert view.courier.waybill and re.fullmatch(r"EA\d{9}CN", view.courier.waybill)
        delivered = wait_for(onestop, code, complete)
        with onestop.database.reading() as session:
            done = tracking.tracking_view(session, delivered, onestop.calendar)
        assert done.courier is not None and done.courier.waybill == view.courier.waybill
