"""PDFs a stranger might upload to the public licence check: decompression bombs.

A bomb is a licence-shaped PDF (catalog → embedded `licence.json` → its file specification
with the signature field) whose attachment is a FlateDecode stream of a few dozen KiB that
inflates to tens of MB: what pypdf's default limit (75 MB) would inflate in full.
"""

from __future__ import annotations

import base64
import json
import zlib

from integrations.e_licence import ATTACHMENT, BLANK_SIGNATURE, SIGNATURE_FIELD, fill_signature
from integrations.signing import Signer

BOMB_INFLATED_BYTES = 70 * 1024 * 1024  # under pypdf's default limit (75 MB): it would inflate all
_CHUNK = 1024 * 1024


def deflated_zeros(size: int) -> bytes:
    """`size` zero bytes, deflated, without ever holding them all in memory."""
    compressor = zlib.compressobj(level=9)
    zeros = bytes(_CHUNK)
    parts = [compressor.compress(zeros) for _ in range(size // _CHUNK)]
    parts.append(compressor.compress(bytes(size % _CHUNK)))
    parts.append(compressor.flush())
    return b"".join(parts)


def inflated_size(deflated: bytes) -> int:
    """How many bytes `deflated` inflates to, counted a chunk at a time."""
    inflater, total, pending = zlib.decompressobj(), 0, deflated
    while pending:
        total += len(inflater.decompress(pending, _CHUNK))
        pending = inflater.unconsumed_tail
    return total + len(inflater.flush())


def bomb_pdf(
    *, inflated: int = BOMB_INFLATED_BYTES, signer: Signer | None = None, named: bool = False
) -> bytes:
    """A licence-shaped PDF whose attachment inflates to `inflated` bytes.

    Signed by `signer` if given (else its signature field holds a signature of nobody's);
    `named`: the file names the signer's key the way a licence does, in unfiltered JSON.
    """
    stream = deflated_zeros(inflated)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names [("
        + ATTACHMENT.encode()
        + b") 4 0 R] >> >> >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 842 595] >>",
        b"<< /Type /Filespec /F ("
        + ATTACHMENT.encode()
        + b") /EF << /F 5 0 R >> "
        + SIGNATURE_FIELD.encode()
        + b" ("
        + BLANK_SIGNATURE.encode()
        + b") >>",
        b"<< /Type /EmbeddedFile /Filter /FlateDecode /Length %d >>\nstream\n" % len(stream)
        + stream
        + b"\nendstream",
    ]
    if signer is not None and named:
        envelope = {
            "algorithm": signer.algorithm,
            "public_key": base64.b64encode(signer.public_key).decode(),
        }
        data = json.dumps(envelope, sort_keys=True, separators=(",", ":")).encode()
        objects.append(b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream")
    pdf = _assemble(objects)
    if signer is not None:
        return fill_signature(pdf, signer)
    nobodys = (b"ab" * 64).ljust(len(BLANK_SIGNATURE))
    return pdf.replace(BLANK_SIGNATURE.encode(), nobodys)


def _assemble(objects: list[bytes]) -> bytes:
    """A PDF of `objects` (numbered from 1, the first the catalog) with a valid xref."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)
