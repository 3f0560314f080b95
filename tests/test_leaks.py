"""The run's own checks for unmasked personal numbers can fail: the detectors catch what they
are for and leave the rest, the session's watch is installed and sees records no handler of
the root would, and a leak makes a passing run fail."""

from __future__ import annotations

import logging
import sys
from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest

from tests.factories import resident_id
from tests.leaks import (
    SESSION_WATCH,
    LogWatch,
    fail_the_run_if_leaked,
    for_the_applicant,
    planted_in_logs,
    unmasked_mobiles,
    unmasked_resident_ids,
)

ID = resident_id(date(1985, 3, 14), sequence=131)
FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


def _wrong_check(number: str) -> str:
    return number[:17] + ("0" if number[17] != "0" else "1")


@pytest.mark.parametrize(
    "text",
    [ID, f"身份证号码{ID}无效", f"id_number='{ID}'", ID.translate(FULL_WIDTH), ID.lower()],
)
def test_a_resident_id_written_out_is_found(text: str) -> None:
    assert unmasked_resident_ids(text) == [ID.upper()]


@pytest.mark.parametrize(
    "text",
    [
        f"{ID[:6]}********{ID[-4:]}",  # masked as the pages and logs mask it
        _wrong_check(ID),  # 18 digits, but no resident ID: its check character is wrong
        f"6{ID}",  # part of a 19-digit number (a bank account)
        "91370783MA0000001X",  # a credit code
    ],
)
def test_what_is_no_resident_id_written_out_is_left(text: str) -> None:
    assert unmasked_resident_ids(text) == []


def test_a_mobile_is_found_whole_and_on_the_applicants_pages_past_its_first_three() -> None:
    assert unmasked_mobiles("电话 13812341234") == ["13812341234"]
    assert unmasked_mobiles("电话 138****1234") == []  # as staff pages show it
    assert unmasked_mobiles("电话 138****1234", past_first_three=True) == ["138****1234"]
    assert unmasked_mobiles("电话 138********", past_first_three=True) == []
    assert unmasked_mobiles("OS7K2M9Q4P1Z 2026-12-07 15:30", past_first_three=True) == []


def test_the_receipt_and_the_tracking_page_are_the_applicants() -> None:
    assert for_the_applicant("/track/") and for_the_applicant("/track/filing")
    assert for_the_applicant("/portal/filings/OS7K2M9Q4P1Z/receipt")
    assert not for_the_applicant("/portal/filings/OS7K2M9Q4P1Z")
    assert not for_the_applicant("/portal/filings/OS7K2M9Q4P1Z/supplements")


def _record(message: str, *args: Any, exc_info: Any = None) -> logging.LogRecord:
    return logging.LogRecord("orchestrator.planted", logging.WARNING, __file__, 1, message,
                             args, exc_info)  # fmt: skip


def test_the_watch_catches_a_planted_record_and_reports_it_masked() -> None:
    watch = LogWatch()  # not the session's: this run must not fail for it
    watch.inspect(_record("filing for %s", ID))
    watch.inspect(_record("filing for %s", f"{ID[:6]}********{ID[-4:]}"))
    try:
        raise ValueError(f"input_value='{ID}'")
    except ValueError:
        watch.inspect(_record("it failed", exc_info=sys.exc_info()))
    assert watch.seen == 3 and len(watch.leaks) == 2
    assert all(ID not in leak and f"{ID[:6]}********{ID[-4:]}" in leak for leak in watch.leaks)
    other = resident_id(date(1990, 1, 2), sequence=7)
    with planted_in_logs(ID):
        watch.inspect(_record("filing for %s", ID.translate(FULL_WIDTH)))
        assert len(watch.leaks) == 2  # planted on purpose, in whichever form
        watch.inspect(_record("filing for %s and %s", ID, other))
    assert len(watch.leaks) == 3 and other[-4:] in watch.leaks[-1]
    watch.inspect(_record("filing for %s", ID))  # planted no longer
    assert len(watch.leaks) == 4


def test_the_sessions_watch_sees_every_record_made() -> None:
    assert SESSION_WATCH.installed
    # A logger that keeps to itself, as uvicorn's do: no handler of the root sees its records.
    aside = logging.getLogger("tests.leaks.aside")
    aside.propagate, aside.disabled = False, False
    before = SESSION_WATCH.seen
    aside.warning("nothing personal")
    assert SESSION_WATCH.seen == before + 1


def test_a_leak_fails_a_run_whose_tests_pass() -> None:
    watch = LogWatch()
    watch.inspect(_record("filing for %s", ID))
    config = SimpleNamespace(pluginmanager=SimpleNamespace(get_plugin=lambda _name: None))
    session = SimpleNamespace(config=config, exitstatus=pytest.ExitCode.OK)
    fail_the_run_if_leaked(session, watch)  # type: ignore[arg-type]
    assert session.exitstatus == pytest.ExitCode.TESTS_FAILED
    clean = SimpleNamespace(config=config, exitstatus=pytest.ExitCode.OK)
    fail_the_run_if_leaked(clean, LogWatch())  # type: ignore[arg-type]
    assert clean.exitstatus == pytest.ExitCode.OK
