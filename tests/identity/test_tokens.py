"""API tokens' rules: every token expires, revoked ones let no one in, what a listing may show,
and a last use recorded at most once a minute, on SQLite and on PostgreSQL."""

from __future__ import annotations

import dataclasses
import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from orchestrator.errors import Invalid, NotFound
from orchestrator.identity.models import ApiToken
from orchestrator.identity.service import (
    DEFAULT_TOKEN_LIFETIME,
    LAST_USE_PRECISION,
    Bearer,
    TokenStatus,
    authenticate,
    issue_token,
    list_tokens,
    record_token_use,
    revoke_token,
    token_lifetime,
)
from tests.identity.tokens import T0, TokenWorld, digest, issue_never_expiring

MAX = timedelta(days=90)


def issue(
    world: TokenWorld, *, ttl: timedelta = DEFAULT_TOKEN_LIFETIME, label: str = "test"
) -> str:
    """A token for the clerk, issued at the clock's instant."""
    with world.rt.database.transaction() as session:
        return issue_token(session, world.staff(), now=world.rt.clock.now(), label=label, ttl=ttl)


def check(world: TokenWorld, token: str) -> Bearer | None:
    """What the API's token check finds, at the clock's instant."""
    with world.rt.database.reading() as session:
        return authenticate(
            session,
            token,
            now=world.rt.clock.now(),
            max_lifetime=world.rt.settings.token_max_lifetime,
        )


def id_of(world: TokenWorld, token: str) -> int:
    bearer = check(world, token)
    assert bearer is not None
    return bearer.token_id


def row(world: TokenWorld, token_id: int) -> ApiToken:
    with world.rt.database.reading() as session:
        found = session.get(ApiToken, token_id)
        assert found is not None
        return found


def record(world: TokenWorld, token_id: int, now: datetime) -> bool:
    with world.rt.database.transaction() as session:
        return record_token_use(session, token_id=token_id, now=now)


def revoke(world: TokenWorld, token_id: int) -> bool:
    """Revoke the token; whether it was already revoked."""
    with world.rt.database.transaction() as session:
        return revoke_token(
            session,
            token_id=token_id,
            now=world.rt.clock.now(),
            max_lifetime=world.rt.settings.token_max_lifetime,
        ).already


class TestLifetime:
    def test_with_no_days_asked_a_token_lives_the_default(self) -> None:
        assert token_lifetime(None, max_lifetime=MAX) == DEFAULT_TOKEN_LIFETIME

    def test_the_default_never_exceeds_a_lower_maximum(self) -> None:
        assert token_lifetime(None, max_lifetime=timedelta(days=7)) == timedelta(days=7)

    @pytest.mark.parametrize("days", [1, 30, 90])
    def test_any_number_of_days_up_to_the_maximum(self, days: int) -> None:
        assert token_lifetime(days, max_lifetime=MAX) == timedelta(days=days)

    @pytest.mark.parametrize("days", [0, -1, 91, 36500])
    def test_never_and_longer_than_the_maximum_are_refused(self, days: int) -> None:
        with pytest.raises(Invalid) as refused:
            token_lifetime(days, max_lifetime=MAX)
        assert "ONESTOP_TOKEN_MAX_DAYS" in refused.value.message_en
        assert "1 至 90 天" in refused.value.message_zh
        assert f"{days} asked" in refused.value.message_en

    @pytest.mark.parametrize("ttl", [timedelta(0), timedelta(seconds=-1)])
    def test_a_token_is_not_issued_already_expired(
        self, tokens: TokenWorld, ttl: timedelta
    ) -> None:
        with pytest.raises(Invalid):
            issue(tokens, ttl=ttl)

    @pytest.mark.parametrize("label", ["x" * 101, "two\nlines", "tab\there"])
    def test_a_label_that_would_not_fit_a_listing_is_refused(
        self, tokens: TokenWorld, label: str
    ) -> None:
        with pytest.raises(Invalid):
            issue(tokens, label=label)
        with tokens.rt.database.reading() as session:
            listed = list_tokens(session, username=tokens.username, now=T0, max_lifetime=MAX)
        assert listed.tokens == []


