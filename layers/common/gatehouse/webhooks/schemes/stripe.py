"""Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]`, hex HMAC-SHA256 of `{t}.{body}`.

The key is the whole `whsec_…` string as UTF-8 (Stripe does not base64-decode it); `v0` and
unknown schemes in the header are ignored. The delivery id is the event's own `id` from the
signed JSON body; a body without one gets the SHA-256 of the signed content (docs/webhooks.md).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Sequence

from gatehouse.webhooks.schemes.common import (
    HmacKey,
    MalformedSignature,
    Request,
    SignatureRejected,
    SigningKey,
    Verified,
    delivery_id,
    derived_delivery_id,
    fresh_timestamp,
    hex64,
)

SIGNATURE = "stripe-signature"
MAX_ITEMS = 32


def verify_stripe_signature(request: Request, keys: Sequence[SigningKey], now: float, tolerance: int) -> Verified:
    header = request.required(SIGNATURE)
    items = header.split(",")
    if len(items) > MAX_ITEMS:
        raise MalformedSignature(SIGNATURE, f"has more than {MAX_ITEMS} items")
    stamps: list[str] = []
    given: list[bytes] = []
    for item in items:
        name, equals, value = item.strip().partition("=")
        if not equals:
            raise MalformedSignature(SIGNATURE, "must be a list of key=value items")
        if name == "t":
            stamps.append(value)
        elif name == "v1":
            given.append(hex64(value, SIGNATURE))
    if len(stamps) != 1:
        raise MalformedSignature(SIGNATURE, "must carry exactly one t=")
    ts = fresh_timestamp(stamps[0], SIGNATURE, now, tolerance)
    if not given:
        raise SignatureRejected(SIGNATURE, "has no v1 signature")
    signed = b"%s.%s" % (ts.encode(), request.body)
    for key in keys:
        if isinstance(key, HmacKey):
            digest = hmac.digest(key.key, signed, "sha256")
            if any(hmac.compare_digest(digest, g) for g in given):
                return Verified(_event_id(request.body) or derived_delivery_id(signed))
    raise SignatureRejected(SIGNATURE, "no signature matches an active secret")


def _event_id(body: bytes) -> str | None:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None
    value = document.get("id") if isinstance(document, dict) else None
    if not isinstance(value, str):
        return None
    try:
        return delivery_id(value, "id")
    except MalformedSignature:
        return None
