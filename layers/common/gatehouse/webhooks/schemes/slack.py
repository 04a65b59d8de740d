"""Slack: `X-Slack-Signature: v0=<hex HMAC-SHA256("v0:{ts}:{body}")>`, `X-Slack-Request-Timestamp`.

The delivery id is the Events API's `event_id` from the signed JSON body; form-encoded posts
(slash commands, interactivity) carry none, so theirs is the SHA-256 of the signed content:
a resend of the very same request dedupes, a new request never does (docs/webhooks.md).
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
    hex64,
    timestamp,
)

SIGNATURE = "x-slack-signature"


def verify_slack_signature(request: Request, keys: Sequence[SigningKey], now: float, tolerance: int) -> Verified:
    ts = timestamp(request, "x-slack-request-timestamp", now, tolerance)
    header = request.required(SIGNATURE)
    version, equals, value = header.partition("=")
    if version != "v0" or not equals:
        raise MalformedSignature(SIGNATURE, "must be v0=<64 hex digits>")
    given = hex64(value, SIGNATURE)
    signed = b"v0:%s:%s" % (ts.encode(), request.body)
    for key in keys:
        if isinstance(key, HmacKey) and hmac.compare_digest(hmac.digest(key.key, signed, "sha256"), given):
            return Verified(_event_id(request.body) or derived_delivery_id(signed))
    raise SignatureRejected(SIGNATURE, "no signature matches an active secret")


def _event_id(body: bytes) -> str | None:
    if not body.startswith(b"{"):
        return None
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None
    value = document.get("event_id") if isinstance(document, dict) else None
    if not isinstance(value, str):
        return None
    try:
        return delivery_id(value, "event_id")
    except MalformedSignature:
        return None
