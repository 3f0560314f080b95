"""Verify an e-business licence against the registration authorities OneStop trusts.

The format and the checks are `integrations.e_licence`; this module adds the trust: the
public keys of `ONESTOP_LICENCE_TRUSTED_KEYS`, and the rule that the simulators'
development key, whose seed is public, is trusted only in a development deployment.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from integrations.e_licence import Status, Verdict, verify_pdf
from integrations.signing import Verifier, parse_public_key
from orchestrator.settings import Settings, env_name, get_settings, is_simulator_key


@lru_cache(maxsize=4)
def _parsed(keys: tuple[str, ...]) -> tuple[Verifier, ...]:
    return tuple(parse_public_key(text) for text in keys)


def trusted_keys(settings: Settings | None = None) -> Sequence[Verifier]:
    """The public keys whose licences are genuine (validated when the settings load)."""
    return _parsed(tuple((settings or get_settings()).licence_trusted_keys))


def verify(pdf: bytes, settings: Settings | None = None) -> Verdict:
    """Judge a file claiming to be a licence; never raises."""
    verdict = verify_pdf(pdf, trusted_keys(settings))
    if (
        verdict.status is Status.UNTRUSTED
        and verdict.public_key
        and is_simulator_key(verdict.public_key)
    ):
        detail = "signed with the OneStop simulators' development key, which anyone can use"
        return verdict.model_copy(update={"detail": detail})
    return verdict


def unsafe_trust(settings: Settings) -> tuple[str, str] | None:
    """Why a process must not start with these settings (zh, en), or None if it may.

    The simulators' development key signs licences for anyone who reads this repository:
    trusted outside a development deployment, it would make forged licences genuine.
    """
    if settings.development or not settings.trusts_simulator_key():
        return None
    keys, development = env_name("licence_trusted_keys"), env_name("development")
    return (
        f"拒绝启动：可信执照密钥（{keys}）中含有模拟器的开发密钥，任何人都能用它签发执照。"
        f"生产环境请将其删除；若确为开发部署，请设置 {development}=true。",
        f"refusing to start: the trusted licence keys ({keys}) include the simulators' "
        "development key, with which anyone can sign a licence. Remove it in production; "
        f"if this is a development deployment, set {development}=true.",
    )
