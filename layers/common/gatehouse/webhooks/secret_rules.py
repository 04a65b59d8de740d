"""Which secrets a scheme accepts (checked strictly at registration), and the signing keys they become.

docs/webhooks.md#secrets: a `standard` source takes `whsec_` + standard base64 of 24-64 bytes
(HMAC, `v1`) or `whpk_` + base64 of a valid Ed25519 public key (`v1a`); `stripe` takes its
`whsec_…` string, used as UTF-8; the other schemes take 16-512 printable characters, used as
UTF-8. The error messages name what is wrong without repeating the secret.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets as random
from typing import Final

from gatehouse.webhooks.ed25519_point import is_valid_public_key
from gatehouse.webhooks.schemes.common import Ed25519Key, HmacKey, SigningKey

MIN_SECRET_CHARS: Final = 16
MAX_SECRET_CHARS: Final = 512
_STRIPE: Final = re.compile(r"whsec_[\x21-\x7e]{16,250}")
_GENERATED_BYTES: Final = 32


class SecretRefused(ValueError):
    """A secret the scheme cannot use; the message says why, never what the secret was."""


def _strict_b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SecretRefused(f"{what} is not valid base64") from None


def signing_key(scheme: str, secret: str) -> SigningKey:
    """The key `secret` gives under `scheme`, or SecretRefused."""
    if not isinstance(secret, str) or not secret:
        raise SecretRefused("a secret must not be empty")
    if scheme == "standard":
        return _standard_key(secret)
    if scheme == "stripe":
        if not _STRIPE.fullmatch(secret):
            raise SecretRefused("a stripe secret is whsec_ followed by at least 16 visible characters")
        return HmacKey(secret.encode())
    if not MIN_SECRET_CHARS <= len(secret) <= MAX_SECRET_CHARS:
        raise SecretRefused(f"a {scheme} secret has {MIN_SECRET_CHARS} to {MAX_SECRET_CHARS} characters")
    if not secret.isprintable() or secret != secret.strip():
        raise SecretRefused(f"a {scheme} secret is printable, without leading or trailing spaces")
    return HmacKey(secret.encode())


def _standard_key(secret: str) -> SigningKey:
    if secret.startswith("whsec_"):
        raw = _strict_b64(secret[6:], "the whsec_ secret")
        if not 24 <= len(raw) <= 64:
            raise SecretRefused("a whsec_ secret is base64 of 24 to 64 bytes")
        return HmacKey(raw)
    if secret.startswith("whpk_"):
        raw = _strict_b64(secret[5:], "the whpk_ key")
        if not is_valid_public_key(raw):
            raise SecretRefused("a whpk_ key must be a valid Ed25519 public key")
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        return Ed25519Key(raw, Ed25519PublicKey.from_public_bytes(raw))
    if secret.startswith("whsk_"):
        raise SecretRefused("a whsk_ key is the sender's private key: register its whpk_ public key")
    raise SecretRefused("a standard secret starts with whsec_ (HMAC) or whpk_ (Ed25519 public key)")


def secret_kind(secret: str) -> str:
    """`ed25519` for a whpk_ key, else `hmac` (shown in a source's answer instead of the secret)."""
    return "ed25519" if secret.startswith("whpk_") else "hmac"


def generated_secret(scheme: str) -> str | None:
    """A fresh secret for the schemes where Gatehouse may choose one (the sender is told it), else None."""
    if scheme == "standard":
        return "whsec_" + base64.b64encode(random.token_bytes(_GENERATED_BYTES)).decode()
    if scheme == "hmac-sha256":
        return random.token_urlsafe(_GENERATED_BYTES)
    return None
