"""Documents the agencies issue for a filing (the e-business licence), stored apart.

A step's result is read on every claim of the steps after it, so it must stay small: an
adapter hands documents over whole (`integrations.base.AgencyDocument` values in its
result): `set_aside` puts a reference in their place and `store` keeps them in the
`document` table.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Connection, Table, insert, select
from sqlalchemy.orm import Session

from integrations.base import AgencyDocument
from orchestrator.filings.models import Document

LICENCE = "licence"


def set_aside(result: Mapping[str, Any]) -> tuple[dict[str, Any], list[AgencyDocument]]:
    """Split the documents off `result`: the result with references in their place, and them.

    A reference says which document it was and how to tell it is the same one:
    `{"document": kind, "reference": ..., "media_type": ..., "sha256": ..., "size": bytes}`;
    a document's verification token stays out of the result (it goes to `document` only).
    """
    kept: dict[str, Any] = {}
    issued: list[AgencyDocument] = []
    for name, value in result.items():
        if not isinstance(value, AgencyDocument):
            kept[name] = value
            continue
        issued.append(value)
        kept[name] = {
            "document": value.kind,
            "reference": value.reference,
            "media_type": value.media_type,
            "sha256": value.sha256,
            "size": len(value.content),
        }
    return kept, issued


def store(
    conn: Connection,
    filing_id: int,
    step: str,
    issued: Sequence[AgencyDocument],
    *,
    now: datetime,
) -> None:
    """Keep the documents a step's agency issued (in the transaction that records the step)."""
    if issued:
        conn.execute(
            insert(cast(Table, Document.__table__)),
            [
                {
                    "filing_id": filing_id,
                    "step": step,
                    "kind": doc.kind,
                    "reference": doc.reference,
                    "media_type": doc.media_type,
                    "content": doc.content,
                    "sha256": doc.sha256,
                    "verification_token_sha256": token_digest(doc.verification_token)
                    if doc.verification_token
                    else None,
                    "created_at": now,
                }
                for doc in issued
            ],
        )


def latest_of_filing(session: Session, filing_id: int, kind: str) -> Document | None:
    """The filing's newest document of `kind`, if an agency issued one."""
    return _latest(session, kind, Document.filing_id == filing_id)


def latest_by_reference(session: Session, kind: str, reference: str) -> Document | None:
    """The newest document of `kind` under the agency's number `reference` (e.g. a licence no.)."""
    return _latest(session, kind, Document.reference == reference)


def by_verification_token(session: Session, kind: str, token: str) -> Document | None:
    """The document of `kind` whose holder's verification token is `token`, if any."""
    return _latest(session, kind, Document.verification_token_sha256 == token_digest(token))


def token_digest(token: str) -> str:
    """How a verification token is stored: hex SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(token.encode()).hexdigest()


def _latest(session: Session, kind: str, condition: ColumnElement[bool]) -> Document | None:
    query = select(Document).where(Document.kind == kind, condition)
    return session.scalars(query.order_by(Document.id.desc()).limit(1)).first()
