"""Digital signatures behind one small interface, so that the algorithm can change.

Today the registration authority signs with Ed25519 (`cryptography`); China's national
algorithm SM2 (GM/T 0003, with SM3) is expected to replace it. A new algorithm is one
`Signer` and one `Verifier` class and one entry in `VERIFIERS`: callers name keys by
`public_key_text` ("Ed25519:<base64>") and never by algorithm-specific types.

A key id is derived from the algorithm and the public key (not chosen by the signer), so
that a document naming a key id cannot mean a different key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519 = "Ed25519"


class Verifier(Protocol):
    """Checks signatures made with one public key."""

    @property
    def algorithm(self) -> str:
        """The algorithm's name as documents carry it (e.g. "Ed25519", "SM2")."""
        ...

    @property
    def public_key(self) -> bytes:
        """The public key in the algorithm's raw encoding."""
        ...

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether `signature` is this key's signature of `message`."""
        ...


class Signer(Verifier, Protocol):
    """Holds a private key: signs, and verifies with the matching public key."""

    def sign(self, message: bytes) -> bytes:
        """The signature of `message`."""
        ...


def key_id(algorithm: str, public_key: bytes) -> str:
    """A short, stable name of a public key: 16 hex digits of SHA-256 over algorithm and key."""
    return hashlib.sha256(algorithm.encode() + b":" + public_key).hexdigest()[:16]


def public_key_text(verifier: Verifier) -> str:
    """How settings and documents write a public key: "<algorithm>:<base64 of the key>"."""
    return f"{verifier.algorithm}:{base64.b64encode(verifier.public_key).decode()}"


class Ed25519Verifier:
    """Ed25519 (RFC 8032) signature checks with a 32-byte public key."""

    algorithm = ED25519

    def __init__(self, public_key: bytes) -> None:
        self._key = Ed25519PublicKey.from_public_bytes(public_key)  # ValueError if not 32 bytes
        self.public_key = public_key

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether `signature` is this key's signature of `message`."""
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


class Ed25519Signer(Ed25519Verifier):
    """An Ed25519 private key (a 32-byte seed)."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private = private_key
        raw = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        super().__init__(raw)

    @classmethod
    def from_seed(cls, seed: bytes) -> Ed25519Signer:
        """The key whose 32-byte private seed is `seed`."""
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def generate(cls) -> Ed25519Signer:
        """A fresh random key."""
        return cls(Ed25519PrivateKey.generate())

    def sign(self, message: bytes) -> bytes:
        """The 64-byte signature of `message`."""
        return self._private.sign(message)


# Algorithm name -> how to check its signatures from a raw public key (SM2 would join here).
VERIFIERS: dict[str, Callable[[bytes], Verifier]] = {ED25519: Ed25519Verifier}


class UnknownKey(ValueError):
    """A public key that cannot be used: unknown algorithm or a malformed key."""


def verifier_for(algorithm: str, public_key: bytes) -> Verifier:
    """A verifier for `public_key` under `algorithm`; `UnknownKey` if that cannot be built."""
    factory = VERIFIERS.get(algorithm)
    if factory is None:
        raise UnknownKey(f"unsupported signature algorithm {algorithm!r}")
    try:
        return factory(public_key)
    except ValueError as exc:
        raise UnknownKey(f"malformed {algorithm} public key: {exc}") from exc


def parse_public_key(text: str) -> Verifier:
    """A verifier from "<algorithm>:<base64 key>"; `UnknownKey` on anything else."""
    algorithm, sep, encoded = text.strip().partition(":")
    if not sep:
        raise UnknownKey(f"a public key is written <algorithm>:<base64>, not {text!r}")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise UnknownKey(f"the public key {text!r} is not base64") from exc
    return verifier_for(algorithm, raw)
