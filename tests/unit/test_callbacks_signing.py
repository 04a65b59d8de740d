"""Callback signatures are Standard Webhooks v1: the specification's vector, the `standardwebhooks`
package verifying ours, secrets of 24 to 64 bytes, one signature per secret while rotating."""

from __future__ import annotations

import base64
import json
import time

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from gatehouse.callbacks.records import CallbackEvent, InvalidCallbackSecret, new_callback_secret, secret_key
from gatehouse.callbacks.signing import signature, signed_headers

VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_the_specifications_vector():
    sig = signature(secret_key(VECTOR_SECRET), "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
    assert sig == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_new_secret_is_whsec_and_32_random_bytes():
    first, second = new_callback_secret(), new_callback_secret()
    assert first.startswith("whsec_") and first != second
    assert len(secret_key(first)) == 32
    assert len(secret_key(new_callback_secret(64))) == 64
    with pytest.raises(ValueError):
        new_callback_secret(16)


@pytest.mark.parametrize(
    "secret",
    [
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  # no prefix
        "whsec_not base64!",
        "whsec_" + base64.b64encode(b"x" * 16).decode(),  # too short
        "whsec_" + base64.b64encode(b"x" * 65).decode(),  # too long
    ],
)
def test_a_secret_that_is_not_24_to_64_bytes_of_base64_is_refused(secret):
    with pytest.raises(InvalidCallbackSecret):
        secret_key(secret)


def event() -> CallbackEvent:
    return CallbackEvent(
        "3f9e1c2a-5d1b-5e8a-9c41-0b7d2e6f8a10",
        "campaign.started",
        "cmp_123",
        "2026-11-22T12:00:00Z",
        {"status": "RUNNING", "name": "Black Friday ✓"},
    )


def test_the_standardwebhooks_package_verifies_a_delivery():
    secret = new_callback_secret()
    payload = event().payload()
    headers = signed_headers(secret, event().event_id, int(time.time()), payload)
    receiver = Webhook(secret)
    body = receiver.verify(payload, headers)
    assert body["type"] == "campaign.started"
    assert body["data"] == {
        "campaignId": "cmp_123",
        "eventId": event().event_id,
        "name": "Black Friday ✓",
        "status": "RUNNING",
    }
    with pytest.raises(WebhookVerificationError):
        receiver.verify(payload.replace(b"RUNNING", b"STOPPED"), headers)


def test_while_rotating_both_secrets_sign_and_either_verifies():
    old, new = new_callback_secret(), new_callback_secret()
    payload = event().payload()
    headers = signed_headers([new, old], event().event_id, int(time.time()), payload)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(payload, headers)


def test_the_payload_is_the_same_bytes_every_time_and_the_id_is_header_safe():
    assert event().payload() == event().payload()
    assert json.loads(event().payload())["timestamp"] == "2026-11-22T12:00:00Z"
    with pytest.raises(ValueError):
        CallbackEvent("id with space", "campaign.started", "c", "2026-11-22T12:00:00Z")
    with pytest.raises(ValueError):
        CallbackEvent("x\r\nInjected: 1", "campaign.started", "c", "2026-11-22T12:00:00Z")
