"""Standard Webhooks v1 signatures for outgoing callbacks (HMAC-SHA256). Standard library only.

Signed content is `{webhook-id}.{webhook-timestamp}.{body}` over the exact bytes sent; the
signature header is `v1,<base64>`, one per secret, space-separated, so a receiver rotating its
secret verifies with either (docs/resilience.md#callbacks).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

from gatehouse.callbacks.records import secret_key


def signature(key: bytes, msg_id: str, timestamp: int, payload: bytes) -> str:
    mac = hmac.new(key, b"%s.%d." % (msg_id.encode("ascii"), timestamp) + payload, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode("ascii")


def signed_headers(secrets: str | Sequence[str], msg_id: str, timestamp: int, payload: bytes) -> dict[str, str]:
    """The headers of one delivery: webhook-id, webhook-timestamp (this attempt's, Unix seconds),
    webhook-signature (one `v1,` entry per secret), and the JSON media type."""
    keys = [secret_key(s) for s in ([secrets] if isinstance(secrets, str) else secrets)]
    if not keys:
        raise ValueError("at least one secret signs a delivery")
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(key, msg_id, timestamp, payload) for key in keys),
    }
