"""The one form (/portal/filings/new): drafts kept, checked as the clerk types with the
API's own validation, a live name check with the registration authority, the materials
checklist with uploads, and filing as the client's agent; then the receipt (受理通知单), as
a printable page and a PDF, with its QR code.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import IntegrityError

from bank_portal import auth, forms
from bank_portal.i18n import DEFAULT_LANGUAGE, N_, said_in
from bank_portal.pages import PAGE_HEADERS, Elsewhere, base, gettext
from bank_portal.receipt import Receipt, pdf, qr_png, receipt_of, subsidy_text
from bank_portal.routes import branch_staff, check_csrf, not_found, page
from bank_portal.sessions import CsrfToken, settings_of
from orchestrator import runtime
from orchestrator.api.responses import file_response
from orchestrator.errors import DomainError, Invalid, NotFound
from orchestrator.filings import drafts, names, service, views
from orchestrator.filings.uploads import MAX_UPLOAD_BYTES, DatabaseStore, store_upload
from orchestrator.identity.models import Branch, Staff
from orchestrator.identity.sessions import SignedIn
from orchestrator.reference import ENTERPRISE_TYPES, SEAL_KINDS, load_reference
from orchestrator.subsidies import ledger
from orchestrator.subsidies.policy import SEAL_VENDOR
from orchestrator.subsidies.reimbursement import yuan

router = APIRouter()
STORE = DatabaseStore()

NAME_VERDICTS = {
    "available": N_("The name is available"),
    "name_conflict": N_("Conflicts with a name registered in the district"),
    "prohibited_word": N_("Contains a prohibited word"),
    "invalid_name": N_("The name is not well formed"),
}
SEAL_NAMES = {
    "official": N_("Official seal"),
    "finance": N_("Finance seal"),
    "invoice": N_("Invoice seal"),
    "legal_representative": N_("Legal representative's seal"),
}
COURIER_SUBSIDY = N_("Courier of licence and seals")
ENTERPRISE_TYPE_NAMES = {
    "llc": N_("Limited liability company"),
    "one_person_llc": N_("One-person limited liability company"),
}


def _signed_in(request: Request) -> tuple[auth.Visit, SignedIn]:
    visit = auth.visit(request)
    return visit, branch_staff(visit, request)


@router.get("/filings/new", name="new_filing")
def new_filing(request: Request) -> Response:
    """Start a filing, or go back to a draft the branch left."""
    visit, staff = _signed_in(request)
    rt = runtime.current()
    with rt.database.reading() as session:
        kept = [(d.id, d.form.get("company_name.trade_name", ""), d.updated_at)
                for d in drafts.open_drafts(session, staff.scope)]  # fmt: skip
    return page(visit, request, "portal/new.html", drafts=kept)


@router.post("/filings/new")
def start_draft(request: Request, csrf_token: CsrfToken = "") -> Response:
    """A new draft of the branch's, opened in the form."""
    _visit, staff = _staff_posting(request, csrf_token)
    rt = runtime.current()
    with rt.database.transaction() as session:
        assert staff.scope.branch_id is not None
        draft = drafts.new_draft(
            session, branch_id=staff.scope.branch_id, staff_id=staff.staff_id, now=rt.clock.now()
        )
        draft_id = draft.id
    return RedirectResponse(f"{base(request)}/filings/new/{draft_id}", status_code=303)


def _defaults(staff: SignedIn) -> dict[str, Any]:
    rt = runtime.current()
    with rt.database.reading() as session:
        branch = session.get(Branch, staff.scope.branch_id)
        assert branch is not None
        return {"district_code": branch.district_code, "bank_code": branch.bank_code,
                "enterprise_type": "llc", "company_name.organisation_form": "有限公司",
                "taxpayer_type": "small_scale", "housing_fund_rate_percent": "10",
                "delivery.method": "branch_pickup", "seals": ["official"]}  # fmt: skip


