"""Gatehouse's generic scheme: `X-Webhook-Signature: sha256=<hex HMAC-SHA256("{X-Webhook-Timestamp}.{body}")>`.

Keyed with the secret's UTF-8 bytes; `X-Webhook-Timestamp` in Unix seconds; `X-Webhook-Id` is the
delivery id (else the SHA-256 of the signed content); `X-Webhook-Event`, when sent, the event type.
"""

from __future__ import annotations

import hmac
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
    hex64,
    timestamp,
)

SIGNATURE = "x-webhook-signature"


def verify_hmac_sha256_signature(request: Request, keys: Sequence[SigningKey], now: float, tolerance: int) -> Verified:
    ts = timestamp(request, "x-webhook-timestamp", now, tolerance)
    header = request.required(SIGNATURE)
    prefix, equals, value = header.partition("=")
    if prefix != "sha256" or not equals:
        raise MalformedSignature(SIGNATURE, "must be sha256=<64 hex digits>")
    given = hex64(value, SIGNATURE)
    delivery = delivery_id(request.header("x-webhook-id"), "x-webhook-id")
    signed = b"%s.%s" % (ts.encode(), request.body)
    for key in keys:
        if isinstance(key, HmacKey) and hmac.compare_digest(hmac.digest(key.key, signed, "sha256"), given):
            return Verified(delivery or derived_delivery_id(signed), request.headers.get("x-webhook-event"))
    raise SignatureRejected(SIGNATURE, "no signature matches an active secret")
