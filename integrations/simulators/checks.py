"""Pieces of the agencies' wire formats and checks that several simulated agencies share.

These are the agencies' own models of what they accept (not OneStop's request types): the
simulators validate the JSON they receive against them, as a real agency would.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from integrations.codes import USCC_ALPHABET, is_valid_uscc, resident_id_birth_date

DATA_DIR = Path(__file__).parent / "data"

DISTRICT_PATTERN = r"^[0-9]{6}$"
MOBILE_PATTERN = r"^1[0-9]{10}$"


class WireModel(BaseModel):
    """An agency's view of a JSON object: unknown fields are an error, as at a strict agency."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PersonIn(WireModel):
    """A natural person as agencies receive one (证件 = resident identity card)."""

    name: str = Field(min_length=1, max_length=50)
    cert_no: str = Field(min_length=1, max_length=32)
    phone: str = Field(pattern=MOBILE_PATTERN)


class EmployeeIn(WireModel):
    """An employee on a staff roster."""

    name: str = Field(min_length=1, max_length=50)
    cert_no: str = Field(min_length=1, max_length=32)


def bad_resident_id(id_number: str) -> bool:
    """Whether `id_number` fails GB 11643 (length, digits, birth date or check character)."""
    try:
        resident_id_birth_date(id_number)
    except ValueError:
        return True
    return False


def first_bad_person(people: Iterable[tuple[str, str, str]]) -> str | None:
    """Message naming the first (role, name, id) whose resident ID is invalid, if any."""
    for role, name, id_number in people:
        if bad_resident_id(id_number):
            return f"{role}{name}的身份证号码{id_number}无效（GB 11643 校验不通过）"
    return None


def credit_code_problem(code: str) -> str | None:
    """Message if `code` is not a valid unified social credit code (GB 32100), else None."""
    if is_valid_uscc(code):
        return None
    return f"统一社会信用代码{code}无效（GB 32100 校验不通过）"


def load_yaml(name: str) -> Any:
    """A data file shipped beside the simulators."""
    with (DATA_DIR / name).open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


class Sequence:
    """A per-simulator counter that starts at a random (seeded) offset, as real numbering does."""

    def __init__(self, rng: random.Random, *, start_below: int) -> None:
        self._next = rng.randrange(1, max(2, start_below))

    def take(self) -> int:
        """The next number."""
        n = self._next
        self._next += 1
        return n


def base31(n: int, width: int) -> str:
    """`n` written in the GB 32100 alphabet, left-padded to `width` characters."""
    digits = []
    for _ in range(width):
        n, r = divmod(n, len(USCC_ALPHABET))
        digits.append(USCC_ALPHABET[r])
    if n:
        raise ValueError("number too large for the width")
    return "".join(reversed(digits))
