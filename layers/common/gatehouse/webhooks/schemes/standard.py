"""Standard Webhooks: `v1` HMAC-SHA256 with `whsec_` secrets and `v1a` Ed25519 with `whpk_` keys.

Signed content `{webhook-id}.{webhook-timestamp}.{body}` over the exact bytes; `webhook-signature`
is a space-separated list, any entry matching any active key verifies, and entries of other
versions are ignored (the specification's rule for rotation and new versions). Entries of a
known version that cannot be read make the delivery malformed (400) only when nothing matched.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from gatehouse.webhooks.schemes.common import (
    Ed25519Key,
    HmacKey,
    MalformedSignature,
    Request,
    SignatureRejected,
    SigningKey,
    Verified,
    b64decode_strict,
    delivery_id,
    timestamp,
)

SIGNATURE = "webhook-signature"
MAX_ENTRIES = 32
_LENGTHS = {"v1": 32, "v1a": 64}


def verify_standard_signature(request: Request, keys: Sequence[SigningKey], now: float, tolerance: int) -> Verified:
    msg_id = delivery_id(request.required("webhook-id"), "webhook-id")
    assert msg_id is not None
    ts = timestamp(request, "webhook-timestamp", now, tolerance)
    entries = request.required(SIGNATURE).split()
    if len(entries) > MAX_ENTRIES:
        raise MalformedSignature(SIGNATURE, f"has more than {MAX_ENTRIES} entries")
    signed = b"%s.%s.%s" % (msg_id.encode(), ts.encode(), request.body)
    digests: list[bytes] | None = None
    unreadable: MalformedSignature | None = None
    for entry in entries:
        version, comma, signature = entry.partition(",")
        if version not in _LENGTHS:
            continue  # another version: not ours to judge
        try:
            if not comma:
                raise MalformedSignature(SIGNATURE, "has an entry without a signature")
            given = b64decode_strict(signature, SIGNATURE, _LENGTHS[version])
        except MalformedSignature as error:
            unreadable = error
            continue
        if version == "v1":
            if digests is None:  # computed once, and only when a v1 entry is there
                digests = [hmac.digest(k.key, signed, "sha256") for k in keys if isinstance(k, HmacKey)]
            if any(hmac.compare_digest(d, given) for d in digests):
                return Verified(msg_id)
        elif any(_ed25519_verifies(k, given, signed) for k in keys if isinstance(k, Ed25519Key)):
            return Verified(msg_id)
    if unreadable is not None:
        raise unreadable
    raise SignatureRejected(SIGNATURE, "no signature matches an active secret")


def _ed25519_verifies(key: Ed25519Key, signature: bytes, data: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        key.verifier.verify(signature, data)
    except InvalidSignature:
        return False
    return True
