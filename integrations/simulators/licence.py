"""The simulated bureau's e-business licence: rendered with reportlab, signed with its dev key.

The PDF uses reportlab's built-in CJK font (STSong-Light, a standard Adobe CID font that
viewers supply, so nothing is embedded or installed) and `invariant=1`, so the same data
always gives the same bytes. The QR code (zxing-cpp, full-size QR only: Micro QR is not read
by phones) encodes the licence's public verification URL, which carries a random
verification token rather than the countable licence number. Signing follows
`integrations.e_licence`, with the key below.

THE KEY BELOW IS A DEVELOPMENT KEY OF THE SIMULATOR, NOT A SECRET: its seed is printed in
this file. OneStop trusts it only where it runs these simulators itself (a development
deployment); a real deployment trusts the authorities' real keys.
"""

from __future__ import annotations

import hashlib
import io
import secrets
import string
from datetime import date
from functools import lru_cache
from typing import Any, cast

import zxingcpp
from PIL import Image
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.pdfdoc import PDFArray, PDFDictionary, PDFName, PDFStream, PDFString
from reportlab.pdfgen.canvas import Canvas

from integrations.e_licence import (
    ATTACHMENT,
    BLANK_SIGNATURE,
    SIGNATURE_FIELD,
    LicenceData,
    fill_signature,
    signed_envelope,
)
from integrations.signing import Ed25519Signer, Signer

FONT = "STSong-Light"
DEV_KEY_LABEL = b"OneStop simulated registration authority: development key, not a secret"
# Where a QR code leads unless OneStop says otherwise: `{token}` (and `{licence_no}`, if a
# template names it) filled in per licence.
DEFAULT_VERIFY_URL = "http://127.0.0.1:8000/api/v1/licences/check/{token}"
VERIFY_URL_FIELDS = frozenset({"token", "licence_no"})
VERIFICATION_TOKEN_BYTES = 16  # 128 random bits: not to be guessed, nor counted through

_PAGE_W, _PAGE_H = landscape(A4)
_MARGIN = 60.0
_LABEL_W = 110.0
_QR_SIZE = 120.0


def verification_token() -> str:
    """A fresh token for a licence's QR code.

    From the operating system's randomness, never from a simulator's seeded dice: a
    scenario's seed is no secret, so tokens drawn from it could be computed.
    """
    return secrets.token_urlsafe(VERIFICATION_TOKEN_BYTES)


def verify_url(template: str, *, token: str, licence_no: str) -> str:
    """`template` with the licence's token and number filled in."""
    return template.format(token=token, licence_no=licence_no)


def check_verify_url_template(template: str) -> str:
    """`template` if it names no field but `{token}` and `{licence_no}`; else ValueError."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise ValueError(f"malformed verify URL template {template!r}: {exc}") from exc
    if unknown := fields - VERIFY_URL_FIELDS:
        raise ValueError(
            f"a verify URL template may name {{token}} and {{licence_no}} only, not {unknown}"
        )
    return template


@lru_cache(maxsize=1)
def simulator_signer() -> Signer:
    """The simulated bureau's signing key (derived from a public label: a dev key)."""
    return Ed25519Signer.from_seed(hashlib.sha256(DEV_KEY_LABEL).digest())


@lru_cache(maxsize=1)
def _register_font() -> None:
    pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def chinese_date(day: date) -> str:
    """2025年03月03日."""
    return f"{day.year}年{day.month:02d}月{day.day:02d}日"


def capital_text(yuan: str) -> str:
    """ "1000000.00" as the licence writes it: 人民币1,000,000.00元."""
    whole, _, cents = yuan.partition(".")
    return f"人民币{int(whole):,}.{cents or '00'}元"


def _wrap(text: str, width: float, size: float) -> list[str]:
    # Chinese has no spaces to break at: break wherever the next character would not fit.
    # A line's width is the sum of its characters' (the CID font has no kerning), so each
    # character is measured once, not every line again as it grows.
    lines, line, line_width = [], "", 0.0
    for ch in text:
        ch_width = _char_width(ch, size)
        if line and line_width + ch_width > width:
            lines.append(line)
            line, line_width = "", 0.0
        line += ch
        line_width += ch_width
    return [*lines, line] if line else lines


@lru_cache(maxsize=4096)
def _char_width(ch: str, size: float) -> float:
    return float(pdfmetrics.stringWidth(ch, FONT, size))


