"""Verify an e-business licence against the registration authorities OneStop trusts.

The format and the checks are `integrations.e_licence`; this module adds the trust: the
public keys of `ONESTOP_LICENCE_TRUSTED_KEYS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from integrations.e_licence import Verdict, verify_pdf
from integrations.signing import Verifier, parse_public_key
from orchestrator.settings import Settings, get_settings


@lru_cache(maxsize=4)
def _parsed(keys: tuple[str, ...]) -> tuple[Verifier, ...]:
    return tuple(parse_public_key(text) for text in keys)


def trusted_keys(settings: Settings | None = None) -> Sequence[Verifier]:
    """The public keys whose licences are genuine (validated when the settings load)."""
    return _parsed(tuple((settings or get_settings()).licence_trusted_keys))


def verify(pdf: bytes, settings: Settings | None = None) -> Verdict:
    """Judge a file claiming to be a licence; never raises."""
    return verify_pdf(pdf, trusted_keys(settings))