class TestExpiry:
    def test_a_token_is_live_until_its_own_expiry(self, tokens: TokenWorld) -> None:
        token = issue(tokens, ttl=timedelta(days=7))
        tokens.at(T0 + timedelta(days=7) - timedelta(seconds=1))
        assert check(tokens, token) is not None
        tokens.at(T0 + timedelta(days=7))
        assert check(tokens, token) is None

    def test_a_token_asked_for_no_time_in_particular_lives_the_default(
        self, tokens: TokenWorld
    ) -> None:
        token = issue(tokens, ttl=DEFAULT_TOKEN_LIFETIME)
        assert row(tokens, id_of(tokens, token)).expires_at == T0 + DEFAULT_TOKEN_LIFETIME

    def test_a_token_issued_to_never_expire_ends_with_the_maximum(self, tokens: TokenWorld) -> None:
        # Tokens issued with `--days 0` had no expiry: they end at creation + the maximum.
        recent = issue_never_expiring(tokens, issued_at=T0 - timedelta(days=10))
        assert row(tokens, id_of(tokens, recent)).expires_at is None
        old = issue_never_expiring(tokens, issued_at=T0 - MAX - timedelta(days=1))
        assert check(tokens, old) is None
        tokens.at(T0 + MAX - timedelta(days=10, seconds=1))
        assert check(tokens, recent) is not None
        tokens.at(T0 + MAX - timedelta(days=10))
        assert check(tokens, recent) is None

    def test_lowering_the_maximum_cuts_the_tokens_already_issued(self, tokens: TokenWorld) -> None:
        token = issue(tokens, ttl=timedelta(days=60))
        tokens.at(T0 + timedelta(days=31))
        assert check(tokens, token) is not None
        tokens.with_max_days(30)
        assert check(tokens, token) is None

    def test_a_revoked_token_lets_no_one_in(self, tokens: TokenWorld) -> None:
        token = issue(tokens)
        assert not revoke(tokens, id_of(tokens, token))
        assert check(tokens, token) is None

    def test_the_token_of_a_deactivated_member_of_staff_lets_no_one_in(
        self, tokens: TokenWorld
    ) -> None:
        token = issue(tokens)
        with tokens.rt.database.transaction() as session:
            session.merge(tokens.staff()).active = False
        assert check(tokens, token) is None


