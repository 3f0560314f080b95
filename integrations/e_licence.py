"""The e-business licence (电子营业执照): a signed PDF that anyone can verify.

The registration authority renders the licence as a PDF and signs it; OneStop (or anyone
holding the authority's public key) verifies it. This module is the format both sides
share, as they share a WSDL: how the licence data and the signature travel in the PDF,
and how a verifier judges a file.

Signing design (a simplified PAdES): the signature covers *every byte of the file* except
the signature's own value.

1. The authority renders the visible licence (title, fields, QR code) with reportlab.
2. It attaches the licence data as canonical JSON (`licence.json`, an ordinary PDF file
   attachment any viewer shows; `signed_envelope`) together with the algorithm, key id
   and public key, and reserves one fixed-width signature field
   `/OneStopSignature (<spaces>)` (`BLANK_SIGNATURE`) in the attachment's file
   specification — a verifier finds the one field wherever it is.
3. It signs the whole file with the field still blank and writes the hex signature into
   the reserved space (`fill_signature`). The file length does not change, so
   cross-reference offsets stay valid and the file remains an ordinary PDF.

A verifier blanks the field again and checks the signature over the whole file. Hence a
changed byte anywhere — in the shown text, in the QR code, in the attached data, in the
signature, or a truncated file — makes the signature fail ("tampered"), and what verify
reports is exactly what the authority signed. Signing the rendered file rather than the
data alone is what makes edits to the *shown* data detectable: a data-only signature
would still verify on a PDF whose visible text had been redrawn.

Anyone may upload a file to be judged, so a verifier reads nothing of it as a PDF before
it knows who signed it (`verify_pdf`): the signature is checked over the raw bytes, first
against each key the verifier trusts — comparing whole public keys, never a short key
id — and only a file that a trusted key signed is parsed, with pypdf's decompression
limits lowered to what a licence needs. A file no trusted key signed is never inflated.

`licence.json` is stored unfiltered (no /Filter: its bytes in the file are the JSON), so
the key it names can be read from the raw bytes too. That is what tells an intact file
signed by some other key ("untrusted": the signature is sound, but the key is not a
registration authority the verifier trusts) from a file altered after signing
("tampered") without inflating anything. Which keys are trusted is the verifier's
choice, never the document's; the data of an untrusted file is not shown, since a key
nobody vouches for can sign anything.
"""

from __future__ import annotations

import base64
import binascii
import enum
import io
import json
import re
from collections.abc import Iterable
from datetime import date
from itertools import islice, product
from typing import Any, Literal

import pypdf
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pypdf import PdfReader

from integrations.signing import (
    Signer,
    UnknownKey,
    Verifier,
    key_id,
    public_key_text,
    verifier_for,
)

FORMAT: Literal["onestop-e-licence/1"] = "onestop-e-licence/1"
MEDIA_TYPE = "application/pdf"
ATTACHMENT = "licence.json"
SIGNATURE_FIELD = "/OneStopSignature"
SIGNATURE_CHARS = 512  # room for signatures up to 256 bytes (Ed25519: 64, SM2 DER: ~72)
_MARKER = SIGNATURE_FIELD.encode() + b" ("
_SIGNATURE_VALUE = re.compile(rb"[0-9a-f]*[ ]*")
_BLANK = b" " * SIGNATURE_CHARS
# A licence's verification token (what its QR code carries to the public check, in place of
# the countable licence number): URL-safe base64 of random bytes.
VERIFICATION_TOKEN_PATTERN = r"^[A-Za-z0-9_-]{16,128}$"

# The most a verifier inflates of any one stream, and only in a file a trusted key signed.
# The one stream it reads is licence.json: a licence's dozen fields as JSON, a few kilobytes
# even with a long business scope, and stored unfiltered, so its inflated size is its size
# in the file. A mebibyte is hundreds of times what any licence needs, yet a stream that
# claims more costs the verifier no more than that (pypdf's own defaults allow far more).
MAX_INFLATED_BYTES = 1024 * 1024

