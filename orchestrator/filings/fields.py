r"""The types of what a person types into a filing, each normalised once and stored so.

Everything a person types is normalised here, once, by the annotated type of its kind, and
stored as normalised: so the same person typed twice is one person, whatever the keyboard.
Codes and numbers (`Code`: IDs, mobiles, district, industry, bank, branch and material
codes) are NFKC-normalised, which turns the full-width digits and letters of a Chinese
keyboard (１２３, ＡＢＣ) into ASCII; their digits must then be 0-9 ([0-9] in every pattern,
never \d, which also takes other scripts' digits such as Arabic-Indic ٣). Names and free
text (`PersonName`, `Text`, the parts of a company name) are NFC only: NFKC would turn a
name's full-width （） into ASCII ones, NFC keeps what was typed and only composes it the
one canonical way.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

import orchestrator.filings.messages  # noqa: F401  (registers the codes raised here)
from integrations.codes import USCC_ALPHABET, gb11643_check_char, gb32100_check_char
from orchestrator.privacy import MOBILE
from orchestrator.validation import fail

_ID_NUMBER = re.compile(r"[0-9]{17}[0-9X]")

# The one use of \d: in a str pattern it is any script's decimal digit, and this finds the
# digits that are not 0-9.
_OTHER_DIGIT = re.compile(r"(?![0-9])\d")

_MAX_CODE_LENGTH = 64  # past any code or number we take: a longer text is none of them


def _code(value: Any) -> Any:
    """A typed code or number in NFKC (full-width → ASCII), trimmed, its digits 0-9 only;
    input that is not text as it is, for the string schema to refuse."""
    if not isinstance(value, str):
        return value
    if not value.isascii():  # NFKC leaves ASCII as it is
        value = unicodedata.normalize("NFKC", value)
        # What NFKC leaves outside 0-9 is another script's digit, which no agency registers.
        if (digit := _OTHER_DIGIT.search(value)) is not None:
            raise fail("digit_not_ascii", char=digit.group())
    return value.strip()


# Control characters, lone surrogates and U+FFFE/U+FFFF: nothing a keyboard types into a
# name or an address, and nothing XML can carry, so a SOAP agency could never be sent them.
# (Unassigned code points are let through: this Python's Unicode tables may predate the
# newest CJK extension, and a rare character in a real name is no typo.)
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _text(value: Any) -> Any:
    """Typed text in NFC (full-width punctuation kept), trimmed, with no control or
    unprintable character; other input as it is."""
    if not isinstance(value, str):
        return value
    if (bad := _UNPRINTABLE.search(value)) is not None:
        raise fail("text_unprintable", position=bad.start() + 1)
    return unicodedata.normalize("NFC", value).strip()


def birth_date(id_number: str) -> date:
    return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def _check_resident_id(value: str) -> str:
    number = value.upper()
    if not _ID_NUMBER.fullmatch(number):
        raise fail("id_number_format")
    if gb11643_check_char(number[:17]) != number[17]:
        raise fail("id_number_check_char")
    try:
        birth = birth_date(number)
    except ValueError:
        raise fail("id_number_birth_date", birth=number[6:14]) from None
    if birth.year < 1900:
        raise fail("id_number_birth_date", birth=number[6:14])
    return number


def _check_mobile(value: str) -> str:
    if not MOBILE.fullmatch(value):
        raise fail("mobile_format")
    return value


def _check_credit_code(value: str) -> str:
    code = value.upper()
    if len(code) != 18 or any(ch not in USCC_ALPHABET for ch in code):
        raise fail("credit_code_format")
    if gb32100_check_char(code[:17]) != code[17]:
        raise fail("credit_code_check_char")
    return code


_NFKC = BeforeValidator(_code)
TYPED_TEXT = BeforeValidator(_text)
"""Text as typed: NFC, trimmed, with no control character (for a length of its own)."""

# A before-validator placed after the constraints runs first and leaves them to the string
# schema itself: lengths are counted on the normalised text, with the usual error codes.
Code = Annotated[str, Field(max_length=_MAX_CODE_LENGTH), _NFKC]
"""A code or number as typed: NFKC-normalised and trimmed, its digits 0-9 only."""
ResidentId = Annotated[Code, AfterValidator(_check_resident_id)]
"""An 18-character resident ID number (GB 11643) with a right check character and real birth
date; a lower-case x is normalised to X."""
Mobile = Annotated[Code, AfterValidator(_check_mobile)]
"""A mainland China mobile number, 11 digits: 1, then 3-9, then 9 more."""
CreditCode = Annotated[Code, AfterValidator(_check_credit_code)]
"""A unified social credit code (GB 32100) with a right check character, upper-cased."""
PersonName = Annotated[str, Field(min_length=1, max_length=50), TYPED_TEXT]
"""A person's name as typed, in NFC."""
Text = Annotated[str, Field(min_length=1, max_length=200), TYPED_TEXT]
"""Free text as typed (an address, an item of business scope), in NFC."""
