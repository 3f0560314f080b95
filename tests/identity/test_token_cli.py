"""`onestop token issue | list | revoke`, run as an administrator would, against the API that
takes the tokens, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.testclient import TestClient
from rich.cells import cell_len
from sqlalchemy import event
from typer.testing import CliRunner

from orchestrator.api.app import create_app
from orchestrator.api.deps import get_caller
from orchestrator.cli import app
from orchestrator.identity.service import DEFAULT_TOKEN_LIFETIME
from tests.api import FILINGS, auth
from tests.identity.tokens import T0, TokenWorld, digest, issue_never_expiring

runner = CliRunner()
TOKEN = re.compile(r"ost_[A-Za-z0-9_-]{43}")


def onestop_token(*args: str) -> Result:
    """`onestop token ARGS…`, through the top-level command as the console script runs it."""
    return runner.invoke(app, ["token", *args], env={"COLUMNS": "200"})


def issued(world: TokenWorld, *args: str) -> str:
    """A token from `onestop token issue` for the world's clerk."""
    result = onestop_token("issue", world.username, *args)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def listed(world: TokenWorld) -> dict[str, Any]:
    """`onestop token list USER --json`, parsed."""
    result = onestop_token("list", world.username, "--json")
    assert result.exit_code == 0, result.output
    shown: dict[str, Any] = json.loads(result.stdout)
    return shown


