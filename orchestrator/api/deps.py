"""Typed dependencies of the API: the runtime and the authenticated member of staff."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from orchestrator import runtime
from orchestrator.errors import Unauthorized
from orchestrator.identity.service import Scope, staff_for_token
from orchestrator.runtime import Runtime

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
    with rt.database.reading() as session:
        staff = staff_for_token(session, credentials.credentials, now=rt.clock.now())
        if staff is None:
            raise Unauthorized("访问令牌无效或已过期", "invalid or expired token")
        return Caller(staff.id, staff.username, Scope.of(staff))


CallerDep = Annotated[Caller, Depends(get_caller)]
