"""Logs and messages keep personal numbers to themselves: masking in any text, the processes'
log configuration (request ids, data-carrying libraries kept quiet), Celery's argument
reprs, and database errors that never show a statement's parameters."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from orchestrator.celery_app import app as celery
from orchestrator.db import make_engine
from orchestrator.filings import dispatch
from orchestrator.filings.transitions import StepWork
from orchestrator.logs import (
    DATA_CARRYING_LOGGERS,
    MaskingFormatter,
    configure_logging,
    mask_handlers,
    request_id_bound,
)
from orchestrator.privacy import mask_text
from tests.factories import filing_input, resident_id
from tests.leaks import planted_in_logs

ID = resident_id(date(1985, 3, 14), sequence=131)
MOBILE = "13805361234"
FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


class TestMaskText:
    @pytest.mark.parametrize(
        ("text", "masked"),
        [
            (f"身份证号码{ID}无效", f"身份证号码{ID[:6]}********{ID[-4:]}无效"),
            (f"手机{MOBILE}，", "手机138****1234，"),
            (
                f"id_number='{ID}', mobile='{MOBILE}'",
                f"id_number='{ID[:6]}********{ID[-4:]}', mobile='138****1234'",
            ),
            ("37078319850314131X.", "370783********131X."),
            (
                ID.translate(FULL_WIDTH),
                ID.translate(FULL_WIDTH)[:6] + "********" + ID.translate(FULL_WIDTH)[-4:],
            ),
            (MOBILE.translate(FULL_WIDTH), "１３８****１２３４"),
        ],
        ids=["chinese", "mobile", "repr", "check X", "full-width id", "full-width mobile"],
    )
    def test_masks_resident_ids_and_mobiles_wherever_they_stand(
        self, text: str, masked: str
    ) -> None:
        assert mask_text(text) == masked

    @pytest.mark.parametrize(
        "text",
        [
            "account 6222021234567890123",  # 19 digits: a bank account, not a person's ID
            "at 1733500000000 ms",  # a 13-digit timestamp
            "code 91370783MA0000001X",  # a credit code
            "OS7K2M9Q4P1Z",  # a tracking code
            "12345678901",  # eleven digits that no mobile starts with
            "step 42 of filing 7",
        ],
    )
    def test_leaves_other_numbers_alone(self, text: str) -> None:
        assert mask_text(text) == text


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """The process's logging as it was before the test reconfigured it. The test plants
    resident IDs in its records: the lines it checks are masked, not held against the run."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in DATA_CARRYING_LOGGERS}
    with planted_in_logs(ID):
        yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, saved in levels.items():
        logging.getLogger(name).setLevel(saved)


class TestConfiguredLogging:
    def test_names_the_request_and_masks_the_line(
        self, logging_restored: None, capsys: pytest.CaptureFixture[str]
    ) -> None:
        configure_logging("debug")
        log = logging.getLogger("orchestrator.test")
        with request_id_bound("0123abcd"):
            log.debug("filing for %s, mobile %s", ID, MOBILE)
        log.warning("outside any request")
        err = capsys.readouterr().err
        assert f"[0123abcd] filing for {ID[:6]}********{ID[-4:]}, mobile 138****1234" in err
        assert "[-] outside any request" in err
        assert ID not in err and MOBILE not in err

    def test_masks_tracebacks_too(
        self, logging_restored: None, capsys: pytest.CaptureFixture[str]
    ) -> None:
        configure_logging("warning")
        try:
            raise ValueError(f"input_value='{ID}'")
        except ValueError:
            logging.getLogger("orchestrator.test").exception("it failed")
        err = capsys.readouterr().err
        assert "Traceback" in err and "ValueError: input_value='370783" in err
        assert ID not in err

    def test_keeps_the_database_rows_out_even_at_debug(
        self, logging_restored: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        # SQLAlchemy logs every statement and every row it reads, if let below WARNING.
        configure_logging("debug")
        engine = make_engine(f"sqlite:///{tmp_path / 'rows.db'}")
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT :id"), {"id": ID}).scalar() == ID
        engine.dispose()
        err = capsys.readouterr().err
        assert "SELECT" not in err and "370783" not in err
        for name, floor in DATA_CARRYING_LOGGERS.items():
            assert logging.getLogger(name).getEffectiveLevel() >= floor, name

    def test_masks_handlers_someone_else_set_up(self, logging_restored: None) -> None:
        # As Celery sets up the worker's and beat's handlers, then hands them over.
        logger = logging.getLogger("orchestrator.test.celery_like")
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))
        logger.addHandler(handler)
        try:
            mask_handlers(logger)
            mask_handlers(logger)  # idempotent: not masked twice over
            formatter = handler.formatter
            assert isinstance(formatter, MaskingFormatter)
            assert not isinstance(formatter.inner, MaskingFormatter)
            record = logger.makeRecord(logger.name, logging.INFO, "x", 1, "%s", (ID,), None)
            assert formatter.format(record) == f"[INFO] {ID[:6]}********{ID[-4:]}"
        finally:
            logger.removeHandler(handler)


class TestEngineErrors:
    def test_never_show_a_statements_parameters(self, tmp_path: Path) -> None:
        engine = make_engine(f"sqlite:///{tmp_path / 'errors.db'}")
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE person (id_number TEXT UNIQUE)"))
            conn.execute(sa.text("INSERT INTO person VALUES (:id)"), {"id": ID})
        with pytest.raises(sa.exc.IntegrityError) as failed, engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO person VALUES (:id)"), {"id": ID})
        engine.dispose()
        assert "INSERT INTO person" in str(failed.value)
        assert ID not in str(failed.value)


class TestCeleryMessages:
    def test_a_claimed_steps_message_shows_its_steps_but_not_the_application(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Celery puts the repr of a task's arguments into the message's headers, which broker
        # tools show and workers log; run_claimed's arguments carry a whole application.
        sent: list[Any] = []
        monkeypatch.setattr(celery.amqp, "send_task_message", lambda *a, **k: sent.append(a[2]))
        payload = filing_input()  # the legal representative's ID and mobile are ID, MOBILE
        works = [
            StepWork(
                step_id=step_id,
                filing_id=7,
                name=name,
                agency=name,
                attempt=1,
                ask_first=False,
                tracking_code="OS7K2M9Q4P1Z",
                payload=json.dumps(payload, ensure_ascii=False),
                graph="[]",
                results={},
            )
            for step_id, name in ((41, "tax"), (42, "social_insurance"))
        ]
        dispatch.hand_out(works)
        (message,) = sent
        headers = message.headers
        assert headers["task"] == "filings.run_claimed"
        assert (
            headers["argsrepr"]
            == "(filing OS7K2M9Q4P1Z: tax (step 41), social_insurance (step 42))"
        )
        assert headers["kwargsrepr"] == "{}"
        shown = repr(headers)
        for number in (ID, MOBILE, payload["finance_officer"]["mobile"]):
            assert number not in shown
        # The body still carries the work itself.
        assert [dataclasses.asdict(w) for w in works] == message.body[0][0]
