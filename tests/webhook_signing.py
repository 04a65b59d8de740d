"""Signing webhooks the way each sender does, for tests and the bench (independent of the verifiers)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.secret_log_guard import remember


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def standard_headers(secret: str, body: bytes, *, msg_id: str | None = None, ts: int | None = None) -> dict[str, str]:
    remember(secret)
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    ts = int(time.time()) if ts is None else ts
    key = base64.b64decode(secret.removeprefix("whsec_"))
    sig = base64.b64encode(_hmac(key, f"{msg_id}.{ts}.".encode() + body)).decode()
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": f"v1,{sig}"}


def ed25519_pair() -> tuple[Ed25519PrivateKey, str]:
    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return private, "whpk_" + base64.b64encode(raw).decode()


def standard_v1a_headers(
    private: Ed25519PrivateKey, body: bytes, *, msg_id: str | None = None, ts: int | None = None
) -> dict[str, str]:
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    ts = int(time.time()) if ts is None else ts
    sig = base64.b64encode(private.sign(f"{msg_id}.{ts}.".encode() + body)).decode()
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": f"v1a,{sig}"}


def stripe_headers(secret: str, body: bytes, *, ts: int | None = None) -> dict[str, str]:
    remember(secret)
    ts = int(time.time()) if ts is None else ts
    sig = _hmac(secret.encode(), f"{ts}.".encode() + body).hex()
    return {"stripe-signature": f"t={ts},v1={sig},v0=deadbeef"}


def github_headers(secret: str, body: bytes, *, delivery: str | None = None, event: str = "push") -> dict[str, str]:
    remember(secret)
    return {
        "x-hub-signature-256": "sha256=" + _hmac(secret.encode(), body).hex(),
        "x-github-delivery": delivery or str(uuid.uuid4()),
        "x-github-event": event,
    }


def slack_headers(secret: str, body: bytes, *, ts: int | None = None) -> dict[str, str]:
    remember(secret)
    ts = int(time.time()) if ts is None else ts
    sig = _hmac(secret.encode(), f"v0:{ts}:".encode() + body).hex()
    return {"x-slack-request-timestamp": str(ts), "x-slack-signature": f"v0={sig}"}


def shopify_headers(
    secret: str, body: bytes, *, delivery: str | None = None, topic: str = "orders/create"
) -> dict[str, str]:
    remember(secret)
    return {
        "x-shopify-hmac-sha256": base64.b64encode(_hmac(secret.encode(), body)).decode(),
        "x-shopify-webhook-id": delivery or str(uuid.uuid4()),
        "x-shopify-topic": topic,
    }


def hmac_sha256_headers(
    secret: str, body: bytes, *, delivery: str | None = None, ts: int | None = None, event: str | None = None
) -> dict[str, str]:
    remember(secret)
    ts = int(time.time()) if ts is None else ts
    headers = {
        "x-webhook-timestamp": str(ts),
        "x-webhook-signature": "sha256=" + _hmac(secret.encode(), f"{ts}.".encode() + body).hex(),
        "x-webhook-id": delivery or str(uuid.uuid4()),
    }
    if event:
        headers["x-webhook-event"] = event
    return headers


SECRETS = {
    "standard": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "stripe": "whsec_test1234567890abcdefABCDEF",
    "github": "It's a Secret to Everybody",
    "slack": "8f742231b10e8888abcd99yyyzzz85a5",
    "shopify": "shpss_0123456789abcdef0123456789abcdef",
    "hmac-sha256": "a-long-enough-shared-secret-for-tests",
}
remember(*SECRETS.values())


def sign(scheme: str, secret: str, body: bytes, **kwargs: object) -> dict[str, str]:
    remember(secret)
    signer = {
        "standard": standard_headers,
        "stripe": stripe_headers,
        "github": github_headers,
        "slack": slack_headers,
        "shopify": shopify_headers,
        "hmac-sha256": hmac_sha256_headers,
    }[scheme]
    return signer(secret, body, **kwargs)  # type: ignore[operator]
