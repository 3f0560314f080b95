"""Uploaded materials: what the bytes are (sniffed, never taken from the name or the
browser's word), how large they may be, and the storage that keeps them.

The storage is an interface (`UploadStore`); its first implementation keeps the bytes in
the database (`DatabaseStore`), beside the upload's row.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any, Protocol

from sqlalchemy.orm import Session

from orchestrator.errors import Invalid
from orchestrator.filings.drafts import Upload

MAX_UPLOAD_BYTES = 5 * 1024 * 1024

PDF, JPEG, PNG = "application/pdf", "image/jpeg", "image/png"
# What a file's name may say it is, and so what its bytes must be.
EXTENSIONS = {".pdf": PDF, ".jpg": JPEG, ".jpeg": JPEG, ".png": PNG}
_SIGNATURES = ((b"%PDF-", PDF), (b"\xff\xd8\xff", JPEG), (b"\x89PNG\r\n\x1a\n", PNG))


def sniff(content: bytes) -> str | None:
    """The media type the bytes themselves show (PDF, JPEG, PNG), or None."""
    return next((kind for magic, kind in _SIGNATURES if content.startswith(magic)), None)


def _refused(code: str, zh: str, en: str) -> Invalid:
    return Invalid(zh, en, errors=[{"field": "file", "code": code, "message_zh": zh,
                                    "message_en": en}])  # fmt: skip


def checked_media_type(filename: str, content: bytes, *, limit: int = MAX_UPLOAD_BYTES) -> str:
    """The upload's media type if its bytes are what its name says and within `limit`."""
    if len(content) > limit:
        mib = limit // (1024 * 1024)
        raise _refused("too_large", f"文件超过 {mib} MB", f"the file is larger than {mib} MB")
    if not content:
        raise _refused("empty", "文件是空的", "the file is empty")
    named = EXTENSIONS.get(PurePosixPath(filename).suffix.lower())
    if named is None:
        raise _refused("unsupported_type", "只接受 PDF、JPEG、PNG 文件",
                       "only PDF, JPEG and PNG files are accepted")  # fmt: skip
    if sniff(content) != named:
        raise _refused("content_mismatch", "文件内容与文件名所示类型不符",
                       "the file's content is not what its name says")  # fmt: skip
    return named


class Stored(Protocol):
    """A row whose bytes a store keeps: an intake upload, or a supplement sent from the
    tracking page (`orchestrator.filings.supplements`)."""

    content: bytes | None


class UploadStore(Protocol):
    """Where uploaded bytes are kept."""

    name: str

    def put(self, upload: Stored, content: bytes) -> None:
        """Keep `content` as the bytes of `upload` (its row not yet flushed)."""

    def get(self, upload: Stored) -> bytes:
        """The bytes of `upload`."""


class DatabaseStore:
    """Bytes in the upload's own row: one transaction keeps the row and its bytes."""

    name = "database"

    def put(self, upload: Stored, content: bytes) -> None:
        """Keep the bytes in the row."""
        upload.content = content

    def get(self, upload: Stored) -> bytes:
        """The bytes from the row."""
        assert upload.content is not None, "a database upload keeps its bytes"
        return upload.content


def file_columns(
    store: UploadStore, *, filename: str, media_type: str, content: bytes
) -> dict[str, Any]:
    """What a stored row says of its file: its name (the last segment of the path a browser
    sent, at most 200 characters), media type, size, SHA-256, and the store that keeps it."""
    return {
        "filename": PurePosixPath(filename.replace("\\", "/")).name[-200:],
        "media_type": media_type,
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        "storage": store.name,
    }


def store_upload(
    session: Session,
    store: UploadStore,
    *,
    draft_id: int,
    material: str,
    filename: str,
    content: bytes,
    staff_id: int,
    now: datetime,
) -> Upload:
    """Check and keep an upload of `material` for the draft."""
    media_type = checked_media_type(filename, content)
    upload = Upload(
        draft_id=draft_id,
        material=material,
        **file_columns(store, filename=filename, media_type=media_type, content=content),
        uploaded_by=staff_id,
        created_at=now,
    )
    store.put(upload, content)
    session.add(upload)
    session.flush()
    return upload
