"""A filing's page and what branch staff do there: follow its steps as they move (the page
refreshes its status and timeline itself), correct what an agency refused and send the step
again, hand licence and seals over at the branch with the collector's identity checked,
and download the e-business licence once registration has issued it.

Resident IDs and mobile numbers are masked on the page, agencies' words included; only the
clerk who filed the filing sees the numbers a correction concerns, in its edit form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from bank_portal import auth, forms, sla
from bank_portal.i18n import DEFAULT_LANGUAGE, N_, said_in
from bank_portal.intake import Posted, _staff_posting
from bank_portal.pages import PAGE_HEADERS, base
from bank_portal.routes import (
    FILING_STATUS,
    POLL_SECONDS,
    STEP_STATUS,
    _live_staff,
    branch_staff,
    not_found,
    page,
)
from orchestrator import runtime
from orchestrator.api.filings import licence_file
from orchestrator.errors import Conflict, DomainError, Invalid, NotFound
from orchestrator.filings import corrections, drafts, service, step_withdrawal, views
from orchestrator.filings.corrections import Refusal, value_at
from orchestrator.filings.handover import checked_collector
from orchestrator.filings.models import Filing, StepStatus
from orchestrator.identity.sessions import SignedIn
from orchestrator.privacy import mask_id_number, mask_mobile, mask_text
from orchestrator.workflow import HANDOVER_STEP, by_name

router = APIRouter()

# The parts of a filing a refusal may concern, as the correction form labels them: the
# group a field belongs to, then the field (people in a list are numbered from 1).
GROUPS = {
    "company_name": N_("Company name"),
    "legal_representative": N_("Legal representative"),
    "finance_officer": N_("Finance officer"),
    "shareholders": N_("Shareholder %(n)s"),
    "staff": N_("Employee %(n)s"),
    "delivery": N_("Delivery"),
}
FIELDS = {
    "region": N_("Region"),
    "trade_name": N_("Trade name"),
    "industry_term": N_("Industry term"),
    "organisation_form": N_("Organisation form"),
    "name": N_("Name"),
    "id_number": N_("Resident ID"),
    "mobile": N_("Mobile"),
    "share_percent": N_("Share (%%)"),
    "address": N_("Registered address"),
    "registered_capital_fen": N_("Registered capital (fen)"),
    "business_scope": N_("Business scope (one item a line)"),
    "industry_code": N_("Industry code (GB/T 4754)"),
    "enterprise_type": N_("Enterprise type"),
    "district_code": N_("District code"),
    "recipient": N_("Recipient"),
}
_PERSONAL = {"id_number": mask_id_number, "mobile": mask_mobile}


def field_label(path: str) -> list[tuple[str, dict[str, Any]]]:
    """How the form names a field: its group's label and its own, each a message and its
    values (none for a path it does not know: then the path is shown as it is)."""
    segments = path.split(".")
    parts: list[tuple[str, dict[str, Any]]] = []
    if len(segments) > 1 and segments[0] in GROUPS:
        index = next((int(s) for s in segments[1:] if s.isdigit()), None)
        parts.append((GROUPS[segments[0]], {"n": index + 1} if index is not None else {}))
    if segments[-1] in FIELDS:
        parts.append((FIELDS[segments[-1]], {}))
    return parts


def _field(filing: Filing, path: str, staff: SignedIn) -> dict[str, Any]:
    """One field of a correction form: its label, what it holds now, and what to show."""
    value = value_at(filing.payload, path)
    kind = path.rsplit(".", 1)[-1]
    text = (
        "\n".join(map(str, value))
        if isinstance(value, list)
        else ""
        if value is None
        else str(value)
    )
    owner = filing.created_by == staff.staff_id
    mask = _PERSONAL.get(kind)
    return {
        "path": path,
        "label": field_label(path),
        "multiline": isinstance(value, list),
        # The clerk who filed it sees the number to correct; anyone else types it anew.
        "value": text if owner or mask is None else "",
        "placeholder": mask(text) if mask is not None and not owner else "",
    }


def _refusal_view(filing: Filing, refusal: Refusal, staff: SignedIn) -> dict[str, Any]:
    spec = by_name()[refusal.step]
    return {
        "step": refusal.step,
        "label": (spec.label_zh, spec.label_en),
        "code": refusal.code,
        "message": mask_text(refusal.message),
        "fields": [_field(filing, path, staff) for path in refusal.editable],
        "locked": [
            (field_label(path), path, by_name()[step].label_zh, by_name()[step].label_en)
            for path, step in refusal.locked.items()
        ],
    }


def _context(staff: SignedIn, tracking_code: str) -> dict[str, Any]:
    """What the filing's page shows (NotFound if the staff may not see it)."""
    rt = runtime.current()
    with rt.database.reading() as session:
        filing = service.get_filing(session, staff.scope, tracking_code)
        history = service.events_of(session, filing)
        # Masked, agencies' own wording included, though the branch may see the numbers:
        # a page stays on screens and in screenshots; the edit form shows them to its clerk.
        shown = views.detail(filing, history, rt.calendar, reveal_personal_data=False)
        representative = filing.payload.get("legal_representative", {})
        agent = drafts.agent_record(session, filing.id)
        refusals = [_refusal_view(filing, r, staff) for r in corrections.refusals(filing, history)]
        handover = next((s for s in filing.steps if s.name == HANDOVER_STEP), None)
        withdrawable = step_withdrawal.withdrawable(filing, now=rt.clock.now())
        judged = sla.live(session, filing, now=rt.clock.now(), calendar=rt.calendar)
    return {
        **sla.context(judged),
        "filing": shown,
        "deadline_days": rt.calendar.elapsed_days(shown.accepted_at, shown.deadline_at),
        "representative": {
            "name": representative.get("name", ""),
            "id_number": mask_id_number(representative.get("id_number", "")),
            "mobile": mask_mobile(representative.get("mobile", "")),
        },
        "filing_status": FILING_STATUS,
        "step_status": STEP_STATUS,
        "agent": agent,
        "refusals": refusals,
        "at_branch": handover is not None and handover.status == StepStatus.AT_BRANCH,
        "licence_ready": bool(shown.credit_code),
        "withdrawable": withdrawable,
        "poll_seconds": POLL_SECONDS,
        "errors": {},
        "typed": {},
        "form_error": None,
    }


