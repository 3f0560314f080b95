"""The filings endpoints of the JSON API (/api/v1/filings)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Body, Header, Path, Query, Response, status
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from orchestrator.api.deps import CallerDep, RuntimeDep
from orchestrator.api.responses import error_responses, file_response
from orchestrator.filings import service, step_withdrawal, views
from orchestrator.filings.models import Event, Filing, FilingStatus
from orchestrator.filings.schemas import FilingInput
from orchestrator.identity.service import Scope

router = APIRouter(prefix="/filings", tags=["filings"], responses=error_responses(401))

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=100,
        description="Retrying a POST with the same key returns the same filing, never a second.",
    ),
]


def _actor(caller: CallerDep) -> service.Actor:
    return service.Actor(name=caller.actor, scope=caller.scope)


class _Action(Protocol):
    def __call__(
        self, session: Session, *, actor: service.Actor, tracking_code: str, now: datetime
    ) -> object: ...


def _act(
    rt: RuntimeDep, caller: CallerDep, tracking_code: str, action: _Action
) -> views.FilingDetail:
    """Do `action` to the filing in a transaction of its own; the filing as it then stands."""
    with rt.database.transaction() as session:
        action(session, actor=_actor(caller), tracking_code=tracking_code, now=rt.clock.now())
    return _detail(rt, caller, tracking_code)


def _detail(rt: RuntimeDep, caller: CallerDep, tracking_code: str) -> views.FilingDetail:
    with rt.database.reading() as session:
        return _view(session, rt, caller, service.get_filing(session, caller.scope, tracking_code))


def _view(
    session: Session, rt: RuntimeDep, caller: CallerDep, filing: Filing
) -> views.FilingDetail:
    return _shown(rt, caller, filing, service.events_of(session, filing))


def _shown(
    rt: RuntimeDep, caller: CallerDep, filing: Filing, events: list[Event]
) -> views.FilingDetail:
    return views.detail(
        filing, events, rt.calendar, reveal_personal_data=caller.scope.branch_id is not None
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=views.FilingDetail,
    summary="File a company-opening application (一件事申请)",
    responses={
        200: {
            "model": views.FilingDetail,
            "description": "Replay of an earlier request with the same key",
        },
        **error_responses(
            400,
            413,
            described={
                403: "Only a clerk of a branch may file",
                409: "The Idempotency-Key was used for another filing",
            },
        ),
    },
)
def create_filing(
    data: FilingInput,
    rt: RuntimeDep,
    caller: CallerDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> views.FilingDetail:
    """Validate and accept a filing; its receipt (tracking code, deadline) is the response."""
    try:
        with rt.database.transaction() as session:
            filed = service.file_filing(
                session,
                actor=_actor(caller),
                staff_id=caller.staff_id,
                data=data,
                idempotency_key=idempotency_key,
                now=rt.clock.now(),
                lease_until=rt.clock.after(rt.settings.step_lease_seconds),
                calendar=rt.calendar,
            )
        code = filed.filing.tracking_code
        # The receipt from the rows just written, not read back; built after the commit:
        # until then the district's subsidy month stays locked for every other acceptance.
        receipt = _shown(rt, caller, filed.filing, filed.history) if filed.created else None
    except IntegrityError:
        if not idempotency_key:
            raise
        # A concurrent request with the same key won the insert: answer as to a replay.
        with rt.database.transaction() as session:
            branch_id = caller.scope.branch_id or 0
            existing = service.filed_under_key(session, branch_id, idempotency_key, data)
            if existing is None:
                raise
            code, receipt = existing.tracking_code, None
    if receipt is not None:
        return receipt
    response.status_code = status.HTTP_200_OK
    return _detail(rt, caller, code)


@router.get("", response_model=views.FilingPage, summary="List filings visible to the caller")
def list_filings(
    rt: RuntimeDep,
    caller: CallerDep,
    status_: Annotated[FilingStatus | None, Query(alias="status")] = None,
    district_code: Annotated[str | None, Query(pattern=r"^[0-9]{6}$")] = None,
    branch_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,  # an INTEGER column
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 20,
) -> views.FilingPage:
    """Newest first; clerks see their branch, officers their district."""
    with rt.database.reading() as session:
        rows, total = service.list_filings(
            session,
            caller.scope,
            status=status_,
            district_code=district_code,
            branch_id=branch_id,
            page=page,
            page_size=page_size,
        )
        items = [views.summary(f, rt.calendar) for f in rows]
    return views.FilingPage(items=items, total=total, page=page, page_size=page_size)


@router.get(
    "/{tracking_code}",
    response_model=views.FilingDetail,
    summary="One filing",
    responses=error_responses(404),
)
def get_filing(tracking_code: str, rt: RuntimeDep, caller: CallerDep) -> views.FilingDetail:
    """A filing with its steps, materials and full history."""
    return _detail(rt, caller, tracking_code)


@router.post(
    "/{tracking_code}/materials/{material_code}",
    response_model=views.FilingDetail,
    summary="Supplement a 容缺 material",
    responses=error_responses(
        400,
        403,
        413,
        described={
            404: "No such filing, or no such material missing from it",
            409: "The material was supplemented already, or the filing is over",
        },
    ),
)
def supplement_material(
    tracking_code: str,
    material_code: str,
    rt: RuntimeDep,
    caller: CallerDep,
    data: Annotated[
        dict[str, Any] | None,
        Body(
            embed=True,
            description="The filing's fields the material carries (its `carries` in the "
            "materials catalogue), e.g. staff for the staff roster; nothing else.",
        ),
    ] = None,
) -> views.FilingDetail:
    """Mark the material supplied, setting the fields it carries; the steps it blocked resume."""
    with rt.database.transaction() as session:
        service.supplement_material(
            session,
            actor=_actor(caller),
            tracking_code=tracking_code,
            material_code=material_code,
            data=data or {},
            now=rt.clock.now(),
            lease_until=rt.clock.after(rt.settings.step_lease_seconds),
            calendar=rt.calendar,
        )
    return _detail(rt, caller, tracking_code)


@router.post(
    "/{tracking_code}/steps/{step_name}/withdraw",
    response_model=views.FilingDetail,
    summary="Withdraw a step whose 容缺 material is past due",
    responses=error_responses(
        403,
        404,
        described={
            409: "The step waits for no material past due, or another step needs its result"
        },
    ),
)
def withdraw_step(
    tracking_code: str,
    step_name: Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,29}$")],
    rt: RuntimeDep,
    caller: CallerDep,
) -> views.FilingDetail:
    """The applicant has not sent a 容缺 material by its due date: the step waiting for it
    stops, and the rest of the filing goes on without it. Materials no step waits for any
    more are waived."""
    with rt.database.transaction() as session:
        step_withdrawal.withdraw_step(
            session,
            actor=_actor(caller),
            tracking_code=tracking_code,
            step_name=step_name,
            now=rt.clock.now(),
            lease_until=rt.clock.after(rt.settings.step_lease_seconds),
            calendar=rt.calendar,
        )
    return _detail(rt, caller, tracking_code)


@router.post(
    "/{tracking_code}/cancel",
    response_model=views.FilingDetail,
    summary="Cancel",
    responses=error_responses(403, 404, described={409: "Registration was sent already"}),
)
def cancel_filing(tracking_code: str, rt: RuntimeDep, caller: CallerDep) -> views.FilingDetail:
    """Cancel while registration has not been sent; 409 afterwards."""
    return _act(rt, caller, tracking_code, service.cancel_filing)


@router.post(
    "/{tracking_code}/handover",
    response_model=views.FilingDetail,
    summary="Hand licence and seals over at the branch",
    responses=error_responses(
        403, 404, described={409: "Not a branch pickup, or licence and seals are not there yet"}
    ),
)
def hand_over(tracking_code: str, rt: RuntimeDep, caller: CallerDep) -> views.FilingDetail:
    """For branch pickup: the client has the licence and seals; the filing is complete."""
    return _act(rt, caller, tracking_code, service.hand_over)


@router.get(
    "/{tracking_code}/licence",
    response_class=Response,
    summary="The e-business licence PDF (电子营业执照)",
    responses={
        200: {"content": {"application/pdf": {}}, "description": "The signed licence"},
        **error_responses(described={404: "No such filing, or registration has not issued it yet"}),
    },
)
def get_licence(tracking_code: str, rt: RuntimeDep, caller: CallerDep) -> Response:
    """The licence as the registration authority signed it; verify it at /api/v1/licences."""
    with rt.database.reading() as session:
        return licence_file(session, caller.scope, tracking_code, inline=True)


def licence_file(
    session: Session,
    scope: Scope,
    tracking_code: str,
    *,
    inline: bool = False,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The filing's e-business licence as a file, its ETag the document's digest (for the
    API and the portal); `NotFound` until registration has issued it."""
    name, licence = service.licence_of(session, scope, tracking_code)
    return file_response(
        licence.content,
        media_type=licence.media_type,
        filename=name,
        inline=inline,
        headers={**(headers or {}), "ETag": f'"{licence.sha256}"'},
    )