def instant(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def assert_bilingual_refusal(result: Result, *phrases: str) -> None:
    """Exit 2, a Chinese and an English message on stderr, nothing on stdout, no traceback."""
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert re.search(r"[\u4e00-\u9fff]", result.stderr) and "Error: " in result.stderr
    assert "Traceback" not in result.output
    for phrase in phrases:
        assert phrase in result.stderr


@contextmanager
def refusing_updates_of_tokens(world: TokenWorld) -> Iterator[None]:
    """A trigger that makes the database refuse to change the clerk's tokens."""
    staff_id = world.staff().id
    database = world.rt.database
    if database.engine.dialect.name == "sqlite":
        create = [
            f"CREATE TRIGGER refuse_{staff_id} BEFORE UPDATE ON api_token"
            f" WHEN OLD.staff_id = {staff_id} BEGIN SELECT RAISE(ABORT, 'refused'); END"
        ]
        drop = [f"DROP TRIGGER refuse_{staff_id}"]
    else:
        create = [
            f"CREATE FUNCTION refuse_{staff_id}() RETURNS trigger LANGUAGE plpgsql"
            " AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$",
            f"CREATE TRIGGER refuse_{staff_id} BEFORE UPDATE ON api_token FOR EACH ROW"
            f" WHEN (OLD.staff_id = {staff_id}) EXECUTE FUNCTION refuse_{staff_id}()",
        ]
        drop = [
            f"DROP TRIGGER refuse_{staff_id} ON api_token",
            f"DROP FUNCTION refuse_{staff_id}()",
        ]
    with database.connection() as conn:
        for statement in create:
            conn.exec_driver_sql(statement)
    try:
        yield
    finally:
        with database.connection() as conn:
            for statement in drop:
                conn.exec_driver_sql(statement)


@pytest.fixture
def api(tokens: TokenWorld) -> Iterator[TestClient]:
    with TestClient(create_app()) as client:
        yield client


class TestIssue:
    def test_prints_the_token_alone_and_its_expiry_on_stderr(
        self, tokens: TokenWorld, api: TestClient
    ) -> None:
        result = onestop_token("issue", tokens.username)
        assert result.exit_code == 0, result.output
        assert TOKEN.fullmatch(result.stdout.removesuffix("\n"))
        assert "2027-01-06 10:00" in result.stderr  # T0 + 30 days, China time
        assert api.get(FILINGS, headers=auth(result.stdout.strip())).status_code == 200

    def test_the_default_lifetime_is_never_past_a_lower_maximum(self, tokens: TokenWorld) -> None:
        tokens.with_max_days(7)
        issued(tokens)
        [token] = listed(tokens)["tokens"]
        assert instant(token["expires_at"]) == T0 + timedelta(days=7)
        assert not token["expiry_capped"]

    def test_days_0_no_longer_issues_a_token_that_never_expires(self, tokens: TokenWorld) -> None:
        result = onestop_token("issue", tokens.username, "--days", "0")
        assert_bilingual_refusal(result, "every token expires", "ONESTOP_TOKEN_MAX_DAYS")
        assert listed(tokens)["tokens"] == []

    def test_more_days_than_the_maximum_are_refused(self, tokens: TokenWorld) -> None:
        assert_bilingual_refusal(
            onestop_token("issue", tokens.username, "--days", "91"), "1 to 90 days"
        )
        tokens.with_max_days(120)
        issued(tokens, "--days", "91")
        [token] = listed(tokens)["tokens"]
        assert instant(token["expires_at"]) == T0 + timedelta(days=91)

    def test_an_unknown_member_of_staff_is_refused(self, tokens: TokenWorld) -> None:
        assert_bilingual_refusal(onestop_token("issue", "nobody_here"), "'nobody_here'")

    def test_the_label_says_what_the_token_is_for(self, tokens: TokenWorld) -> None:
        issued(tokens, "--label", "前台 front desk")
        issued(tokens)
        assert [t["label"] for t in listed(tokens)["tokens"]] == ["前台 front desk", "cli"]


class TestList:
    def test_a_table_of_every_token_and_never_a_secret(self, tokens: TokenWorld) -> None:
        live = issued(tokens, "--days", "7", "--label", "前台")
        tokens.later(days=1)
        gone = issued(tokens, "--label", "lost phone")
        gone_id = listed(tokens)["tokens"][1]["id"]
        assert onestop_token("revoke", str(gone_id)).exit_code == 0

        result = onestop_token("list", tokens.username)
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert tokens.username in lines[0] and "王芳" in lines[0]
        assert lines[1].split() == [
            "ID",
            "LABEL",
            "CREATED",
            "EXPIRES",
            "LAST",
            "USE",
            "REVOKED",
            "STATUS",
        ]
        first, second = lines[2], lines[3]
        assert re.match(
            r"\d+\s+前台\s+2026-12-07 10:00\s+2026-12-14 10:00\s+—\s+—\s+有效 live$", first
        )
        assert re.match(
            rf"{gone_id}\s+lost phone\s+2026-12-08 10:00\s+2027-01-07 10:00\s+—\s+"
            r"2026-12-08 10:00\s+已吊销 revoked$",
            second,
        )
        # Columns line up in terminal cells: 前台 is two characters and four cells wide.
        assert cell_len(first[: first.index("2026-12-07")]) == cell_len(
            second[: second.index("2026-12-08")]
        )
        assert first.index("2026-12-07") != second.index("2026-12-08")
        for secret in (live, gone):
            assert secret not in result.output and digest(secret) not in result.output

    def test_json_has_the_listing_fields_and_never_a_secret(self, tokens: TokenWorld) -> None:
        secret = issued(tokens, "--days", "7")
        result = onestop_token("list", tokens.username, "--json")
        assert result.exit_code == 0
        assert secret not in result.stdout and digest(secret) not in result.stdout
        shown = json.loads(result.stdout)
        assert shown["username"] == tokens.username and shown["active"] is True
        assert shown["max_days"] == 90
        [token] = shown["tokens"]
        assert set(token) == {
            "id", "label", "created_at", "expires_at", "expiry_capped", "last_used_at",
            "revoked_at", "status",
        }  # fmt: skip
        assert instant(token["created_at"]) == T0
        assert instant(token["expires_at"]) == T0 + timedelta(days=7)
        assert token["status"] == "live" and token["last_used_at"] is None

    def test_a_member_of_staff_without_tokens(self, tokens: TokenWorld) -> None:
        result = onestop_token("list", tokens.username)
        assert result.exit_code == 0
        assert "has no tokens" in result.stdout and "没有令牌" in result.stdout

    def test_says_when_the_member_of_staff_is_deactivated(self, tokens: TokenWorld) -> None:
        issued(tokens)
        with tokens.rt.database.transaction() as session:
            session.merge(tokens.staff()).active = False
        result = onestop_token("list", tokens.username)
        assert "deactivated" in result.stdout and "已停用" in result.stdout
        assert listed(tokens)["active"] is False

    def test_an_unknown_member_of_staff_is_refused(self, tokens: TokenWorld) -> None:
        assert_bilingual_refusal(onestop_token("list", "nobody_here"), "'nobody_here'")


class TestRevoke:
    def test_the_api_refuses_a_revoked_token(self, tokens: TokenWorld, api: TestClient) -> None:
        token = issued(tokens)
        kept = issued(tokens)
        assert api.get(FILINGS, headers=auth(token)).status_code == 200
        token_id = listed(tokens)["tokens"][0]["id"]

        result = onestop_token("revoke", str(token_id))
        assert result.exit_code == 0, result.output
        assert f"revoked token {token_id} ({tokens.username}, cli)" in result.stdout
        assert "已吊销" in result.stdout

        refused = api.get(FILINGS, headers=auth(token))
        assert refused.status_code == 401
        assert refused.json()["error"] == "unauthorized"
        assert api.get(FILINGS, headers=auth(kept)).status_code == 200
        states = [(t["id"], t["status"]) for t in listed(tokens)["tokens"]]
        assert states[0] == (token_id, "revoked") and states[1][1] == "live"

    def test_revoking_twice_is_harmless_and_says_so(self, tokens: TokenWorld) -> None:
        issued(tokens)
        token_id = str(listed(tokens)["tokens"][0]["id"])
        assert onestop_token("revoke", token_id).exit_code == 0
        tokens.later(hours=2)
        again = onestop_token("revoke", token_id)
        assert again.exit_code == 0, again.output
        assert "already revoked at 2026-12-07 10:00" in again.stdout
        assert "nothing changed" in again.stdout and "未作改动" in again.stdout
        assert instant(listed(tokens)["tokens"][0]["revoked_at"]) == T0

    def test_an_unknown_id_is_refused(self, tokens: TokenWorld) -> None:
        issued(tokens)
        assert_bilingual_refusal(onestop_token("revoke", "987654321"), "no token with id 987654321")
        assert listed(tokens)["tokens"][0]["status"] == "live"

    @pytest.mark.parametrize("text", ["abc", "-1", "１２", "1.0", "", "9" * 30])
    def test_what_is_no_id_is_refused(self, tokens: TokenWorld, text: str) -> None:
        assert_bilingual_refusal(onestop_token("revoke", "--", text), "is not a token id")


class TestLastUse:
    def test_is_the_first_use_of_each_minute(self, tokens: TokenWorld, api: TestClient) -> None:
        token = issued(tokens)
        assert listed(tokens)["tokens"][0]["last_used_at"] is None
        tokens.later(minutes=5)
        first_use = tokens.rt.clock.now()
        for seconds in (0, 20, 39):  # 59 s after the first use in all
            tokens.later(seconds=seconds)
            assert api.get(FILINGS, headers=auth(token)).status_code == 200
        assert instant(listed(tokens)["tokens"][0]["last_used_at"]) == first_use
        later_use = tokens.later(seconds=2)
        assert api.get(FILINGS, headers=auth(token)).status_code == 200
        assert instant(listed(tokens)["tokens"][0]["last_used_at"]) == later_use

    def test_a_refused_token_records_no_use(self, tokens: TokenWorld, api: TestClient) -> None:
        token = issued(tokens, "--days", "1")
        tokens.later(days=1)
        assert api.get(FILINGS, headers=auth(token)).status_code == 401
        assert listed(tokens)["tokens"][0]["last_used_at"] is None

    def test_a_use_the_database_refuses_to_record_fails_no_request(
        self, tokens: TokenWorld, api: TestClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        token = issued(tokens)
        with refusing_updates_of_tokens(tokens):
            response = api.get(FILINGS, headers=auth(token))
        assert response.status_code == 200
        assert "could not record the use of token" in caplog.text
        assert listed(tokens)["tokens"][0]["last_used_at"] is None
        assert api.get(FILINGS, headers=auth(token)).status_code == 200
        assert instant(listed(tokens)["tokens"][0]["last_used_at"]) == T0

    def test_costs_the_token_check_no_statement_until_a_minute_has_passed(
        self, tokens: TokenWorld
    ) -> None:
        token = issued(tokens)
        credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=token)
        statements: list[str] = []

        def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            # The token check's own statements: a sweep of an embedded worker that another
            # test left running may share this engine while this runtime is installed.
            if re.match(r"\s*(SELECT|UPDATE|INSERT|DELETE)\b", statement, re.IGNORECASE) and (
                "api_token" in statement
            ):
                statements.append(statement.split()[0].upper())

        engine = tokens.rt.database.engine
        event.listen(engine, "before_cursor_execute", seen)
        try:
            checks = []
            for seconds in (0, 1, 30, 28, 2):  # 0, 1, 31, 59 and 61 s after the first
                tokens.later(seconds=seconds)
                statements.clear()
                get_caller(tokens.rt, credentials)
                checks.append(list(statements))
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        recorded = ["SELECT", "UPDATE"]
        assert checks == [recorded, ["SELECT"], ["SELECT"], ["SELECT"], recorded]


class TestMaximumLifetime:
    def test_a_token_issued_to_never_expire_ends_with_the_maximum(
        self, tokens: TokenWorld, api: TestClient
    ) -> None:
        old = issue_never_expiring(tokens, issued_at=T0 - timedelta(days=100))
        recent = issue_never_expiring(tokens, issued_at=T0 - timedelta(days=10))
        assert api.get(FILINGS, headers=auth(old)).status_code == 401
        assert api.get(FILINGS, headers=auth(recent)).status_code == 200

        shown = listed(tokens)["tokens"]
        assert [(t["status"], t["expiry_capped"]) for t in shown] == [
            ("expired", True),
            ("live", True),
        ]
        assert instant(shown[1]["expires_at"]) == T0 + timedelta(days=80)
        table = onestop_token("list", tokens.username).stdout
        assert "2027-02-25 10:00*" in table and "ONESTOP_TOKEN_MAX_DAYS" in table
        tokens.later(days=80)
        assert api.get(FILINGS, headers=auth(recent)).status_code == 401

    def test_is_read_from_the_environment_by_the_console_script(
        self, tokens: TokenWorld, tmp_path: Path
    ) -> None:
        env = {
            **os.environ,
            "ONESTOP_DATABASE_URL": tokens.rt.settings.database_url,
            "ONESTOP_TOKEN_MAX_DAYS": "7",
        }
        script = Path(sys.executable).with_name("onestop")

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [str(script), "token", *args], env=env, cwd=tmp_path, capture_output=True,
                text=True, timeout=60,
            )  # fmt: skip

        refused = run("issue", tokens.username, "--days", "8")
        assert refused.returncode == 2 and "1 to 7 days" in refused.stderr
        assert run("issue", tokens.username, "--days", "7").returncode == 0
        shown = json.loads(run("list", tokens.username, "--json").stdout)
        assert shown["max_days"] == 7 and len(shown["tokens"]) == 1


class TestHelp:
    def test_names_the_commands_and_the_setting(self) -> None:
        result = onestop_token("--help")
        assert result.exit_code == 0
        for word in ("issue", "list", "revoke", "ONESTOP_TOKEN_MAX_DAYS", "Exit codes"):
            assert word in result.stdout

    def test_issue_states_the_default_lifetime(self) -> None:
        result = onestop_token("issue", "--help")
        assert f"Default: {DEFAULT_TOKEN_LIFETIME.days}," in " ".join(result.stdout.split())

    def test_no_arguments_shows_help(self) -> None:
        result = onestop_token()
        assert "issue" in result.output and "revoke" in result.output
