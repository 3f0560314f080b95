"""The partner bank's identity pre-check at the desk (开户预审), over REST.

Since 2019 a basic account needs no approval by the central bank: the bank can check the
client's people (legal representative, shareholders) while registration runs, and open the
account later against the pre-check. Result: `precheck_no` and `bank_code`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from integrations.adapter import AgencyReply, MappedAdapter, person_payload, shareholder_payload
from integrations.requests import BankAccountRequest, BankPrecheckRequest

# The bank's names of the client's fields, in ours: the pre-check sends the client, and the
# account application (`integrations.bank_account`) sends it again.
CLIENT_FIELD_NAMES = {
    "account_name": "company_name",
    "bank": "bank_code",
    "branch": "branch_code",
    "legal_representative": "legal_representative",
    "shareholder": "shareholders",
    "share_ratio": "share_percent",
}


def client_payload(request: BankPrecheckRequest | BankAccountRequest) -> dict[str, Any]:
    """The company at the bank's desk and its people, in the bank's fields."""
    return {
        "account_name": request.company_name,
        "bank": request.bank_code,
        "branch": request.branch_code,
        "legal_representative": person_payload(request.legal_representative),
        "shareholder": [shareholder_payload(s) for s in request.shareholders],
    }


class _Checked(AgencyReply):
    precheck_no: str
    bank: str


class BankPrecheckAdapter(MappedAdapter[BankPrecheckRequest]):
    """Asks the bank to check the people of a company about to be registered."""

    agency = "bank_precheck"
    field_names: ClassVar[Mapping[str, str]] = CLIENT_FIELD_NAMES

    def to_agency(self, request: BankPrecheckRequest) -> dict[str, Any]:
        """The pre-check in the bank's fields."""
        return client_payload(request)

    def from_agency(self, payload: Mapping[str, Any]) -> dict[str, object]:
        """`precheck_no` and `bank_code`."""
        reply = _Checked.model_validate(payload)
        return {"precheck_no": reply.precheck_no, "bank_code": reply.bank}
