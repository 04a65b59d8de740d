"""Shopify: `X-Shopify-Hmac-Sha256` = base64 HMAC-SHA256 of the body; `X-Shopify-Webhook-Id`, `X-Shopify-Topic`.

No timestamp is signed; without `X-Shopify-Webhook-Id` the delivery id is the SHA-256 of the body.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from gatehouse.webhooks.schemes.common import (
    HmacKey,
    Request,
    SignatureRejected,
    SigningKey,
    Verified,
    b64decode_strict,
    delivery_id,
    derived_delivery_id,
)

SIGNATURE = "x-shopify-hmac-sha256"


def verify_shopify_signature(request: Request, keys: Sequence[SigningKey], now: float, tolerance: int) -> Verified:
    del now, tolerance  # Shopify signs no timestamp
    given = b64decode_strict(request.required(SIGNATURE), SIGNATURE, 32)
    delivery = delivery_id(request.header("x-shopify-webhook-id"), "x-shopify-webhook-id")
    for key in keys:
        if isinstance(key, HmacKey) and hmac.compare_digest(hmac.digest(key.key, request.body, "sha256"), given):
            return Verified(delivery or derived_delivery_id(request.body), request.headers.get("x-shopify-topic"))
    raise SignatureRejected(SIGNATURE, "no signature matches an active secret")
