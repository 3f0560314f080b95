"""The simulated banks: basic deposit accounts (基本存款账户) for new companies.

One simulator serves every partner bank; each bank numbers accounts in its own format
(`data/banks.yaml`: prefix, length, Luhn digit or not) from its own sequence. A person on
the banks' watch list, as shareholder or legal representative, is refused. The reserved seal
specimens (预留印鉴) must be the filed impressions (`integrations.simulators.specimens`) of the
company's finance and legal-representative seals, or of its official seal. It speaks SOAP
(`integrations/wsdl/bank_account.wsdl`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from pydantic import Field

from integrations.codes import luhn_check_digit
from integrations.simulators.checks import (
    PersonIn,
    Sequence,
    WireModel,
    credit_code_problem,
    first_bad_person,
    load_yaml,
)
from integrations.simulators.engine import AgencyRules, Completed, Decision, Refused, parse
from integrations.simulators.specimens import specimen_problem

# The seals whose impressions a bank reserves, by public-security type code: the finance seal
# with the legal representative's, or else the official seal.
RESERVED_SETS: tuple[frozenset[str], ...] = (frozenset({"02", "04"}), frozenset({"01"}))


class ShareholderIn(PersonIn):
    share_ratio: float = Field(gt=0, le=100)


class SealSpecimenIn(WireModel):
    """One reserved specimen: which filed seal, and its impression (base64 PNG)."""

    seal_type: Literal["01", "02", "03", "04"]
    filing_no: str = Field(min_length=1, max_length=100)
    image: str = Field(min_length=1)


class AccountApplicationIn(WireModel):
    """What a bank accepts: a basic-account opening application with seal specimens."""

    uscc: str = Field(min_length=1, max_length=32)
    account_name: str = Field(min_length=1, max_length=100)
    bank: str = Field(min_length=1, max_length=16)
    branch: str = Field(min_length=1, max_length=32)
    account_type: Literal["basic"]
    legal_representative: PersonIn
    shareholder: list[ShareholderIn] = Field(min_length=1)
    seal_specimen: list[SealSpecimenIn] = Field(default_factory=list)


@dataclass(frozen=True)
class BankFormat:
    """How one bank numbers its accounts."""

    code: str
    name: str
    prefix: str
    length: int
    luhn: bool

    def number(self, n: int) -> str:
        """The account number for sequence number `n`."""
        width = self.length - len(self.prefix) - (1 if self.luhn else 0)
        digits = self.prefix + f"{n:0{width}d}"
        return digits + luhn_check_digit(digits) if self.luhn else digits


@lru_cache(maxsize=1)
def bank_data() -> tuple[dict[str, BankFormat], dict[str, str]]:
    """Bank formats by code, and the watch list (resident ID -> reason)."""
    data: dict[str, Any] = load_yaml("banks.yaml")
    banks = {
        code: BankFormat(
            code=code, name=b["name"], prefix=str(b["prefix"]), length=b["length"], luhn=b["luhn"]
        )
        for code, b in data["banks"].items()
    }
    blacklist = {str(e["id_number"]): e["reason"] for e in data["blacklist"]}
    return banks, blacklist


def specimens_problem(app: AccountApplicationIn) -> tuple[str, str] | None:
    """(code, message) if the reserved specimens are missing, incomplete or not as filed."""
    by_type: dict[str, SealSpecimenIn] = {s.seal_type: s for s in app.seal_specimen}
    if len(by_type) != len(app.seal_specimen):
        return "duplicate_seal_specimen", "同一种印章只能预留一枚印鉴"
    reserved = next((kinds for kinds in RESERVED_SETS if kinds <= by_type.keys()), None)
    if reserved is None:
        return (
            "seal_specimens_missing",
            "开立基本存款账户须预留印鉴：财务专用章和法定代表人名章，或公章",
        )
    for seal_type in sorted(reserved):
        specimen = by_type[seal_type]
        if problem := specimen_problem(
            specimen.image, uscc=app.uscc, seal_type=seal_type, filing_no=specimen.filing_no
        ):
            return "seal_specimen_invalid", problem
    return None


class BankAccountRules(AgencyRules):
    """Opens basic accounts, one numbering sequence per bank."""

    name = "bank_account"

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self._banks, self._blacklist = bank_data()
        self._sequences = {
            code: Sequence(rng, start_below=10 ** (f.length - len(f.prefix) - int(f.luhn) - 1))
            for code, f in self._banks.items()
        }

    def decide(self, payload: object) -> Decision:
        """Check the company, the people and the specimens; open the account."""
        app = parse(AccountApplicationIn, payload)
        if problem := credit_code_problem(app.uscc):
            return Refused("invalid_credit_code", problem)
        bank = self._banks.get(app.bank)
        if bank is None:
            return Refused(
                "unknown_bank", f"未知银行代码{app.bank}（可选：{'、'.join(self._banks)}）"
            )
        if missing := specimens_problem(app):
            return Refused(*missing)
        rep = app.legal_representative
        people = [("法定代表人", rep.name, rep.cert_no)]
        people += [("股东", s.name, s.cert_no) for s in app.shareholder]
        if bad := first_bad_person(people):
            return Refused("invalid_id_number", bad)
        for role, person_name, id_number in people:
            if reason := self._blacklist.get(id_number):
                return Refused(
                    "blacklisted_person", f"{role}{person_name}在银行风险名单上（{reason}）"
                )
        account_no = bank.number(self._sequences[bank.code].take())
        return Completed(
            result={
                "account_no": account_no,
                "bank": bank.code,
                "bank_name": bank.name,
                "branch": app.branch,
                "account_type": "basic",
            },
            subject=app.uscc,
        )
