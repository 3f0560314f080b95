"""Masking personal data: resident ID numbers and mobile numbers, as fields and inside text.

A masked number keeps enough to tell two people apart in a list (a resident ID its region
and last four characters, a mobile its first three and last four digits) and no more.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

# A whole run of 11 or 18 digits, of any script (a full-width number is as personal as an
# ASCII one); Chinese text often runs straight into a number, so letters may touch it.
_CANDIDATE = re.compile(r"(?<!\d)(?:\d{17}[\dXxＸｘ]|\d{11})(?!\d)")
_RESIDENT_ID = re.compile(r"[1-9][0-9]{5}(?:18|19|20)[0-9]{2}[0-9]{7}[0-9X]")
# A mainland China mobile number (the filing form and staff records check against it too).
MOBILE = re.compile(r"1[3-9][0-9]{9}")


def mask_id_number(value: str) -> str:
    """Keep the region and the last four characters of a resident ID."""
    return value[:6] + "*" * 8 + value[-4:] if len(value) == 18 else "*" * len(value)


def mask_mobile(value: str) -> str:
    """Keep the first three and the last four digits of a mobile number."""
    return value[:3] + "****" + value[-4:] if len(value) == 11 else "*" * len(value)


def masked(value: Any) -> Any:
    """A copy of an application payload (or part of one) with its `id_number` and `mobile`
    fields masked."""
    if isinstance(value, dict):
        return {
            key: (
                mask_id_number(item)
                if key == "id_number" and isinstance(item, str)
                else mask_mobile(item)
                if key == "mobile" and isinstance(item, str)
                else masked(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [masked(item) for item in value]
    return value


def mask_text(text: str) -> str:
    """`text` with everything in it that reads as a resident ID or a mobile number masked.

    For text nobody vetted (log lines, exception messages): it errs on the side of masking,
    so an 18-digit code of another kind that looks like a resident ID is masked too.
    """
    return _CANDIDATE.sub(_mask_match, text)


def _mask_match(match: re.Match[str]) -> str:
    found = match.group()
    ascii_form = unicodedata.normalize("NFKC", found).upper()
    if _RESIDENT_ID.fullmatch(ascii_form):
        return mask_id_number(found)
    if MOBILE.fullmatch(ascii_form):
        return mask_mobile(found)
    return found