def _form_page(
    visit: auth.Visit,
    request: Request,
    staff: SignedIn,
    draft_id: int,
    *,
    errors: dict[str, list[str]] | None = None,
    status_code: int = 200,
) -> Response:
    rt = runtime.current()
    try:
        with rt.database.reading() as session:
            draft = drafts.get_draft(session, staff.scope, draft_id)
            if draft.tracking_code is not None:
                return RedirectResponse(
                    f"{base(request)}/filings/{draft.tracking_code}/receipt", status_code=303
                )
            typed = draft.form or _defaults(staff)
            uploaded = {u.material: u.filename for u in drafts.uploads_of(session, draft_id)}
    except NotFound:
        return not_found(request)
    catalogue = load_reference().materials.values()
    return page(
        visit,
        request,
        "portal/form.html",
        subsidy=_subsidy_notice(visit.language, typed),
        status_code=status_code,
        draft_id=draft_id,
        typed=typed,
        errors=errors or {},
        shareholder_rows=range(forms.SHAREHOLDER_ROWS),
        staff_rows=range(forms.STAFF_ROWS),
        seal_kinds=[(k, SEAL_NAMES[k]) for k in SEAL_KINDS],
        enterprise_types=[(k, ENTERPRISE_TYPE_NAMES[k]) for k in ENTERPRISE_TYPES],
        materials=[m for m in catalogue if not m.generated],
        uploaded=uploaded,
        max_upload_mib=MAX_UPLOAD_BYTES // (1024 * 1024),
        max_upload_bytes=MAX_UPLOAD_BYTES,
    )


def _subsidy_notice(language: str, typed: dict[str, Any]) -> dict[str, Any] | None:
    """What the district pays for the filing as typed, if anything, and whether this month's
    budget still covers it (else the firm pays), for the form to say before filing."""
    reference = load_reference()
    district = str(typed.get("district_code", ""))
    industry = str(typed.get("industry_code", ""))
    if district not in reference.districts or reference.industry_division(industry) is None:
        return None
    seals = typed.get("seals", [])
    rt = runtime.current()
    with rt.database.reading() as session:
        offer = ledger.offer(
            session.connection(),
            district_code=district,
            industry_code=industry,
            seals=[seals] if isinstance(seals, str) else seals,
            couriered=typed.get("delivery.method") == "courier",
            now=rt.clock.now(),
        )
    if not offer.items:
        return None
    labels = [
        gettext(language, SEAL_NAMES[item.code.removeprefix("seal:")])
        if item.vendor == SEAL_VENDOR else gettext(language, COURIER_SUBSIDY)
        for item in offer.items
    ]  # fmt: skip
    separator = "、" if language.startswith("zh") else ", "
    return {
        "covered": offer.covered,
        "items": separator.join(labels),
        "amount": yuan(offer.total_fen),
    }


@router.get("/filings/new/{draft_id}", name="draft")
def draft_page(request: Request, draft_id: int) -> Response:
    """The one form, as the draft left it."""
    visit, staff = _signed_in(request)
    return _form_page(visit, request, staff, draft_id)


async def _posted(request: Request) -> dict[str, Any]:
    """The posted form's fields (read here, on the event loop: the routes, which ask the
    database and the agencies, run in the thread pool as the portal's other pages do)."""
    data = await request.form()
    form: dict[str, Any] = {key: data.get(key) for key in data if key != "seals"}
    form["seals"] = data.getlist("seals")
    return form


def _staff_posting(
    request: Request, csrf_token: str | None, *, answer_json: bool = False
) -> tuple[auth.Visit, SignedIn]:
    """Who signed in and posted a form from a page of this session; else `Elsewhere`: to
    sign in, or told the form has expired (its CSRF token did not come back)."""
    visit, staff = _signed_in(request)
    if answer_json and not auth.csrf_ok(visit.session, csrf_token):
        raise Elsewhere(JSONResponse({"error": "csrf"}, status_code=403))
    check_csrf(visit, request, csrf_token)
    return visit, staff


Posted = Annotated[dict[str, Any], Depends(_posted)]


