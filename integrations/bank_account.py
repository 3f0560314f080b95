"""The partner bank: basic deposit account (基本存款账户) with the reserved seal specimens.

Result: `account_number` and `bank_code`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.adapter import AgencyReply, MappedAdapter, person_payload
from integrations.requests import BankAccountRequest


class _Opened(AgencyReply):
    account_no: str
    bank: str


class BankAccountAdapter(MappedAdapter[BankAccountRequest]):
    """Applies for the basic account and reads back its number."""

    agency = "bank_account"

    def to_agency(self, request: BankAccountRequest) -> dict[str, Any]:
        """The account application in the bank's fields."""
        return {
            "uscc": request.credit_code,
            "account_name": request.company_name,
            "bank": request.bank_code,
            "branch": request.branch_code,
            "account_type": "basic",
            "legal_representative": person_payload(request.legal_representative),
            "shareholders": [
                {**person_payload(s), "share_ratio": s.share_percent} for s in request.shareholders
            ],
            "seal_specimens": list(request.seal_codes),
        }

    def from_agency(self, payload: Mapping[str, Any]) -> dict[str, object]:
        """`account_number` and `bank_code`."""
        reply = _Opened.model_validate(payload)
        return {"account_number": reply.account_no, "bank_code": reply.bank}
