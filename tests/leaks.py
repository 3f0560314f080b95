"""Personal numbers left unmasked: the checks the whole test run applies to every log record it
makes (installed by tests/conftest.py) and to every page the browser tests keep a screenshot
of (tests/portal/conftest.py).

What is held against the run is a resident ID written out whole (18 characters whose GB 11643
check character is right) and, where the issue says so, a mobile's digits; what is reported
is masked, so the report does not leak in its turn.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import traceback
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from integrations.codes import gb11643_check_char
from orchestrator.privacy import mask_id_number, mask_mobile
from orchestrator.settings import TRACK_PATH

# Read after NFKC and upper-casing, so a full-width number is caught as an ASCII one; not part
# of a longer run of digits (a bank account, a timestamp).
_ID = re.compile(r"(?<![0-9])[0-9]{17}[0-9X](?![0-9])")
_MOBILE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")
# A mobile's first three digits, a mask, then a digit again: 138****1234 shows four too many
# where no digit past the first three may show.
_MOBILE_TAIL = re.compile(r"(?<![0-9])1[3-9][0-9][*•·xX]+ ?[0-9]+")

# The applicant's pages: the receipt and the tracking page show no digit of the mobile past
# its first three (issue 14); staff pages show 138****1234.
_APPLICANTS = re.compile(rf"{re.escape(TRACK_PATH)}(/.*)?|/portal/filings/[^/]+/receipt")


def for_the_applicant(path: str) -> bool:
    """Whether the page at `path` is one of the applicant's (the receipt, the tracking page)."""
    return _APPLICANTS.fullmatch(path) is not None


def _normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text).upper()


def unmasked_resident_ids(text: str) -> list[str]:
    """Every valid resident ID (its check character right) written out whole in `text`."""
    return [m for m in _ID.findall(_normal(text)) if gb11643_check_char(m[:17]) == m[17]]


def unmasked_mobiles(text: str, *, past_first_three: bool = False) -> list[str]:
    """Mobile numbers written out whole in `text`; with `past_first_three`, also each one
    that shows any digit past its first three (a masked 138****1234 does)."""
    normal = _normal(text)
    found = _MOBILE.findall(normal)
    return found + _MOBILE_TAIL.findall(normal) if past_first_three else found


def shown(ids: list[str], mobiles: list[str] = []) -> str:  # noqa: B006 - never mutated
    """What was found, masked for the report."""
    return ", ".join([mask_id_number(i) for i in ids] + [mask_mobile(m[:11]) for m in mobiles])


_planted: dict[str, int] = {}  # a planted number: how many blocks plant it now
_planted_lock = threading.Lock()


@contextmanager
def planted_in_logs(*numbers: str) -> Iterator[None]:
    """Log records made during the block may carry these resident IDs: a test plants them on
    purpose (to check that the lines written are masked, or that an operator's log keeps an
    exception's detail), in whichever thread the record is made. Any other ID still counts."""
    planted = [_normal(n) for n in numbers]
    with _planted_lock:
        for number in planted:
            _planted[number] = _planted.get(number, 0) + 1
    try:
        yield
    finally:
        with _planted_lock:
            for number in planted:
                _planted[number] -= 1
                if not _planted[number]:
                    del _planted[number]


def _text(record: logging.LogRecord) -> str:
    """The record as a handler would write it: the message, its exception and stack.

    Not through a Formatter, which would cache the exception's text on the record for every
    handler after it."""
    try:
        text = record.getMessage()
    except Exception:  # a bad format string: logging reports it; the raw parts are still read
        text = f"{record.msg!r} {record.args!r}"
    if record.exc_info and record.exc_info[1] is not None:
        text += "\n" + "".join(traceback.format_exception(record.exc_info[1]))
    if record.exc_text:
        text += "\n" + record.exc_text
    if record.stack_info:
        text += "\n" + record.stack_info
    return text


class LogWatch:
    """Every log record the process makes, read as it is made, for unmasked resident IDs.

    Installed as the record factory rather than as a handler: every record passes through
    it, whichever logger made it, however that logger propagates or whichever handlers it
    has (uvicorn's and Celery's keep to themselves). A record is made at the levels the run
    logs at: WARNING and up by default, as a process of the default settings logs, and more
    where a test configures more.
    """

    def __init__(self) -> None:
        self.seen = 0
        self.leaks: list[str] = []
        self._lock = threading.Lock()
        self._factory: Callable[..., logging.LogRecord] | None = None

    def install(self) -> None:
        made = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = made(*args, **kwargs)
            self.inspect(record)
            return record

        self._factory = factory
        logging.setLogRecordFactory(factory)

    @property
    def installed(self) -> bool:
        return self._factory is not None and logging.getLogRecordFactory() is self._factory

    def inspect(self, record: logging.LogRecord) -> None:
        with self._lock:
            self.seen += 1
        ids = [i for i in unmasked_resident_ids(_text(record)) if i not in _planted]
        if ids:
            during = os.environ.get("PYTEST_CURRENT_TEST", "outside any test")
            where = f"{record.name} {record.levelname} at {record.pathname}:{record.lineno}"
            with self._lock:
                self.leaks.append(f"{where} ({during}): {shown(ids)}")


SESSION_WATCH = LogWatch()


def fail_the_run_if_leaked(session: pytest.Session, watch: LogWatch = SESSION_WATCH) -> None:
    """At the end of the run: say where each unmasked resident ID was logged, and fail."""
    if not watch.leaks:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_sep("=", "unmasked resident IDs in log records", red=True)
        for leak in watch.leaks:
            reporter.write_line(leak)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