class TestLastUse:
    def test_a_token_never_used_is_due_to_be_recorded(self, tokens: TokenWorld) -> None:
        bearer = check(tokens, issue(tokens))
        assert bearer is not None and bearer.use_unrecorded
        assert bearer.staff.username == tokens.username

    def test_is_recorded_at_most_once_a_minute(self, tokens: TokenWorld) -> None:
        token_id = id_of(tokens, issue(tokens))
        assert record(tokens, token_id, T0)
        for seconds in (0, 1, 30, 59.999):
            assert not record(tokens, token_id, T0 + timedelta(seconds=seconds)), seconds
        assert row(tokens, token_id).last_used_at == T0
        assert record(tokens, token_id, T0 + LAST_USE_PRECISION)
        assert row(tokens, token_id).last_used_at == T0 + LAST_USE_PRECISION

    def test_the_check_says_whether_a_write_is_due(self, tokens: TokenWorld) -> None:
        token = issue(tokens)
        assert record(tokens, id_of(tokens, token), T0)
        tokens.later(seconds=59)
        bearer = check(tokens, token)
        assert bearer is not None and not bearer.use_unrecorded
        tokens.later(seconds=1)
        bearer = check(tokens, token)
        assert bearer is not None and bearer.use_unrecorded

    def test_never_moves_back_in_time(self, tokens: TokenWorld) -> None:
        # A process whose clock is behind another's must not undo the later record.
        token_id = id_of(tokens, issue(tokens))
        assert record(tokens, token_id, T0 + timedelta(hours=1))
        assert not record(tokens, token_id, T0)
        assert row(tokens, token_id).last_used_at == T0 + timedelta(hours=1)

    def test_touches_no_other_token(self, tokens: TokenWorld) -> None:
        first, second = id_of(tokens, issue(tokens)), id_of(tokens, issue(tokens))
        assert record(tokens, first, T0)
        assert row(tokens, second).last_used_at is None

    def test_a_racing_update_waits_for_the_first_and_records_nothing(
        self, tokens: TokenWorld
    ) -> None:
        # Both requests read "never used" and both write; the second must find the first's
        # write once it commits, not overwrite it (a read-then-write would record twice).
        token_id = id_of(tokens, issue(tokens))
        first_wrote, release = threading.Event(), threading.Event()
        outcomes: dict[str, bool] = {}

        def first() -> None:
            with tokens.rt.database.transaction() as session:
                outcomes["first"] = record_token_use(session, token_id=token_id, now=T0)
                first_wrote.set()
                assert release.wait(10)

        def second() -> None:
            with tokens.rt.database.transaction() as session:
                outcomes["second"] = record_token_use(
                    session, token_id=token_id, now=T0 + timedelta(seconds=1)
                )

        one = threading.Thread(target=first)
        one.start()
        assert first_wrote.wait(10)
        two = threading.Thread(target=second)
        two.start()
        two.join(timeout=0.5)
        assert two.is_alive(), "the second write did not wait for the first's transaction"
        release.set()
        one.join(timeout=10)
        two.join(timeout=30)
        assert outcomes == {"first": True, "second": False}
        assert row(tokens, token_id).last_used_at == T0

    def test_of_many_concurrent_requests_one_writes(self, tokens: TokenWorld) -> None:
        token_id = id_of(tokens, issue(tokens))
        start = threading.Barrier(8)
        wrote: list[bool] = []

        def request(n: int) -> None:
            start.wait(10)
            wrote.append(record(tokens, token_id, T0 + timedelta(milliseconds=n)))

        threads = [threading.Thread(target=request, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(wrote) == [False] * 7 + [True]


class TestListing:
    def test_lists_every_token_oldest_first_with_its_status(self, tokens: TokenWorld) -> None:
        expired = issue(tokens, ttl=timedelta(days=1), label="old")
        tokens.later(days=2)
        revoked = issue(tokens, label="lost phone")
        issue(tokens, ttl=timedelta(days=7), label="laptop")
        revoke(tokens, id_of(tokens, revoked))
        used_at = tokens.later(minutes=5)
        with tokens.rt.database.transaction() as session:
            for token in (expired, revoked):  # not live: no id from the check
                session.execute(
                    update(ApiToken)
                    .where(ApiToken.digest == digest(token))
                    .values(last_used_at=used_at)
                )
        with tokens.rt.database.reading() as session:
            listed = list_tokens(
                session, username=tokens.username, now=tokens.rt.clock.now(), max_lifetime=MAX
            )
        assert (listed.username, listed.name, listed.active) == (tokens.username, "王芳", True)
        assert [(t.label, t.status) for t in listed.tokens] == [
            ("old", TokenStatus.EXPIRED),
            ("lost phone", TokenStatus.REVOKED),
            ("laptop", TokenStatus.LIVE),
        ]
        old, lost, laptop = listed.tokens
        assert old.created_at == T0 and old.expires_at == T0 + timedelta(days=1)
        assert not old.expiry_capped and old.last_used_at == used_at
        assert lost.revoked_at == T0 + timedelta(days=2)
        assert lost.expires_at == T0 + timedelta(days=2) + DEFAULT_TOKEN_LIFETIME
        assert not lost.expiry_capped
        assert laptop.expires_at == T0 + timedelta(days=9) and laptop.last_used_at is None
        assert [t.id for t in listed.tokens] == sorted(t.id for t in listed.tokens)

    def test_shows_neither_a_token_nor_its_digest(self, tokens: TokenWorld) -> None:
        token = issue(tokens)
        with tokens.rt.database.reading() as session:
            listed = list_tokens(session, username=tokens.username, now=T0, max_lifetime=MAX)
        shown = repr(dataclasses.asdict(listed))
        assert token not in shown and digest(token) not in shown
        assert token.removeprefix("ost_")[:12] not in shown

    def test_a_member_of_staff_with_no_tokens_has_an_empty_list(self, tokens: TokenWorld) -> None:
        with tokens.rt.database.reading() as session:
            listed = list_tokens(session, username=tokens.username, now=T0, max_lifetime=MAX)
        assert listed.tokens == []

    def test_an_unknown_member_of_staff_is_not_found(self, tokens: TokenWorld) -> None:
        with tokens.rt.database.reading() as session, pytest.raises(NotFound) as missing:
            list_tokens(session, username="nobody_here", now=T0, max_lifetime=MAX)
        assert "nobody_here" in missing.value.message_en and missing.value.message_zh


class TestRevocation:
    def test_revoking_twice_changes_nothing_the_second_time(self, tokens: TokenWorld) -> None:
        token_id = id_of(tokens, issue(tokens))
        assert not revoke(tokens, token_id)
        tokens.later(hours=1)
        with tokens.rt.database.transaction() as session:
            again = revoke_token(
                session, token_id=token_id, now=tokens.rt.clock.now(), max_lifetime=MAX
            )
        assert again.already
        assert again.token.revoked_at == T0  # the first revocation's instant, kept
        assert again.token.status is TokenStatus.REVOKED

    def test_an_unknown_id_is_not_found_and_changes_nothing(self, tokens: TokenWorld) -> None:
        token = issue(tokens)
        with tokens.rt.database.transaction() as session, pytest.raises(NotFound) as missing:
            revoke_token(session, token_id=2**31 - 1, now=T0, max_lifetime=MAX)
        assert str(2**31 - 1) in missing.value.message_en
        assert check(tokens, token) is not None

    def test_of_two_concurrent_revocations_one_revokes(self, tokens: TokenWorld) -> None:
        token_id = id_of(tokens, issue(tokens))
        start = threading.Barrier(2)
        already: list[bool] = []

        def revoking() -> None:
            start.wait(10)
            already.append(revoke(tokens, token_id))

        threads = [threading.Thread(target=revoking) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(already) == [False, True]


def test_the_digest_helper_matches_the_stored_one(tokens: TokenWorld) -> None:
    # What makes "the listing shows no digest" above a real check.
    token = issue(tokens)
    with tokens.rt.database.reading() as session:
        stored = session.scalars(select(ApiToken.digest)).all()
    assert digest(token) in stored
