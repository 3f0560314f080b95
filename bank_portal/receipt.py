"""The receipt (受理通知单) of a filing: what it says, its QR code, and its PDF.

One `Receipt` is shown twice: as a printable page (templates/portal/receipt.html with a
print stylesheet) and as a PDF. Its QR code opens the tracking page; neither shows any
digit of the applicant's mobile past the first three.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from functools import cache

import segno
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from bank_portal.i18n import N_
from bank_portal.pages import gettext
from orchestrator.clock import CHINA
from orchestrator.filings.views import FilingDetail
from orchestrator.reference import load_reference
from orchestrator.settings import tracking_url
from orchestrator.subsidies.ledger import FilingSubsidy
from orchestrator.subsidies.policy import ITEM_LABELS
from orchestrator.subsidies.reimbursement import yuan

CJK_FONT_FILE = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
FONT = "WenQuanYiZenHei"


@dataclass(frozen=True)
class MissingMaterial:
    """A material to supplement (容缺) and when it is due."""

    name_zh: str
    name_en: str
    due_at: datetime | None


@dataclass(frozen=True)
class SubsidyOnReceipt:
    """What the district pays for (`free`), or what the firm pays as the month's budget was
    spent at acceptance; each item named in Chinese and English."""

    free: bool
    items: tuple[tuple[str, str], ...]
    total_fen: int


@dataclass(frozen=True)
class Receipt:
    """What a receipt says."""

    tracking_code: str
    company_name: str
    accepted_at: datetime
    deadline_at: datetime
    deadline_working_days: float
    clerk: str
    branch: str
    mobile_prefix: str  # the first three digits, never more
    missing: tuple[MissingMaterial, ...]
    tracking_url: str
    subsidy: SubsidyOnReceipt | None = None

    @property
    def complete(self) -> bool:
        """Whether every material is there (材料齐全、开始办理) or some are to supplement."""
        return not self.missing


def receipt_of(
    filing: FilingDetail,
    *,
    clerk: str,
    branch: str,
    public_url: str,
    deadline_working_days: float,
    subsidy: FilingSubsidy | None = None,
) -> Receipt:
    """The receipt of `filing`, filed by `clerk` at `branch`, with its `subsidy` (the
    ledger's) if the district pays for anything it wants."""
    catalogue = load_reference().materials
    mobile = str(filing.application.get("legal_representative", {}).get("mobile", ""))
    missing = tuple(
        MissingMaterial(catalogue[m.code].name_zh, catalogue[m.code].name_en, m.due_at)
        for m in filing.materials
        if m.status == "missing" and m.code in catalogue
    )
    return Receipt(
        tracking_code=filing.tracking_code,
        company_name=filing.company_name,
        accepted_at=filing.accepted_at,
        deadline_at=filing.deadline_at,
        deadline_working_days=deadline_working_days,
        clerk=clerk,
        branch=branch,
        mobile_prefix=mobile[:3],
        missing=missing,
        tracking_url=tracking_url(public_url, filing.tracking_code),
        subsidy=None
        if subsidy is None
        else SubsidyOnReceipt(
            free=subsidy.granted,
            items=tuple(ITEM_LABELS.get(item, (item, item)) for item in subsidy.items),
            total_fen=subsidy.total_fen,
        ),
    )


def subsidy_text(subsidy: SubsidyOnReceipt, language: str) -> str:
    """The receipt's line on the subsidy, in `language`."""
    zh = language == "zh_Hans"
    items = ("、" if zh else ", ").join(zh_name if zh else en for zh_name, en in subsidy.items)
    message = (
        N_("Free under the district's policy: %(items)s (¥%(amount)s).")
        if subsidy.free
        else N_(
            "Paid by the firm, the district's subsidy budget being spent: %(items)s (¥%(amount)s)."
        )
    )
    return gettext(language, message, items=items, amount=yuan(subsidy.total_fen))


def qr_png(url: str, *, scale: int = 6) -> bytes:
    """The QR code of `url` as a PNG (a full QR code: phones cannot read Micro QR)."""
    out = io.BytesIO()
    segno.make_qr(url, error="m").save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


@cache
def _font() -> str:
    pdfmetrics.registerFont(TTFont(FONT, CJK_FONT_FILE, subfontIndex=0))
    return FONT


def _when(instant: datetime | None) -> str:
    return instant.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if instant else "—"


def pdf(receipt: Receipt, language: str) -> bytes:
    """The receipt as an A4 PDF in `language` (the page's), with its QR code."""

    def _(message: str, **values: object) -> str:
        return gettext(language, message, **values)

    zh = language == "zh_Hans"
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, invariant=True)
    canvas.setTitle(f"{_('Receipt')} {receipt.tracking_code}")
    width, height = A4
    font = _font()
    y = height - 72
    canvas.setFont(font, 18)
    title = (
        _("Receipt of acceptance")
        if receipt.complete
        else _("Receipt of acceptance with materials to supplement")
    )
    canvas.drawString(60, y, title)
    y -= 36
    canvas.setFont(font, 11)
    days = _("%(days)s working days from acceptance", days=f"{receipt.deadline_working_days:.1f}")
    lines = [
        (_("Tracking code"), receipt.tracking_code),
        (_("Company name"), receipt.company_name),
        (_("Accepted at"), _when(receipt.accepted_at)),
        (_("Committed deadline"), f"{_when(receipt.deadline_at)} ({days})"),
        (_("Responsible clerk"), receipt.clerk),
        (_("Branch"), receipt.branch),
        (_("Applicant's mobile"), f"{receipt.mobile_prefix}********"),
    ]
    for label, value in lines:
        canvas.drawString(60, y, f"{label}: {value}")
        y -= 20
    if receipt.subsidy is not None:
        canvas.setFont(font, 9)  # the longest line: it stays within the page
        canvas.drawString(60, y, subsidy_text(receipt.subsidy, language))
        canvas.setFont(font, 11)
        y -= 20
    y -= 10
    if receipt.complete:
        canvas.drawString(60, y, _("All materials are in: processing has started."))
        y -= 20
    else:
        canvas.drawString(60, y, _("Accepted with materials to supplement:"))
        y -= 20
        for item in receipt.missing:
            name = item.name_zh if zh else item.name_en
            canvas.drawString(72, y, f"· {name} — {_('due by %(when)s', when=_when(item.due_at))}")
            y -= 18
    qr = ImageReader(io.BytesIO(qr_png(receipt.tracking_url)))
    canvas.drawImage(qr, width - 200, height - 220, 140, 140)
    canvas.setFont(font, 9)
    canvas.drawString(width - 200, height - 232, _("Scan to follow the filing"))
    canvas.showPage()
    canvas.save()
    return out.getvalue()
