"""National code standards shared by OneStop, its adapters and the agencies' simulators.

GB 11643 (resident identity number), GB 32100 (unified social credit code) and the Luhn
check digit some banks put on account numbers. Pure functions, no I/O.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

_GB11643_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_GB11643_CHECK = "10X98765432"

# GB 32100 uses 31 characters: digits and capital letters without I, O, Z, S, V.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def is_ascii_digits(text: str) -> bool:
    """Whether `text` is one or more of the digits 0-9, the only digits these standards use.

    `str.isdigit` alone also takes other scripts' digits (Arabic-Indic ٣, full-width ３) and
    superscripts (²), which `int` reads as numbers or refuses: a check digit computed over
    them would pass a number no agency registers.
    """
    return text.isascii() and text.isdigit()


# The same people's numbers are checked at every hop (the API, each step's request, each
# agency): remember the recent ones rather than weigh 17 digits again.
@lru_cache(maxsize=4096)
def gb11643_check_char(body17: str) -> str:
    """Check character of an 18-character resident identity number, from its first 17 digits."""
    if len(body17) != 17 or not is_ascii_digits(body17):
        raise ValueError("a resident ID body is 17 digits")
    total = sum(int(ch) * w for ch, w in zip(body17, _GB11643_WEIGHTS, strict=True))
    return _GB11643_CHECK[total % 11]


def resident_id_birth_date(id_number: str) -> date:
    """Birth date encoded in a resident ID; raises ValueError if the number is not valid."""
    if len(id_number) != 18:
        raise ValueError("a resident ID has 18 characters")
    body, check = id_number[:17], id_number[17].upper()
    if gb11643_check_char(body) != check:
        raise ValueError("the check character does not match (GB 11643)")
    return date(int(body[6:10]), int(body[10:12]), int(body[12:14]))


def gb32100_check_char(body17: str) -> str:
    """Check character of a unified social credit code, from its first 17 characters."""
    if len(body17) != 17 or any(ch not in USCC_ALPHABET for ch in body17):
        raise ValueError("a credit code body is 17 characters of the GB 32100 alphabet")
    total = sum(USCC_ALPHABET.index(ch) * w for ch, w in zip(body17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def is_valid_uscc(code: str) -> bool:
    """Whether `code` is an 18-character unified social credit code with a right check char."""
    if len(code) != 18:
        return False
    try:
        return gb32100_check_char(code[:17]) == code[17]
    except ValueError:
        return False


def luhn_check_digit(digits: str) -> str:
    """Luhn (mod 10) check digit to append to `digits`."""
    if not is_ascii_digits(digits):
        raise ValueError("Luhn works on the digits 0-9")
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)