@router.get("/filings/{tracking_code}", name="filing")
def filing_page(request: Request, tracking_code: str) -> Response:
    """One filing: its state, its committed deadline, the timeline of its steps, and what
    staff may do about it now."""
    visit = auth.visit(request)
    staff = branch_staff(visit, request)
    try:
        context = _context(staff, tracking_code)
    except NotFound:
        return not_found(request)
    return page(visit, request, "portal/filing.html", **context)


@router.get("/live/filings/{tracking_code}", name="filing_live")
def filing_live(request: Request, tracking_code: str) -> Response:
    """The filing's status and timeline alone, for its open page to refresh itself with."""
    visit, staff = _live_staff(request)
    try:
        context = _context(staff, tracking_code)
    except NotFound:
        return Response(status_code=404, headers=PAGE_HEADERS)
    return page(visit, request, "portal/_filing_status.html", **context)


def _again(
    visit: auth.Visit,
    request: Request,
    staff: SignedIn,
    tracking_code: str,
    *,
    errors: Mapping[str, list[str]] | None = None,
    typed: Mapping[str, str] | None = None,
    refused: DomainError | None = None,
) -> Response:
    """The filing's page again, with what was typed and why it was refused."""
    try:
        context = _context(staff, tracking_code)
    except NotFound:
        return not_found(request)
    context.update(
        errors=dict(errors or {}),
        typed=dict(typed or {}),
        form_error=None if refused is None else said_in(refused, visit.language),
    )
    here = f"{base(request)}/filings/{tracking_code}"
    return page(visit, request, "portal/filing.html", status_code=422, here=here, **context)


def _changes(refusal: Refusal, filing: Filing, posted: Mapping[str, Any]) -> dict[str, Any]:
    """The fields the form changed: a field left empty (a number not typed anew) stays."""
    changes: dict[str, Any] = {}
    for path in refusal.editable:
        typed = str(posted.get(path) or "").strip()
        if not typed:
            continue
        current = value_at(filing.payload, path)
        if isinstance(current, list):
            lines = [line.strip() for line in typed.splitlines() if line.strip()]
            if lines != current:
                changes[path] = lines
        elif typed != str(current):
            changes[path] = typed
    return changes