def _save(staff: SignedIn, draft_id: int, typed: dict[str, Any]) -> list[str]:
    """Keep the typed form; the codes of the materials uploaded for it."""
    rt = runtime.current()
    with rt.database.transaction() as session:
        draft = drafts.get_draft(session, staff.scope, draft_id)
        drafts.save_form(session, draft, typed, now=rt.clock.now())
        return [u.material for u in drafts.uploads_of(session, draft_id)]


@router.post("/filings/new/{draft_id}/check")
def check_form(request: Request, draft_id: int, posted: Posted) -> Response:
    """Keep the draft and answer its field errors, in the page's language (as one types)."""
    visit, staff = _staff_posting(request, posted.get("csrf_token"), answer_json=True)
    typed = forms.typed(posted)
    try:
        materials = _save(staff, draft_id, typed)
    except NotFound:
        return JSONResponse({"error": "not_found"}, status_code=404)
    _, errors = forms.validate(typed, materials)
    shown = forms.messages(errors, visit.language == DEFAULT_LANGUAGE)
    return JSONResponse({"errors": shown}, headers={"Cache-Control": "no-store"})


@router.post("/names/check")
def check_name(request: Request, posted: Posted) -> Response:
    """Ask the registration authority about the name the form makes (the core's service)."""
    visit, _staff = _staff_posting(request, posted.get("csrf_token"), answer_json=True)
    typed = forms.typed(posted)
    name = "".join(
        typed[f"company_name.{part}"]
        for part in ("region", "trade_name", "industry_term", "organisation_form")
    )
    rt = runtime.current()
    try:
        result = names.check_name(rt.adapters, district_code=typed["district_code"], name=name)
    except DomainError as exc:
        text = said_in(exc, visit.language)
        return JSONResponse(
            {"available": False, "verdict": text, "authority": ""}, status_code=exc.status_code
        )
    verdict = NAME_VERDICTS.get(
        result.code, N_("The registration authority does not accept the name")
    )
    return JSONResponse(
        {"available": result.available, "code": result.code, "name": result.name,
         "verdict": gettext(visit.language, verdict), "authority": result.authority_message},
        headers={"Cache-Control": "no-store"},
    )  # fmt: skip


@router.post("/filings/new/{draft_id}/upload")
def upload(
    request: Request,
    draft_id: int,
    material: Annotated[str, Form(max_length=40)],
    file: Annotated[UploadFile, File()],
    csrf_token: CsrfToken = "",
) -> Response:
    """Keep an uploaded material (its bytes sniffed and its size limited) with the draft."""
    visit, staff = _staff_posting(request, csrf_token)
    if material not in load_reference().materials:
        return _form_page(visit, request, staff, draft_id, status_code=422)
    content = file.file.read(MAX_UPLOAD_BYTES + 1)
    rt = runtime.current()
    try:
        with rt.database.transaction() as session:
            drafts.get_draft(session, staff.scope, draft_id)
            store_upload(session, STORE, draft_id=draft_id, material=material,
                         filename=file.filename or "", content=content,
                         staff_id=staff.staff_id, now=rt.clock.now())  # fmt: skip
    except NotFound:
        return not_found(request)
    except Invalid as exc:
        shown = forms.messages(
            forms.from_dicts(exc.detail["errors"]), visit.language == DEFAULT_LANGUAGE
        )
        return _form_page(
            visit,
            request,
            staff,
            draft_id,
            errors={f"upload.{material}": shown["file"]},
            status_code=422,
        )
    return RedirectResponse(f"{base(request)}/filings/new/{draft_id}#materials", status_code=303)


