"""The simulated banks: basic deposit accounts (基本存款账户) for new companies.

One simulator serves every partner bank; each bank numbers accounts in its own format
(`data/banks.yaml`: prefix, length, Luhn digit or not) from its own sequence. A person on
the banks' watch list, as shareholder or legal representative, is refused. The reserved seal
specimens (预留印鉴) must be the filed impressions (`integrations.simulators.specimens`) of the
company's finance and legal-representative seals, or of its official seal. It speaks SOAP
(`integrations/wsdl/bank_account.wsdl`).

Where a district runs the bank's identity pre-check at the desk while registration runs
(开户预审, `BankPrecheckRules`, over REST), the application names the passed pre-check and the
people are not checked again; a pre-check the bank does not know for that legal
representative is refused.
"""

from __future__ import annotations

import random
import threading
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
    precheck_no: str | None = Field(default=None, min_length=1, max_length=100)


class PrecheckIn(WireModel):
    """What a bank's desk pre-checks: the people of a company about to be registered."""

    account_name: str = Field(min_length=1, max_length=100)
    bank: str = Field(min_length=1, max_length=16)
    branch: str = Field(min_length=1, max_length=32)
    legal_representative: PersonIn
    shareholder: list[ShareholderIn] = Field(min_length=1)


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


def specimens_problem(app: AccountApplicationIn) -> Refused | None:
    """The refusal if the reserved specimens are missing, incomplete or not as filed."""
    by_type: dict[str, int] = {s.seal_type: n for n, s in enumerate(app.seal_specimen)}
    if len(by_type) != len(app.seal_specimen):
        return Refused("duplicate_seal_specimen", "同一种印章只能预留一枚印鉴", ("seal_specimen",))
    reserved = next((kinds for kinds in RESERVED_SETS if kinds <= by_type.keys()), None)
    if reserved is None:
        return Refused(
            "seal_specimens_missing",
            "开立基本存款账户须预留印鉴：财务专用章和法定代表人名章，或公章",
            ("seal_specimen",),
        )
    for seal_type in sorted(reserved):
        n = by_type[seal_type]
        specimen = app.seal_specimen[n]
        if problem := specimen_problem(
            specimen.image, uscc=app.uscc, seal_type=seal_type, filing_no=specimen.filing_no
        ):
            return Refused("seal_specimen_invalid", problem, (f"seal_specimen.{n}.image",))
    return None


class BankDesk:
    """The banks' books shared by their pre-check and their account opening: every
    pre-check passed, by number, with the bank and the legal representative it was for."""

    def __init__(self, seed: object) -> None:
        self._seed = seed
        self._lock = threading.Lock()  # the pre-check and the opening run side by side
        self.clear()

    def clear(self) -> None:
        """Forget every pre-check (a simulator reset)."""
        self._numbers = Sequence(random.Random(f"{self._seed}/bank-desk"), start_below=10**7)
        self._passed: dict[str, tuple[str, str]] = {}

    def precheck(self, check: PrecheckIn) -> Decision:
        """Check the bank and the people; record the pre-check passed under a new number."""
        banks, _ = bank_data()
        if check.bank not in banks:
            return Refused(
                "unknown_bank", f"未知银行代码{check.bank}（可选：{'、'.join(banks)}）", ("bank",)
            )
        if refused := people_problem(check.legal_representative, check.shareholder):
            return refused
        with self._lock:
            number = f"YS{check.bank}{self._numbers.take():08d}"
            self._passed[number] = (check.bank, check.legal_representative.cert_no)
        return Completed(result={"precheck_no": number, "bank": check.bank})

    def passed(self, number: str, *, bank: str, legal_representative: str) -> bool:
        """Whether pre-check `number` passed, at `bank`, for this legal representative."""
        with self._lock:
            return self._passed.get(number) == (bank, legal_representative)


def people_problem(rep: PersonIn, shareholders: list[ShareholderIn]) -> Refused | None:
    """The refusal if a resident ID is invalid or a person is on the banks' watch list."""
    _, blacklist = bank_data()
    # Each person with the path of their ID in the application: what a refusal concerns.
    people = [("legal_representative", "法定代表人", rep.name, rep.cert_no)]
    people += [(f"shareholder.{n}", "股东", s.name, s.cert_no) for n, s in enumerate(shareholders)]
    for path, role, person_name, id_number in people:
        if bad := first_bad_person([(role, person_name, id_number)]):
            return Refused("invalid_id_number", bad, (f"{path}.cert_no",))
    for path, role, person_name, id_number in people:
        if reason := blacklist.get(id_number):
            return Refused(
                "blacklisted_person",
                f"{role}{person_name}在银行风险名单上（{reason}）",
                (f"{path}.name", f"{path}.cert_no"),
            )
    return None


class BankPrecheckRules(AgencyRules):
    """Pre-checks the people of a company at the bank's desk (开户预审)."""

    name = "bank_precheck"

    def __init__(self, rng: random.Random, *, desk: BankDesk) -> None:
        super().__init__(rng)
        self._desk = desk

    def decide(self, payload: object) -> Decision:
        """Check the bank and the people; a passed pre-check gets its number."""
        return self._desk.precheck(parse(PrecheckIn, payload))


class BankAccountRules(AgencyRules):
    """Opens basic accounts, one numbering sequence per bank."""

    name = "bank_account"

    def __init__(self, rng: random.Random, *, desk: BankDesk) -> None:
        super().__init__(rng)
        self._desk = desk
        self._banks, _ = bank_data()
        self._sequences = {
            code: Sequence(rng, start_below=10 ** (f.length - len(f.prefix) - int(f.luhn) - 1))
            for code, f in self._banks.items()
        }

    def decide(self, payload: object) -> Decision:
        """Check the company, the people (or their pre-check) and the specimens; open it."""
        app = parse(AccountApplicationIn, payload)
        if problem := credit_code_problem(app.uscc):
            return Refused("invalid_credit_code", problem, ("uscc",))
        bank = self._banks.get(app.bank)
        if bank is None:
            return Refused(
                "unknown_bank",
                f"未知银行代码{app.bank}（可选：{'、'.join(self._banks)}）",
                ("bank",),
            )
        if refused := specimens_problem(app):
            return refused
        rep = app.legal_representative
        if app.precheck_no is None:
            if refused := people_problem(rep, app.shareholder):
                return refused
        elif not self._desk.passed(
            app.precheck_no, bank=bank.code, legal_representative=rep.cert_no
        ):
            return Refused(
                "precheck_unknown",
                f"开户预审{app.precheck_no}未通过或不属于本企业",
                ("precheck_no",),
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