# pypdf's limits while it reads a licence, set per call through pypdf's context variable
# (`pypdf.apply_configuration`), so that other threads and other PDFs keep pypdf's defaults.
# Built at import, so that a renamed limit fails loudly here rather than in every verdict.
_READING_LIMITS = pypdf.Configuration().with_overwrites(
    zlib_maximum_output_length=MAX_INFLATED_BYTES,
    lzw_maximum_output_length=MAX_INFLATED_BYTES,
    run_length_maximum_output_length=MAX_INFLATED_BYTES,
    brotli_maximum_output_length=MAX_INFLATED_BYTES,
    jbig2_maximum_output_length=MAX_INFLATED_BYTES,
    array_based_stream_maximum_output_length=MAX_INFLATED_BYTES,
    image_maximum_buffer_size=MAX_INFLATED_BYTES,
    stream_decoding_work_maximum_length=MAX_INFLATED_BYTES,
    # A licence's streams are written whole: a broken one is damage, not worth pypdf's
    # byte-by-byte recovery (by default a Python loop over megabytes of input).
    zlib_maximum_recovery_input_length=0,
)

# Where licence.json (unfiltered, canonical JSON: sorted keys, so the algorithm comes first
# and the public key last) names its signing key, read from the raw bytes. Anyone can write
# such text anywhere in a file; that is harmless, since a named key counts only if it made
# the signature over the whole file. A few candidates of each bound the work.
_NAMED_ALGORITHM = re.compile(rb'\{"algorithm":"([A-Za-z0-9_.-]{1,32})"')
_NAMED_PUBLIC_KEY = re.compile(rb'"public_key":"([A-Za-z0-9+/]{1,1024}={0,2})"\}')
_NAMED_CANDIDATES = 2


class LicenceData(BaseModel):
    """What the licence shows, in the authority's words; the signed content."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    licence_no: str = Field(min_length=1, max_length=40, description="执照编号")
    credit_code: str = Field(min_length=18, max_length=18, description="统一社会信用代码")
    name: str = Field(min_length=1, max_length=100, description="名称")
    enterprise_type: str = Field(min_length=1, max_length=50, description="类型")
    legal_representative: str = Field(min_length=1, max_length=50, description="法定代表人")
    registered_capital_yuan: str = Field(description="注册资本 in yuan, e.g. 1000000.00")
    established_on: date = Field(description="成立日期")
    domicile: str = Field(min_length=1, max_length=200, description="住所")
    business_scope: str = Field(min_length=1, description="经营范围")
    authority: str = Field(min_length=1, max_length=100, description="登记机关")
    issued_on: date = Field(description="登记机关落款日期")
    verify_url: str = Field(description="Where the QR code leads: this licence's public check")


class SignedLicence(BaseModel):
    """The attachment `licence.json`: the data and who signed it (covered by the signature)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["onestop-e-licence/1"] = FORMAT
    algorithm: str
    key_id: str
    public_key: str  # base64 of the raw public key
    licence: LicenceData


class Status(enum.StrEnum):
    """A verifier's judgement of a file."""

    GENUINE = "genuine"  # intact and signed by a trusted key
    UNTRUSTED = "untrusted"  # intact, but signed by a key we do not trust
    TAMPERED = "tampered"  # altered, damaged or truncated after signing
    NOT_A_LICENCE = "not_a_licence"  # a PDF without a licence signature
    NOT_A_PDF = "not_a_pdf"


_REASONS: dict[Status, tuple[str, str]] = {
    Status.GENUINE: (
        "电子营业执照真实有效：由可信的登记机关签发，内容未被改动",
        "genuine: signed by a trusted registration authority and unaltered",
    ),
    Status.UNTRUSTED: (
        "签名完整，但签发密钥不在信任列表中，不能确认由登记机关签发",
        "intact, but signed by a key that is not trusted: not shown to come from a "
        "registration authority",
    ),
    Status.TAMPERED: (
        "文件已被改动或损坏：签名与文件内容不符",
        "altered or damaged: the signature does not match the file",
    ),
    Status.NOT_A_LICENCE: (
        "这是 PDF 文件，但不是电子营业执照（没有执照签名）",
        "a PDF, but not an e-business licence (it carries no licence signature)",
    ),
    Status.NOT_A_PDF: ("这不是 PDF 文件", "not a PDF file"),
}