@router.post("/filings/{tracking_code}/correct", name="correct")
def correct(request: Request, tracking_code: str, posted: Posted) -> Response:
    """Correct the fields an agency's refusal concerns and send the step again."""
    visit, staff = _staff_posting(request, posted.get("csrf_token"))
    step = str(posted.get("step") or "")
    typed = {key: str(value) for key, value in posted.items() if isinstance(value, str)}
    rt = runtime.current()
    actor = service.Actor(name=staff.actor, scope=staff.scope)
    try:
        with rt.database.reading() as session:
            filing = service.get_filing(session, staff.scope, tracking_code)
            history = service.events_of(session, filing)
            refusal = next(
                (r for r in corrections.refusals(filing, history) if r.step == step), None
            )
            changes = _changes(refusal, filing, posted) if refusal is not None else {}
        with rt.database.transaction() as session:
            corrections.correct_and_resubmit(
                session,
                actor=actor,
                tracking_code=tracking_code,
                step=step,
                changes=changes,
                now=rt.clock.now(),
                lease_until=rt.clock.after(rt.settings.step_lease_seconds),
            )
    except NotFound:
        return not_found(request)
    except Invalid as exc:
        zh = visit.language == DEFAULT_LANGUAGE
        shown = forms.messages(forms.from_dicts(exc.detail.get("errors", [])), zh)
        return _again(visit, request, staff, tracking_code, errors=shown, typed=typed)
    except Conflict as exc:
        return _again(visit, request, staff, tracking_code, refused=exc)
    return RedirectResponse(f"{base(request)}/filings/{tracking_code}", status_code=303)


@router.post("/filings/{tracking_code}/handover", name="hand_over")
def hand_over(request: Request, tracking_code: str, posted: Posted) -> Response:
    """Record that licence and seals were handed to a collector whose identity card staff
    checked in person: the filing is complete."""
    visit, staff = _staff_posting(request, posted.get("csrf_token"))
    typed = {
        "collector.name": str(posted.get("collector.name") or ""),
        "collector.id_number": str(posted.get("collector.id_number") or ""),
    }
    rt = runtime.current()
    try:
        collector = checked_collector(
            typed["collector.name"],
            typed["collector.id_number"],
            checked_in_person=posted.get("identity_checked") == "yes",
        )
        with rt.database.transaction() as session:
            service.hand_over(
                session,
                actor=service.Actor(name=staff.actor, scope=staff.scope),
                tracking_code=tracking_code,
                now=rt.clock.now(),
                collector=collector,
            )
    except NotFound:
        return not_found(request)
    except Invalid as exc:
        zh = visit.language == DEFAULT_LANGUAGE
        errors = forms.from_dicts(exc.detail.get("errors", []))
        shown = {
            (f"collector.{key}" if key in ("name", "id_number") else key): messages
            for key, messages in forms.messages(errors, zh).items()
        }
        return _again(visit, request, staff, tracking_code, errors=shown, typed=typed)
    except Conflict as exc:
        return _again(visit, request, staff, tracking_code, refused=exc)
    return RedirectResponse(f"{base(request)}/filings/{tracking_code}", status_code=303)


@router.post("/filings/{tracking_code}/steps/{step_name}/withdraw", name="withdraw_step")
def withdraw_step(request: Request, tracking_code: str, step_name: str, posted: Posted) -> Response:
    """Withdraw a step whose 容缺 material is past due: the rest of the filing goes on."""
    visit, staff = _staff_posting(request, posted.get("csrf_token"))
    rt = runtime.current()
    try:
        with rt.database.transaction() as session:
            step_withdrawal.withdraw_step(
                session,
                actor=service.Actor(name=staff.actor, scope=staff.scope),
                tracking_code=tracking_code,
                step_name=step_name,
                now=rt.clock.now(),
                lease_until=rt.clock.after(rt.settings.step_lease_seconds),
                calendar=rt.calendar,
            )
    except NotFound:
        return not_found(request)
    except Conflict as exc:
        return _again(visit, request, staff, tracking_code, refused=exc)
    return RedirectResponse(f"{base(request)}/filings/{tracking_code}", status_code=303)


@router.get("/filings/{tracking_code}/licence", name="licence")
def licence(request: Request, tracking_code: str) -> Response:
    """The e-business licence as registration signed it (a 404 until it has issued one)."""
    visit = auth.visit(request)
    staff = branch_staff(visit, request)
    rt = runtime.current()
    try:
        with rt.database.reading() as session:
            return licence_file(session, staff.scope, tracking_code, headers=PAGE_HEADERS)
    except NotFound:
        return not_found(request)
