"""GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(body)>`; `X-GitHub-Delivery`, `X-GitHub-Event`.

GitHub signs no timestamp, so the delivery id is the only replay defence (docs/webhooks.md);
without `X-GitHub-Delivery` the id is the SHA-256 of the body.
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
)

SIGNATURE = "x-hub-signature-256"


def verify_github_signature(request: Request, keys: Sequence[SigningKey], now: float, tolerance: int) -> Verified:
    del now, tolerance  # GitHub signs no timestamp
    header = request.required(SIGNATURE)
    prefix, equals, value = header.partition("=")
    if prefix != "sha256" or not equals:
        raise MalformedSignature(SIGNATURE, "must be sha256=<64 hex digits>")
    given = hex64(value, SIGNATURE)
    delivery = delivery_id(request.header("x-github-delivery"), "x-github-delivery")
    for key in keys:
        if isinstance(key, HmacKey) and hmac.compare_digest(hmac.digest(key.key, request.body, "sha256"), given):
            return Verified(delivery or derived_delivery_id(request.body), request.headers.get("x-github-event"))
    raise SignatureRejected(SIGNATURE, "no signature matches an active secret")
