"""The staff portal's sessions and passwords: timeouts, sign-in, `onestop staff password`, on
SQLite and on PostgreSQL, with a clock the test sets."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.cli import staff as staff_cli
from orchestrator.errors import Invalid
from orchestrator.identity.models import Staff, StaffSession
from orchestrator.identity.sessions import (
    PasswordMatch,
    SessionTimeouts,
    csrf_matches,
    find_session,
    open_session,
    set_password,
    sign_in,
    staff_with_password,
    touch,
)
from tests.identity.test_token_cli import assert_bilingual_refusal
from tests.identity.tokens import T0, TokenWorld, digest

TIMEOUTS = SessionTimeouts(idle=timedelta(minutes=30), absolute=timedelta(hours=10))
PASSWORD = "spring-onion-37"
runner = CliRunner()


def signed_in(world: TokenWorld, *, replacing: str | None = None) -> str:
    with world.rt.database.transaction() as session:
        match = PasswordMatch(staff_id=world.staff().id, rehashed=None)
        return sign_in(
            session, match, replacing=replacing, language="en", now=world.rt.clock.now(),
            timeouts=TIMEOUTS,
        )  # fmt: skip


def live(world: TokenWorld, session_id: str) -> bool:
    with world.rt.database.reading() as session:
        found = find_session(session, session_id, now=world.rt.clock.now(), timeouts=TIMEOUTS)
    if found is not None and found.touch_due:
        with world.rt.database.transaction() as session:
            touch(session, row_id=found.row_id, now=world.rt.clock.now())
    return found is not None


def sessions_of(world: TokenWorld) -> int:
    with world.rt.database.reading() as session:
        return session.scalar(
            select(func.count()).select_from(StaffSession).where(
                StaffSession.staff_id == world.staff().id
            )
        ) or 0  # fmt: skip


class TestTimeouts:
    def test_a_session_ends_after_the_idle_timeout(self, tokens: TokenWorld) -> None:
        session_id = signed_in(tokens)
        tokens.later(minutes=29)
        assert live(tokens, session_id)  # and this request counts as activity
        tokens.later(minutes=29)
        assert live(tokens, session_id)
        tokens.later(minutes=31)
        assert not live(tokens, session_id)

    def test_a_busy_session_ends_at_the_absolute_timeout(self, tokens: TokenWorld) -> None:
        session_id = signed_in(tokens)
        for _ in range(29):  # a request every 20 minutes: never idle
            tokens.later(minutes=20)
            assert live(tokens, session_id)
        tokens.later(minutes=20)  # 10 h after sign-in
        assert not live(tokens, session_id)

    def test_a_deactivated_member_loses_their_sessions(self, tokens: TokenWorld) -> None:
        session_id = signed_in(tokens)
        with tokens.rt.database.transaction() as session:
            session.execute(
                update(Staff).where(Staff.username == tokens.username).values(active=False)
            )
        assert not live(tokens, session_id)

    def test_only_a_digest_of_the_id_is_stored(self, tokens: TokenWorld) -> None:
        session_id = signed_in(tokens)
        with tokens.rt.database.reading() as session:
            digests = session.scalars(select(StaffSession.digest)).all()
        assert digest(session_id) in digests and session_id not in digests


class TestSignIn:
    def test_signing_in_replaces_the_visitors_session(self, tokens: TokenWorld) -> None:
        with tokens.rt.database.transaction() as session:
            visitor = open_session(session, now=T0, language="en")
        session_id = signed_in(tokens, replacing=visitor)
        assert session_id != visitor
        assert not live(tokens, visitor) and live(tokens, session_id)

    def test_each_session_has_its_own_csrf_token(self, tokens: TokenWorld) -> None:
        first, second = signed_in(tokens), signed_in(tokens)
        with tokens.rt.database.reading() as session:
            a = find_session(session, first, now=T0, timeouts=TIMEOUTS)
            b = find_session(session, second, now=T0, timeouts=TIMEOUTS)
        assert a is not None and b is not None
        assert csrf_matches(a, a.csrf_token) and not csrf_matches(a, b.csrf_token)
        assert not csrf_matches(a, None) and not csrf_matches(a, "")

    def test_passwords(self, tokens: TokenWorld) -> None:
        with tokens.rt.database.transaction() as session:
            set_password(session, tokens.username, PASSWORD)
        with tokens.rt.database.reading() as session:
            match = staff_with_password(session, tokens.username, PASSWORD)
            assert match is not None and match.staff_id == tokens.staff().id
            assert staff_with_password(session, tokens.username, PASSWORD + "x") is None
            assert staff_with_password(session, "nobody-" + tokens.username, PASSWORD) is None
        assert tokens.staff().password_hash.startswith("$argon2id$")  # type: ignore[union-attr]

    def test_a_new_password_signs_the_member_out(self, tokens: TokenWorld) -> None:
        session_id = signed_in(tokens)
        with tokens.rt.database.transaction() as session:
            set_password(session, tokens.username, PASSWORD)
        assert not live(tokens, session_id) and sessions_of(tokens) == 0

    def test_a_dated_hash_is_replaced_at_sign_in(self, tokens: TokenWorld) -> None:
        dated = PasswordHasher(time_cost=1, memory_cost=8 * 1024).hash(PASSWORD)
        with tokens.rt.database.transaction() as session:
            session.execute(
                update(Staff).where(Staff.username == tokens.username).values(password_hash=dated)
            )
        with tokens.rt.database.reading() as session:
            match = staff_with_password(session, tokens.username, PASSWORD)
        assert match is not None and match.rehashed and match.rehashed != dated
        assert tokens.staff().password_hash == dated  # the check itself wrote nothing
        with tokens.rt.database.transaction() as session:
            sign_in(
                session, match, replacing=None, language="en", now=T0, timeouts=TIMEOUTS
            )  # fmt: skip
        assert tokens.staff().password_hash == match.rehashed

    @pytest.mark.parametrize("password", ["short", "x" * 201, "tab\there-and-long"])
    def test_weak_or_odd_passwords_are_refused(self, tokens: TokenWorld, password: str) -> None:
        with pytest.raises(Invalid), tokens.rt.database.transaction() as session:
            set_password(session, tokens.username, password)


class TestStaffPasswordCommand:
    def test_reads_one_line_from_stdin(self, tokens: TokenWorld) -> None:
        result = runner.invoke(app, ["staff", "password", tokens.username], input=PASSWORD + "\n")
        assert result.exit_code == 0, result.output
        assert "password of" in result.stdout and "已设置" in result.stdout
        with tokens.rt.database.transaction() as session:
            assert staff_with_password(session, tokens.username, PASSWORD) is not None

    def test_asks_twice_on_a_terminal(
        self, tokens: TokenWorld, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(staff_cli, "_on_terminal", lambda: True)
        typed = f"{PASSWORD}\n{PASSWORD}x\n"
        result = runner.invoke(app, ["staff", "password", tokens.username], input=typed)
        # (Click's test runner echoes a newline to stdout for each hidden entry.)
        assert result.exit_code == 2 and "differ" in result.stderr and "不一致" in result.stderr
        assert PASSWORD not in result.output  # hidden as typed
        typed = f"{PASSWORD}\n{PASSWORD}\n"
        result = runner.invoke(app, ["staff", "password", tokens.username], input=typed)
        assert result.exit_code == 0, result.output

    @pytest.mark.parametrize(
        ("username", "stdin", "phrase"),
        [
            ("nobody", PASSWORD + "\n", "no staff member"),
            (None, "short\n", "10 to 200 characters"),
            (None, "", "nothing on standard input"),
        ],
    )
    def test_refusals_are_bilingual(
        self, tokens: TokenWorld, username: str | None, stdin: str, phrase: str
    ) -> None:
        result = runner.invoke(app, ["staff", "password", username or tokens.username], input=stdin)
        assert_bilingual_refusal(result, phrase)
