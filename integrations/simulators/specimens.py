"""Seal specimen impressions (印模): what the engraver files with public security, and how a
bank checks the reserved specimen (预留印鉴) it is shown.

Each impression is a small palette PNG (256 px, a few KB) in red, in the seal's usual shape:
公章 round with the company name along the arc, a star and the seal's name; 财务专用章 round
with its name across; 发票专用章 oval with the taxpayer's code; 法定代表人名章 square with the
person's name and 印. Text is drawn with WenQuanYi Zen Hei (Debian `fonts-wqy-zenhei`).

The PNG carries its filing as text chunks (filing number, credit code, seal type) and a
verification code over them and the pixels, keyed by the simulated public-security seal
register: a bank can tell a filed impression from an altered or foreign one without calling
the engraver, as real banks check the national seal register.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import math
import zlib
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, PngImagePlugin

FONT_PACKAGE = "fonts-wqy-zenhei"
FONT_PATHS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/local/share/fonts/wqy-zenhei.ttc"),
)
SIZE = 256
MAX_PNG_BYTES = 64 * 1024
_INK_LEVELS = 4  # palette entries from paper to full ink: smooth enough, and small
_RED = (200, 16, 24)
_REGISTER_KEY = b"simulated public-security seal register (not a secret of any real system)"

SEAL_NAMES: dict[str, str] = {
    "01": "公章",
    "02": "财务专用章",
    "03": "发票专用章",
    "04": "法定代表人名章",
}


class FontMissing(RuntimeError):
    """The CJK font for seal impressions is not installed."""


@lru_cache(maxsize=1)
def font_path() -> Path:
    """Where the CJK font is; raises `FontMissing` naming the Debian package if nowhere."""
    for path in FONT_PATHS:
        if path.is_file():
            return path
    raise FontMissing(
        f"印章印模需要中文字体：请安装 Debian 软件包 {FONT_PACKAGE}（apt-get install "
        f"{FONT_PACKAGE}） / seal impressions need a CJK font: install the Debian package "
        f"{FONT_PACKAGE} (looked in {', '.join(str(p) for p in FONT_PATHS)})"
    )


@lru_cache(maxsize=32)
def font(size: int) -> ImageFont.FreeTypeFont:
    """WenQuanYi Zen Hei at `size` pixels."""
    return ImageFont.truetype(str(font_path()), size)


@lru_cache(maxsize=4096)
def glyph(char: str, size: int) -> Image.Image:
    """One character as an ink mask ("L") of `size`×`size`, centred (not to be drawn on).

    Cached: company names share most of their characters (有限公司, the county's name), and
    rendering a glyph was the costliest part of an impression.
    """
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).text((size / 2, size / 2), char, fill=255, font=font(size), anchor="mm")
    return mask


def _arc_text(ink: Image.Image, text: str, *, rx: float, ry: float, size: int, span: float) -> None:
    """Write `text` clockwise along the top of an ellipse, each glyph upright to the rim."""
    cx, cy = ink.width / 2, ink.height / 2
    count = len(text)
    step = span / max(count - 1, 1)
    start = -90 - span / 2 if count > 1 else -90
    for i, char in enumerate(text):
        angle = math.radians(start + i * step)
        x, y = cx + rx * math.cos(angle), cy + ry * math.sin(angle)
        # Tangent direction of the ellipse, so the glyph's foot points at the centre.
        tilt = math.degrees(math.atan2(ry * math.cos(angle), -rx * math.sin(angle))) + 180
        piece = _turned(char, size, round(180 - tilt, 1))
        ink.paste(255, (round(x - size / 2), round(y - size / 2)), piece)


@lru_cache(maxsize=8192)
def _turned(char: str, size: int, degrees: float) -> Image.Image:
    # Names of one length put their characters at the same angles, and company names share
    # most characters: each glyph is turned once per angle, not once per impression.
    return glyph(char, size).rotate(degrees, resample=Image.Resampling.BICUBIC)


def _star(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float) -> None:
    points = []
    for i in range(10):
        radius = r if i % 2 == 0 else r * 0.38
        angle = math.radians(-90 + 36 * i)
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    draw.polygon(points, fill=255)


@lru_cache(maxsize=1024)
def _text_mask(text: str, size: int) -> tuple[Image.Image, int, int]:
    """`text` as an ink mask, with where its top left lies from the point it is centred on.

    Cached like `glyph`: a seal's name and a person's name seal repeat from seal to seal.
    """
    box = font(size).getbbox(text, anchor="mm")
    left, top = math.floor(box[0]), math.floor(box[1])
    right, bottom = math.ceil(box[2]), math.ceil(box[3])
    mask = Image.new("L", (right - left, bottom - top), 0)
    ImageDraw.Draw(mask).text((-left, -top), text, fill=255, font=font(size), anchor="mm")
    return mask, left, top


def _line(ink: Image.Image, text: str, xy: tuple[float, float], size: int) -> None:
    """Write `text` centred on `xy`."""
    mask, left, top = _text_mask(text, size)
    ink.paste(255, (round(xy[0]) + left, round(xy[1]) + top), mask)


def _fit(text: str, width: float, largest: int) -> int:
    return max(8, min(largest, int(width / max(len(text), 1))))


def draw_impression(seal_type: str, *, enterprise_name: str, holder: str, uscc: str) -> Image.Image:
    """The impression's ink as an "L" mask: `holder` is the legal representative's name."""
    ink = Image.new("L", (SIZE, SIZE), 0)
    draw = ImageDraw.Draw(ink)
    centre = SIZE / 2
    name = SEAL_NAMES[seal_type]
    if seal_type in ("01", "02"):
        draw.ellipse((6, 6, SIZE - 6, SIZE - 6), outline=255, width=8)
        size = _fit(enterprise_name, 300, 30)
        _arc_text(ink, enterprise_name, rx=centre - 34, ry=centre - 34, size=size, span=230)
        if seal_type == "01":
            _star(draw, centre, centre, 38)
            _line(ink, name, (centre, centre + 70), 22)
        else:
            _line(ink, name, (centre, centre + 20), _fit(name, 150, 28))
    elif seal_type == "03":
        top, bottom = SIZE * 0.16, SIZE * 0.84
        draw.ellipse((6, top, SIZE - 6, bottom), outline=255, width=7)
        size = _fit(enterprise_name, 230, 22)
        rx, ry = centre - 28, (bottom - top) / 2 - 22
        _arc_text(ink, enterprise_name, rx=rx, ry=ry, size=size, span=170)
        _line(ink, uscc, (centre, centre + 4), 15)
        _line(ink, name, (centre, centre + 46), 18)
    else:
        draw.rectangle((30, 30, SIZE - 30, SIZE - 30), outline=255, width=8)
        chars = (holder + "印") if len(holder) <= 3 else holder[:4]
        _square_grid(ink, chars)
    return ink


def _square_grid(ink: Image.Image, chars: str) -> None:
    # Read right to left, top to bottom, as name seals are: two columns of two.
    left, right, top, bottom = SIZE * 0.31, SIZE * 0.69, SIZE * 0.31, SIZE * 0.69
    cells = [(right, top), (right, bottom), (left, top), (left, bottom)]
    if len(chars) == 3:  # 张伟印: the surname takes the right column
        cells = [(right, SIZE / 2), (left, top), (left, bottom)]
    for char, xy in zip(chars, cells, strict=False):
        _line(ink, char, xy, 84)


# Ink (0–255) to its palette level, and the palette from paper to full red ink.
_LEVEL_OF_INK = [round(v * (_INK_LEVELS - 1) / 255) for v in range(256)]
_PALETTE = [
    round(255 + (c - 255) * level / (_INK_LEVELS - 1)) for level in range(_INK_LEVELS) for c in _RED
]


def _palette_image(ink: Image.Image) -> Image.Image:
    image = ink.point(_LEVEL_OF_INK).convert("P")
    image.putpalette(_PALETTE)
    return image


def _verification(filing_no: str, uscc: str, seal_type: str, pixels: bytes) -> str:
    message = "\n".join((filing_no, uscc, seal_type, hashlib.sha256(pixels).hexdigest()))
    return hmac.new(_REGISTER_KEY, message.encode(), hashlib.sha256).hexdigest()[:32]


def impression_png(
    seal_type: str, *, enterprise_name: str, holder: str, uscc: str, filing_no: str
) -> bytes:
    """The filed impression as a palette PNG with its filing and verification code."""
    image = _palette_image(
        draw_impression(seal_type, enterprise_name=enterprise_name, holder=holder, uscc=uscc)
    )
    info = PngImagePlugin.PngInfo()
    info.add_text("filing_no", filing_no)
    info.add_text("uscc", uscc)
    info.add_text("seal_type", seal_type)
    info.add_text("verification", _verification(filing_no, uscc, seal_type, image.tobytes()))
    out = io.BytesIO()
    # Two bits per pixel, run-length coded: an impression is long runs of paper and ink, what
    # Z_RLE is for, so it comes out about as small as zlib's default makes it, in a fraction
    # of the time (docs/benchmarks.md).
    image.save(
        out,
        format="PNG",
        bits=2,
        compress_level=1,
        compress_type=zlib.Z_RLE,
        transparency=0,
        pnginfo=info,
    )
    return out.getvalue()


def impression_base64(
    seal_type: str, *, enterprise_name: str, holder: str, uscc: str, filing_no: str
) -> str:
    """`impression_png` as base64 text, as it travels in a reply."""
    png = impression_png(
        seal_type, enterprise_name=enterprise_name, holder=holder, uscc=uscc, filing_no=filing_no
    )
    return base64.b64encode(png).decode("ascii")


def specimen_problem(image: str, *, uscc: str, seal_type: str, filing_no: str) -> str | None:
    """Why the base64 PNG `image` is not the filed impression of that seal, or None if it is."""
    seal = f"{SEAL_NAMES.get(seal_type, seal_type)}（备案号{filing_no}）"
    try:
        png = base64.b64decode(image, validate=True)
    except (binascii.Error, ValueError):
        return f"{seal}的印鉴图像不是有效的 base64 数据"
    if len(png) > MAX_PNG_BYTES:
        return f"{seal}的印鉴图像过大（{len(png)} 字节）"
    try:
        with Image.open(io.BytesIO(png)) as opened:
            if opened.format != "PNG" or opened.size != (SIZE, SIZE) or opened.mode != "P":
                return f"{seal}的印鉴图像不是 {SIZE}×{SIZE} 的调色板 PNG"
            opened.load()
            text = dict(getattr(opened, "text", {}))
            pixels = opened.tobytes()
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        return f"{seal}的印鉴图像无法解码"
    filed = (text.get("filing_no"), text.get("uscc"), text.get("seal_type"))
    if filed != (filing_no, uscc, seal_type):
        return f"{seal}的印鉴与公安备案信息不符"
    expected = _verification(filing_no, uscc, seal_type, pixels)
    if not hmac.compare_digest(str(text.get("verification", "")), expected):
        return f"{seal}的印鉴图像与备案印模不一致"
    return None