class Verdict(BaseModel):
    """What a verifier says of a file; `licence` is the signed data when the file is genuine."""

    model_config = ConfigDict(frozen=True)

    status: Status
    valid: bool = Field(description="The file is intact and carries a sound signature.")
    trusted: bool = Field(description="The signing key is one this verifier trusts.")
    reason_zh: str
    reason_en: str
    detail: str = Field(default="", description="Which check failed, for the technically minded.")
    key_id: str | None = Field(default=None, description="The signing key's short name.")
    algorithm: str | None = None
    public_key: str | None = Field(
        default=None, description='The whole signing key, "<algorithm>:<base64>", when intact.'
    )
    licence: LicenceData | None = Field(
        default=None, description="What the authority signed; only for a genuine licence."
    )

    @property
    def genuine(self) -> bool:
        """Intact and trusted: the only verdict that makes a licence authentic."""
        return self.status is Status.GENUINE


def _verdict(status: Status, detail: str = "", **found: Any) -> Verdict:
    zh, en = _REASONS[status]
    intact = status in (Status.GENUINE, Status.UNTRUSTED)
    return Verdict(
        status=status,
        valid=intact,
        trusted=status is Status.GENUINE,
        reason_zh=zh,
        reason_en=en,
        detail=detail,
        **found,
    )


def canonical_json(model: BaseModel) -> bytes:
    """The model as canonical JSON: sorted keys, no spaces, UTF-8."""
    data = model.model_dump(mode="json")
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signed_envelope(licence: LicenceData, signer: Signer) -> bytes:
    """The attachment `licence.json`: the data and who signs it, as canonical JSON."""
    envelope = SignedLicence(
        algorithm=signer.algorithm,
        key_id=key_id(signer.algorithm, signer.public_key),
        public_key=base64.b64encode(signer.public_key).decode(),
        licence=licence,
    )
    return canonical_json(envelope)


BLANK_SIGNATURE = _BLANK.decode()  # the field's value before signing


def fill_signature(unsigned: bytes, signer: Signer) -> bytes:
    """Sign the whole file, its signature field still blank, and write the signature into it."""
    start = unsigned.index(_MARKER + _BLANK + b")") + len(_MARKER)
    signature = signer.sign(unsigned).hex().encode().ljust(SIGNATURE_CHARS)
    if len(signature) != SIGNATURE_CHARS:
        raise ValueError(f"a {signer.algorithm} signature does not fit the reserved field")
    return unsigned[:start] + signature + unsigned[start + SIGNATURE_CHARS :]


def verify_pdf(pdf: bytes, trusted: Iterable[Verifier]) -> Verdict:
    """Judge a file: genuine, untrusted, tampered, not a licence, or not a PDF. Never raises.

    The signature is checked over the raw bytes before anything is parsed or inflated:
    first against each trusted key, then against the key the file names. Only a file that
    a trusted key signed is read as a PDF, under `MAX_INFLATED_BYTES`.
    """
    if not pdf.startswith(b"%PDF-"):
        return _verdict(Status.NOT_A_PDF)
    located = _split_signature(pdf)
    if isinstance(located, Verdict):
        return located
    message, signature = located
    signer = next((key for key in trusted if key.verify(message, signature)), None)
    if signer is None:
        named, problem = _named_signer(pdf, message, signature)
        if named is None:
            return _verdict(Status.TAMPERED, problem)
        return _verdict(Status.UNTRUSTED, **_key_of(named))
    found = _key_of(signer)
    envelope, problem = _signed_licence(pdf)
    if envelope is None:
        return _verdict(Status.TAMPERED, problem, **found)
    if not _names(envelope, signer):
        return _verdict(
            Status.TAMPERED, "the attached data names another key than the one that signed", **found
        )
    return _verdict(Status.GENUINE, **found, licence=envelope.licence)