def _draw_qr(canvas: Canvas, payload: str, x: float, y: float, size: float) -> None:
    # zxing-cpp encodes in C++: a pure-Python encoder was a large part of what a licence cost
    # the simulated bureau. One module per pixel with its quiet zone, scaled up by the viewer
    # without smoothing.
    code = zxingcpp.create_barcode(payload, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    modules = code.to_image(scale=1, add_quiet_zones=True)
    height, width = modules.shape
    pixels = bytes(cast(Any, modules))  # a buffer, which zxing-cpp's type stubs leave out
    image = Image.frombuffer("L", (width, height), pixels, "raw", "L", 0, 1)
    canvas.drawImage(ImageReader(image), x, y, size, size)


def render_licence(licence: LicenceData) -> bytes:
    """The licence as an unsigned PDF page (same data, same bytes)."""
    return _render(licence, attachment=None)


def issue_licence(licence: LicenceData, signer: Signer | None = None) -> bytes:
    """The signed licence PDF (by default signed with the simulator's dev key).

    Rendered with its attachment and blank signature field in one pass: cloning the rendered
    page with pypdf to attach them afterwards read and wrote the whole page a second time.
    """
    signer = signer or simulator_signer()
    return fill_signature(_render(licence, attachment=signed_envelope(licence, signer)), signer)


def _render(licence: LicenceData, *, attachment: bytes | None) -> bytes:
    _register_font()
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=(_PAGE_W, _PAGE_H), invariant=1)
    canvas.setTitle(f"营业执照 {licence.name}")
    canvas.setAuthor(licence.authority)
    canvas.setSubject(f"统一社会信用代码 {licence.credit_code}")
    canvas.setLineWidth(2)
    canvas.setStrokeColorRGB(0.7, 0.1, 0.1)
    canvas.rect(30, 30, _PAGE_W - 60, _PAGE_H - 60)

    canvas.setFont(FONT, 40)
    canvas.setFillColorRGB(0.7, 0.1, 0.1)
    canvas.drawCentredString(_PAGE_W / 2, _PAGE_H - 110, "营 业 执 照")
    canvas.setFillColorRGB(0, 0, 0)
    canvas.setFont(FONT, 12)
    canvas.drawCentredString(_PAGE_W / 2, _PAGE_H - 135, "（电子营业执照）")
    canvas.drawString(_MARGIN, _PAGE_H - 80, f"统一社会信用代码  {licence.credit_code}")
    canvas.drawRightString(_PAGE_W - _MARGIN, _PAGE_H - 80, f"编号  {licence.licence_no}")

    fields = [
        ("名　　称", licence.name),
        ("类　　型", licence.enterprise_type),
        ("法定代表人", licence.legal_representative),
        ("注册资本", capital_text(licence.registered_capital_yuan)),
        ("成立日期", chinese_date(licence.established_on)),
        ("住　　所", licence.domicile),
        ("经营范围", licence.business_scope),
    ]
    value_w = _PAGE_W - 2 * _MARGIN - _LABEL_W - _QR_SIZE - 30
    y = _PAGE_H - 180
    size = 13
    for label, value in fields:
        canvas.drawString(_MARGIN, y, label)
        for line in _wrap(value, value_w, size) or [""]:
            canvas.drawString(_MARGIN + _LABEL_W, y, line)
            y -= size + 7
        y -= 6

    qr_x, qr_y = _PAGE_W - _MARGIN - _QR_SIZE, _PAGE_H - 200 - _QR_SIZE
    _draw_qr(canvas, licence.verify_url, qr_x, qr_y, _QR_SIZE)
    canvas.setFont(FONT, 10)
    canvas.drawCentredString(qr_x + _QR_SIZE / 2, qr_y - 14, "扫描二维码核验执照")

    canvas.setFont(FONT, 13)
    canvas.drawRightString(_PAGE_W - _MARGIN, 95, f"登记机关  {licence.authority}")
    canvas.drawRightString(_PAGE_W - _MARGIN, 72, chinese_date(licence.issued_on))
    canvas.setFont(FONT, 9)
    canvas.drawString(
        _MARGIN, 45, "本执照由登记机关数字签名；任何改动都会使签名失效。可登录二维码所示地址核验。"
    )
    canvas.showPage()
    if attachment is not None:
        _attach(canvas, attachment)
    canvas.save()
    return out.getvalue()


def _attach(canvas: Canvas, data: bytes) -> None:
    """`licence.json` as an embedded file, its file specification holding the blank field."""
    # reportlab's document, through which indirect objects are made (streams must be); its
    # type stubs leave it out.
    doc: Any = canvas._doc  # type: ignore[attr-defined]
    stream = PDFStream(PDFDictionary({"Type": PDFName("EmbeddedFile")}), data)
    spec = PDFDictionary(
        {
            "Type": PDFName("Filespec"),
            "F": PDFString(ATTACHMENT),
            "UF": PDFString(ATTACHMENT),
            "EF": PDFDictionary({"F": doc.Reference(stream)}),
            SIGNATURE_FIELD.lstrip("/"): PDFString(BLANK_SIGNATURE),
        }
    )
    names = PDFArray([PDFString(ATTACHMENT), doc.Reference(spec)])
    canvas.setCatalogEntry("Names", {"EmbeddedFiles": PDFDictionary({"Names": names})})