@router.post("/filings/new/{draft_id}/file")
def file_draft(request: Request, draft_id: int, posted: Posted) -> Response:
    """File the draft as the branch, the client's agent; then its receipt."""
    visit, staff = _staff_posting(request, posted.get("csrf_token"))
    zh = visit.language == DEFAULT_LANGUAGE
    typed = forms.typed(posted)
    rt = runtime.current()
    try:
        materials = _save(staff, draft_id, typed)
        data, errors = forms.validate(typed, materials)
        if data is None:
            return _form_page(
                visit, request, staff, draft_id, errors=forms.messages(errors, zh), status_code=422
            )
        try:
            with rt.database.transaction() as session:
                draft = drafts.get_draft(session, staff.scope, draft_id)
                code = drafts.file_draft(
                    session, actor=service.Actor(name=staff.actor, scope=staff.scope),
                    staff_id=staff.staff_id, draft=draft, data=data,
                    identity_checked=posted.get("identity_checked") == "yes",
                    now=rt.clock.now(), lease_until=rt.clock.after(rt.settings.step_lease_seconds),
                    calendar=rt.calendar,
                )  # fmt: skip
        except IntegrityError:
            # A double submit that raced this one filed it: the draft's key found it.
            with rt.database.reading() as session:
                earlier = service.find_by_idempotency_key(
                    session, staff.scope.branch_id or 0, drafts.idempotency_key(draft_id)
                )
                if earlier is None:
                    raise
                code = earlier.tracking_code
    except NotFound:
        return not_found(request)
    except Invalid as exc:
        shown = forms.messages(forms.from_dicts(exc.detail.get("errors", [])), zh)
        return _form_page(visit, request, staff, draft_id, errors=shown, status_code=422)
    return RedirectResponse(f"{base(request)}/filings/{code}/receipt", status_code=303)


def _receipt(request: Request, tracking_code: str) -> tuple[auth.Visit, Receipt]:
    """The session and the filing's receipt; else `Elsewhere`: the sign-in page, or a 404
    (another branch's filing, or none)."""
    visit, staff = _signed_in(request)
    try:
        return visit, _receipt_of(request, staff, tracking_code)
    except NotFound as exc:
        raise Elsewhere(not_found(request)) from exc


def _receipt_of(request: Request, staff: SignedIn, tracking_code: str) -> Receipt:
    rt = runtime.current()
    with rt.database.reading() as session:
        filing = service.get_filing(session, staff.scope, tracking_code)
        shown = views.detail(
            filing, service.events_of(session, filing), rt.calendar, reveal_personal_data=True
        )
        subsidy = ledger.of_filings(session.connection(), [filing.id]).get(filing.id)
        clerk = session.get(Staff, filing.created_by)
        branch = session.get(Branch, filing.branch_id)
        names_ = (clerk.name if clerk else "", branch.name if branch else "")
    # The public address the settings give, else the one this request came to (not the
    # portal's: the tracking page is served beside it, at /track).
    public = settings_of(request).public_url or f"{request.url.scheme}://{request.url.netloc}"
    return receipt_of(
        shown, clerk=names_[0], branch=names_[1], public_url=public,
        deadline_working_days=rt.calendar.elapsed_days(shown.accepted_at, shown.deadline_at),
        subsidy=subsidy,
    )  # fmt: skip


@router.get("/filings/{tracking_code}/receipt", name="receipt")
def receipt_page(request: Request, tracking_code: str) -> Response:
    """The receipt, printable (its print stylesheet leaves the portal's frame out)."""
    visit, receipt = _receipt(request, tracking_code)
    subsidy = None if receipt.subsidy is None else subsidy_text(receipt.subsidy, visit.language)
    return page(visit, request, "portal/receipt.html", receipt=receipt, subsidy=subsidy)


@router.get("/filings/{tracking_code}/receipt.pdf")
def receipt_pdf(request: Request, tracking_code: str) -> Response:
    """The receipt as a PDF, in the session's language."""
    visit, receipt = _receipt(request, tracking_code)
    return file_response(
        pdf(receipt, visit.language),
        media_type="application/pdf",
        filename=f"receipt-{tracking_code}.pdf",
        inline=True,
        headers=PAGE_HEADERS,
    )


@router.get("/filings/{tracking_code}/receipt/qr.png")
def receipt_qr(request: Request, tracking_code: str) -> Response:
    """The receipt's QR code: the tracking page's address."""
    _visit, receipt = _receipt(request, tracking_code)
    return Response(
        qr_png(receipt.tracking_url), media_type="image/png", headers={"Cache-Control": "no-store"}
    )