def _split_signature(pdf: bytes) -> tuple[bytes, bytes] | Verdict:
    """What was signed (the file, its signature field blank) and the signature; or why not."""
    count = pdf.count(_MARKER)
    if count == 0:
        if not pdf.rstrip().endswith(b"%%EOF"):
            return _verdict(Status.TAMPERED, "the file is truncated (no %EOF at its end)")
        return _verdict(Status.NOT_A_LICENCE, "no signature field")
    if count > 1:
        return _verdict(Status.TAMPERED, "more than one signature field")
    start = pdf.index(_MARKER) + len(_MARKER)
    end = start + SIGNATURE_CHARS
    value = pdf[start:end]
    if pdf[end : end + 1] != b")" or not _SIGNATURE_VALUE.fullmatch(value):
        return _verdict(Status.TAMPERED, "the signature field is damaged")
    try:
        signature = bytes.fromhex(value.decode().rstrip())
    except ValueError:
        return _verdict(Status.TAMPERED, "the signature field does not hold a signature")
    return pdf[:start] + _BLANK + pdf[end:], signature


def _named_signer(pdf: bytes, message: bytes, signature: bytes) -> tuple[Verifier | None, str]:
    """The key the file names, if it made `signature`; else None and why not.

    Read from the raw bytes: nothing is parsed or inflated.
    """
    algorithms = [m[1] for m in islice(_NAMED_ALGORITHM.finditer(pdf), _NAMED_CANDIDATES)]
    keys = [m[1] for m in islice(_NAMED_PUBLIC_KEY.finditer(pdf), _NAMED_CANDIDATES)]
    checked, unusable = False, ""
    for algorithm, key in product(algorithms, keys):
        try:
            named = verifier_for(algorithm.decode(), base64.b64decode(key, validate=True))
        except (binascii.Error, UnknownKey) as exc:
            unusable = str(exc)
            continue
        if named.verify(message, signature):
            return named, ""
        checked = True
    if checked:
        return None, "signature check failed: neither a trusted key nor the key named made it"
    if unusable:
        return None, f"no trusted key made the signature; the key named is unusable: {unusable}"
    return None, "signature check failed: no trusted key made it, and the file names no key"


def _key_of(key: Verifier) -> dict[str, Any]:
    """How a verdict names the key that signed: its algorithm, short id and whole key."""
    return {
        "algorithm": key.algorithm,
        "key_id": key_id(key.algorithm, key.public_key),
        "public_key": public_key_text(key),
    }


def _names(envelope: SignedLicence, key: Verifier) -> bool:
    """Whether the attached data names exactly `key`: algorithm, whole public key and id."""
    try:
        public_key = base64.b64decode(envelope.public_key, validate=True)
    except binascii.Error:
        return False
    named = (envelope.algorithm, public_key, envelope.key_id)
    return named == (key.algorithm, key.public_key, key_id(key.algorithm, key.public_key))


def _signed_licence(pdf: bytes) -> tuple[SignedLicence | None, str]:
    """The attached licence.json, read with pypdf under the licence's limits; or why not."""
    with pypdf.apply_configuration(_READING_LIMITS):
        try:
            contents = PdfReader(io.BytesIO(pdf)).attachments.get(ATTACHMENT)
        except Exception as exc:  # pypdf raises many kinds on damaged files; any means "damaged"
            return None, f"the PDF cannot be read: {type(exc).__name__}"
    if not contents or len(contents) != 1:
        return None, f"no single {ATTACHMENT} attachment"
    try:
        return SignedLicence.model_validate_json(contents[0]), ""
    except ValidationError as exc:
        return None, f"{ATTACHMENT} is not licence data ({exc.error_count()} problems)"
