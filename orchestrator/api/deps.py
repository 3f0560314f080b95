"""Typed dependencies of the API: the runtime and the authenticated member of staff."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import SQLAlchemyError

from orchestrator import runtime
from orchestrator.errors import Unauthorized
from orchestrator.identity.service import Scope, authenticate, record_token_use
from orchestrator.runtime import Runtime

log = logging.getLogger(__name__)

_bearer = HTTPBearer(auto_error=False, description="A token from `onestop token issue USERNAME`.")


def get_runtime() -> Runtime:
    """The process's runtime (database, clock, calendar)."""
    return runtime.current()


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


class Caller:
    """Who is calling, and what they may see."""

    def __init__(self, staff_id: int, username: str, scope: Scope) -> None:
        self.staff_id = staff_id
        self.username = username
        self.scope = scope

    @property
    def actor(self) -> str:
        """How events name this caller."""
        return f"staff:{self.username}"


def get_caller(
    rt: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The staff member behind the bearer token; 401 without a live one."""
    if credentials is None:
        raise Unauthorized("缺少访问令牌", "missing bearer token")
    now = rt.clock.now()
    with rt.database.reading() as session:
        bearer = authenticate(
            session, credentials.credentials, now=now, max_lifetime=rt.settings.token_max_lifetime
        )
        if bearer is None:
            raise Unauthorized("访问令牌无效、已过期或已吊销", "invalid, expired or revoked token")
        caller = Caller(bearer.staff.id, bearer.staff.username, Scope.of(bearer.staff))
    if bearer.use_unrecorded:
        _record_use(rt, bearer.token_id, now)
    return caller


def _record_use(rt: Runtime, token_id: int, now: datetime) -> None:
    # A short transaction of its own once the read is over: on SQLite a reading snapshot
    # that turns writer fails at once if another writer came first, where a transaction
    # that takes the write lock up front waits its turn.
    try:
        with rt.database.transaction() as session:
            record_token_use(session, token_id=token_id, now=now)
    except SQLAlchemyError:
        # The caller is who they say: their request goes on, and a later one records the use.
        log.warning("could not record the use of token %s", token_id, exc_info=True)


CallerDep = Annotated[Caller, Depends(get_caller)]
