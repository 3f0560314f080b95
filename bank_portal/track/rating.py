"""好差评 on the tracking page: a completed filing rated 1–5, with a one-time code texted to the
legal representative's mobile (`orchestrator.identity.one_time_codes`); a rating of 1 or 2 goes
to the branch manager's follow-ups (`orchestrator.feedback`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from bank_portal.i18n import said_in
from bank_portal.pages import base, see_other
from bank_portal.sessions import CsrfToken
from bank_portal.track.pages import act_with_code, opened_form, send_code, show_filing
from orchestrator.errors import DomainError, Invalid
from orchestrator.feedback import service as feedback
from orchestrator.filings.models import Filing
from orchestrator.identity.one_time_codes import Purpose

router = APIRouter()


def _wrong_code() -> Invalid:
    return Invalid("验证码不正确或已过期", "the code is wrong or has expired", field="code")


@router.post("/rating", name="track_rating")
def rate(
    request: Request,
    score: Annotated[str, Form(max_length=10)] = "",
    comment: Annotated[str, Form(max_length=2000)] = "",
    one_time_code: Annotated[str, Form(max_length=20)] = "",
    csrf_token: CsrfToken = "",
) -> Response:
    """Rate the opened, completed filing, with the one-time code sent to its mobile."""
    shown = opened_form(request, csrf_token)

    def rate_it(session: Session, filing: Filing, now: datetime) -> None:
        feedback.rate(session, filing=filing, score=score, comment=comment, now=now)

    try:
        if not act_with_code(shown, Purpose.RATE, one_time_code, rate_it):
            raise _wrong_code()
    except DomainError as refused:
        return show_filing(
            shown,
            request,
            rating_error=said_in(refused, shown.visit.language),
            status_code=refused.status_code,
        )
    return see_other(f"{base(request)}/filing#rating")


@router.post("/rating/code", name="track_rating_code")
def send_rating_code(request: Request, csrf_token: CsrfToken = "") -> Response:
    """Send a one-time code for rating to the opened filing's mobile."""
    return send_code(request, csrf_token, Purpose.RATE, "rating")
