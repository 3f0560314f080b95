"""One-time codes for the tracking page: texted through the outbox, kept only as a hash,
expiring, limited per filing and hour, dead after repeated wrong codes."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.errors import TooManyRequests
from orchestrator.filings.models import Filing
from orchestrator.identity import one_time_codes
from orchestrator.identity.one_time_codes import (
    MAX_ATTEMPTS,
    MAX_PER_HOUR,
    OneTimeCode,
    issue,
    verify,
)
from orchestrator.runtime import Runtime
from tests.filings import file
from tests.notifications import codes_texted, fresh_mobile, wait_for_texts
from tests.people import BranchStaff

pytestmark = pytest.mark.databases("sqlite", "postgresql")


class Applicant:
    """A filed filing, and its applicant reading the codes texted to them."""

    def __init__(self, rt: Runtime, staff: BranchStaff) -> None:
        self.rt = rt
        self.mobile = fresh_mobile()
        self.code = file(rt, staff, legal_representative__mobile=self.mobile)
        self.codes = 0  # texted so far (besides the filing's own texts, which go on)

    def issue(self, purpose: str = "supplement", *, now: datetime | None = None) -> str:
        """Issue a code and read it from the simulated gateway."""
        with self.rt.database.transaction() as session:
            issue(
                session,
                filing=self._filing(session),
                purpose=purpose,
                now=now or self.rt.clock.now(),
            )
        self.codes += 1
        deadline = time.monotonic() + 20
        while len(codes := self.texted_codes()) < self.codes:
            assert time.monotonic() < deadline, f"{len(codes)} of {self.codes} codes texted"
            time.sleep(0.05)
        return codes[-1]

    def texted_codes(self) -> list[str]:
        """The codes texted to the applicant so far, oldest first."""
        return codes_texted(self.rt, self.mobile)

    def verify(
        self, code: str, purpose: str = "supplement", *, now: datetime | None = None
    ) -> bool:
        with self.rt.database.transaction() as session:
            return verify(
                session,
                filing=self._filing(session),
                purpose=purpose,
                code=code,
                now=now or self.rt.clock.now(),
            )

    def _filing(self, session: Session) -> Filing:
        return session.scalars(select(Filing).where(Filing.tracking_code == self.code)).one()


@pytest.fixture
def applicant(onestop: Runtime, branch_staff: BranchStaff) -> Applicant:
    return Applicant(onestop, branch_staff)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


class TestIssue:
    def test_texts_six_digits_to_the_legal_representative(self, applicant: Applicant) -> None:
        code = applicant.issue()
        assert len(code) == 6 and code.isdigit()
        [text] = [t for t in wait_for_texts(applicant.rt, applicant.mobile, 1) if code in t]
        assert "补交材料" in text and "10分钟" in text

    def test_keeps_only_a_hash(self, applicant: Applicant) -> None:
        code = applicant.issue()
        with applicant.rt.database.transaction() as session:
            row = session.scalars(select(OneTimeCode).order_by(OneTimeCode.id.desc())).first()
            assert row is not None
            assert code not in (row.digest, row.salt) and len(row.digest) == 64

    def test_a_limit_per_filing_and_hour(self, applicant: Applicant) -> None:
        start = applicant.rt.clock.now()
        for n in range(MAX_PER_HOUR):
            applicant.issue("rate" if n % 2 else "supplement", now=start + timedelta(minutes=n))
        with pytest.raises(TooManyRequests) as refused:
            applicant.issue(now=start + timedelta(minutes=30))
        assert refused.value.message_zh and refused.value.status_code == 429
        assert refused.value.headers() == {"Retry-After": "3600"}
        applicant.codes -= 1  # nothing was texted
        assert applicant.issue(now=start + timedelta(minutes=61))

    @pytest.mark.parametrize("purpose", ["login", "rating"])  # "rate" is the only word for it
    def test_an_unknown_purpose_is_a_bug(self, applicant: Applicant, purpose: str) -> None:
        with pytest.raises(ValueError):
            applicant.issue(purpose)


class TestVerify:
    def test_the_right_code_once(self, applicant: Applicant) -> None:
        code = applicant.issue()
        assert applicant.verify(code) is True
        assert applicant.verify(code) is False  # used up

    def test_a_code_is_for_its_purpose_only(self, applicant: Applicant) -> None:
        code = applicant.issue("rate")
        assert applicant.verify(code, "supplement") is False
        assert applicant.verify(code, "rate") is True

    def test_expires(self, applicant: Applicant) -> None:
        code = applicant.issue()
        later = applicant.rt.clock.now() + one_time_codes.LIFETIME + timedelta(seconds=1)
        assert applicant.verify(code, now=later) is False
        assert applicant.verify(code) is False  # an expired code stays dead

    def test_a_newer_code_replaces_the_older(self, applicant: Applicant) -> None:
        first = applicant.issue()
        second = applicant.issue()
        if first != second:
            assert applicant.verify(first) is False
        assert applicant.verify(second) is True

    def test_dies_after_repeated_wrong_codes(self, applicant: Applicant) -> None:
        code = applicant.issue()
        for _ in range(MAX_ATTEMPTS):
            assert applicant.verify(wrong(code)) is False
        with pytest.raises(TooManyRequests):
            applicant.verify(code)  # even the right one: the code is dead
        assert applicant.verify(applicant.issue()) is True  # a new code works

    def test_fewer_wrong_codes_leave_it_alive(self, applicant: Applicant) -> None:
        code = applicant.issue()
        for _ in range(MAX_ATTEMPTS - 1):
            assert applicant.verify(wrong(code)) is False
        assert applicant.verify(code) is True

    @pytest.mark.parametrize("given", ["", "12345", "1234567", "abcdef", "１２３４５６"])
    def test_malformed_codes_are_wrong_codes(self, applicant: Applicant, given: str) -> None:
        applicant.issue()
        assert applicant.verify(given) is False

    def test_no_code_issued_is_false(self, applicant: Applicant) -> None:
        assert applicant.verify("123456") is False
