"""Supplying a 容缺 material on the tracking page: its upload and the fields it carries, with
a one-time code texted to the legal representative's mobile
(`orchestrator.identity.one_time_codes`). What is sent waits for the branch to confirm it
(`orchestrator.filings.supplements`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from bank_portal import forms
from bank_portal.i18n import DEFAULT_LANGUAGE
from bank_portal.pages import base, see_other
from bank_portal.track.pages import act_with_code, opened_form, send_code, show_filing
from bank_portal.track.supply_form import inputs_of
from orchestrator.errors import DomainError, Invalid
from orchestrator.filings import supplements
from orchestrator.filings.models import Filing
from orchestrator.filings.uploads import MAX_UPLOAD_BYTES, DatabaseStore
from orchestrator.identity.one_time_codes import Purpose
from orchestrator.validation import FieldError

router = APIRouter()
PRIVATE = (".id_number", ".mobile")
STORE = DatabaseStore()
MaterialCode = Annotated[str, PathParam(max_length=40, pattern=r"^[a-z][a-z0-9_]*$")]


@dataclass
class Supply:
    """A material's form sent back: what was typed, and each field's errors."""

    material: str
    typed: dict[str, str] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)


async def _posted(request: Request) -> dict[str, Any]:
    """The posted form, its file included (read on the event loop; the route runs in the
    thread pool, as the page's others do)."""
    data = await request.form()
    return {key: data.get(key) for key in data}


Posted = Annotated[dict[str, Any], Depends(_posted)]


def _wrong_code() -> Invalid:
    error = FieldError(
        field="one_time_code",
        code="wrong_code",
        message_zh="验证码不正确或已过期",
        message_en="the code is wrong or has expired",
    )
    return Invalid(
        "验证码不正确或已过期", "the code is wrong or has expired", errors=[error.model_dump()]
    )


def _shown_errors(refused: DomainError, material: str, zh: bool) -> dict[str, list[str]]:
    """Each error at the input it concerns (the form's own names), else for the whole form."""
    known = {"file", "one_time_code", *supplements.carried_fields(material)}
    known |= {i.name for i in inputs_of(material)}
    errors = refused.detail.get("errors") if isinstance(refused, Invalid) else None
    if not errors:
        return {"form": [refused.message_zh if zh else refused.message_en]}
    shown: dict[str, list[str]] = {}
    for error in forms.from_dicts(errors):
        at = error.field if error.field in known else "form"
        shown.setdefault(at, []).append(error.message_zh if zh else error.message_en)
    return shown


@router.post("/supplement/{material}", name="track_supplement")
def supply(request: Request, material: MaterialCode, posted: Posted) -> Response:
    """Send a 容缺 material (its upload and fields) for the branch to confirm, with the
    one-time code sent to the filing's mobile."""
    shown = opened_form(request, str(posted.get("csrf_token") or ""))
    upload = posted.get("file")
    content = upload.file.read(MAX_UPLOAD_BYTES + 1) if isinstance(upload, UploadFile) else b""
    filename = (upload.filename or "") if isinstance(upload, UploadFile) else ""
    typed = {i.name: str(posted.get(i.name) or "")[:200] for i in inputs_of(material)}
    built = forms.filing_input(typed, ())
    data = {carried: built[carried] for carried in supplements.carried_fields(material)}
    code = str(posted.get("one_time_code") or "")[:20]

    def submit(session: Session, filing: Filing, now: datetime) -> None:
        supplements.submit(
            session,
            STORE,
            filing=filing,
            material_code=material,
            filename=filename,
            content=content,
            data=data,
            now=now,
        )

    try:
        if not act_with_code(shown, Purpose.SUPPLEMENT, code, submit):
            raise _wrong_code()
    except DomainError as refused:
        zh = shown.visit.language == DEFAULT_LANGUAGE
        # Resident IDs and mobiles are typed again rather than sent back: the tracking page
        # shows none, as a phone left on a counter shows them to whoever picks it up.
        kept = {name: value for name, value in typed.items() if not name.endswith(PRIVATE)}
        sent_back = Supply(material, kept, _shown_errors(refused, material, zh))
        return show_filing(shown, request, supply=sent_back, status_code=refused.status_code)
    return see_other(f"{base(request)}/filing#supply-{material}")


@router.post("/supplement/{material}/code", name="track_supplement_code")
def send_supplement_code(request: Request, material: MaterialCode, posted: Posted) -> Response:
    """Send a one-time code for supplying to the opened filing's mobile."""
    csrf_token = str(posted.get("csrf_token") or "")
    return send_code(request, csrf_token, Purpose.SUPPLEMENT, f"supply-{material}")


@router.get("/supplement/{material}")
def supply_page(request: Request, material: MaterialCode) -> Response:
    """The filing's page at the material's form: where a refused supply form's page lands
    again when its language is switched (the switch goes back to the address shown)."""
    return see_other(f"{base(request)}/filing#supply-{material}")
