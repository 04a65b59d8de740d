"""Published vectors of each scheme pass, and each scheme's rules hold (pure verifiers, no services).

Sources of the vectors (docs/webhooks.md#vectors): Standard Webhooks' own library test
(standard-webhooks/standard-webhooks, libraries/python/tests/test_webhooks.py, test_sign_function
and test_multi_sig_payload_is_valid), GitHub's "Validating webhook deliveries" test values, and
Slack's "Verifying requests from Slack" walkthrough.
"""

from __future__ import annotations

import base64

import pytest

from gatehouse.webhooks.schemes import SCHEMES
from gatehouse.webhooks.schemes.common import MalformedSignature, Request, SignatureRejected, Verified
from gatehouse.webhooks.secret_rules import SecretRefused, signing_key
from tests import webhook_signing as signing

STANDARD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
STANDARD_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
STANDARD_TS = 1614265330
STANDARD_BODY = b'{"test": 2432232314}'
STANDARD_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

GITHUB_SECRET = "It's a Secret to Everybody"
GITHUB_BODY = b"Hello, World!"
GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_TS = 1531420618
SLACK_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def verify(scheme: str, secrets: list[str], body: bytes, headers: dict[str, str], now: float, tolerance: int = 300):
    keys = [signing_key(scheme, s) for s in secrets]
    return SCHEMES[scheme].verify(Request(body, headers), keys, now, tolerance)


# --- published vectors ------------------------------------------------------------------------


def test_standard_webhooks_library_vector():
    headers = {
        "webhook-id": STANDARD_ID,
        "webhook-timestamp": str(STANDARD_TS),
        "webhook-signature": STANDARD_SIGNATURE,
    }
    assert verify("standard", [STANDARD_SECRET], STANDARD_BODY, headers, STANDARD_TS) == Verified(STANDARD_ID)


def test_standard_webhooks_vector_among_other_versions_and_wrong_signatures():
    # The library's multi-signature case: unknown versions ignored, any matching v1 verifies.
    wrong = "Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
    header = f"v1,{wrong} v2,{wrong} {STANDARD_SIGNATURE} v1,{wrong}"
    headers = {"webhook-id": STANDARD_ID, "webhook-timestamp": str(STANDARD_TS), "webhook-signature": header}
    assert verify("standard", [STANDARD_SECRET], STANDARD_BODY, headers, STANDARD_TS).delivery_id == STANDARD_ID


def test_standard_vector_with_a_flipped_bit_is_rejected():
    headers = {
        "webhook-id": STANDARD_ID,
        "webhook-timestamp": str(STANDARD_TS),
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=",
    }
    with pytest.raises(SignatureRejected):
        verify("standard", [STANDARD_SECRET], STANDARD_BODY, headers, STANDARD_TS)


def test_github_documented_vector():
    headers = {"x-hub-signature-256": GITHUB_SIGNATURE, "x-github-delivery": "d-1", "x-github-event": "ping"}
    assert verify("github", [GITHUB_SECRET], GITHUB_BODY, headers, 0) == Verified("d-1", "ping")


def test_slack_documented_vector():
    headers = {"x-slack-request-timestamp": str(SLACK_TS), "x-slack-signature": SLACK_SIGNATURE}
    verified = verify("slack", [SLACK_SECRET], SLACK_BODY, headers, SLACK_TS + 10)
    assert verified.delivery_id.startswith("sha256:")  # a slash command carries no event_id


def test_slack_vector_is_stale_five_minutes_later():
    headers = {"x-slack-request-timestamp": str(SLACK_TS), "x-slack-signature": SLACK_SIGNATURE}
    with pytest.raises(SignatureRejected) as caught:
        verify("slack", [SLACK_SECRET], SLACK_BODY, headers, SLACK_TS + 301)
    assert caught.value.field == "x-slack-request-timestamp"


# --- every scheme: signs and verifies, any active secret, constant answers ------------------------


@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_each_scheme_verifies_its_own_signature_with_any_of_the_secrets(scheme):
    body = b'{"type": "thing.happened", "id": "evt_1"}'
    other = {
        "standard": "whsec_" + base64.b64encode(b"x" * 32).decode(),
        "stripe": "whsec_anotherSecretOf20chars",
        "github": "another secret, 16+ chars",
        "slack": "0123456789abcdef0123456789abcdef",
        "shopify": "another-shopify-secret-0123",
        "hmac-sha256": "another-long-enough-secret",
    }[scheme]
    headers = signing.sign(scheme, signing.SECRETS[scheme], body)
    import time

    assert verify(scheme, [other, signing.SECRETS[scheme]], body, headers, time.time()).delivery_id
    with pytest.raises(SignatureRejected):
        verify(scheme, [other], body, headers, time.time())


@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_each_scheme_refuses_a_changed_body(scheme):
    import time

    headers = signing.sign(scheme, signing.SECRETS[scheme], b"original")
    with pytest.raises(SignatureRejected):
        verify(scheme, [signing.SECRETS[scheme]], b"original ", headers, time.time())


def test_ed25519_v1a_verifies_and_a_wrong_key_does_not():
    private, public = signing.ed25519_pair()
    _, other_public = signing.ed25519_pair()
    headers = signing.standard_v1a_headers(private, b"{}", msg_id="msg_1", ts=1000)
    assert verify("standard", [public], b"{}", headers, 1000).delivery_id == "msg_1"
    with pytest.raises(SignatureRejected):
        verify("standard", [other_public], b"{}", headers, 1000)


def test_stripe_delivery_id_is_the_event_id_and_timestamps_are_checked():
    body = b'{"id": "evt_123", "type": "invoice.paid"}'
    headers = signing.stripe_headers(signing.SECRETS["stripe"], body, ts=5000)
    assert verify("stripe", [signing.SECRETS["stripe"]], body, headers, 5000).delivery_id == "evt_123"
    with pytest.raises(SignatureRejected):
        verify("stripe", [signing.SECRETS["stripe"]], body, headers, 5000 + 301)
    assert verify("stripe", [signing.SECRETS["stripe"]], body, headers, 5000 + 600, tolerance=600)


def test_slack_events_api_delivery_id_is_the_event_id():
    body = b'{"type": "event_callback", "event_id": "Ev123", "event": {"type": "app_mention"}}'
    headers = signing.slack_headers(signing.SECRETS["slack"], body, ts=7000)
    assert verify("slack", [signing.SECRETS["slack"]], body, headers, 7000).delivery_id == "Ev123"


def test_schemes_without_an_id_header_derive_it_from_the_signed_content():
    body = b"{}"
    headers = signing.github_headers(signing.SECRETS["github"], body)
    del headers["x-github-delivery"]
    first = verify("github", [signing.SECRETS["github"]], body, headers, 0).delivery_id
    assert first == verify("github", [signing.SECRETS["github"]], body, headers, 0).delivery_id
    assert first.startswith("sha256:")


# --- secrets at registration --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scheme", "secret"),
    [
        ("standard", ""),
        ("standard", "whsec_"),
        ("standard", "whsec_not base64!"),
        ("standard", "whsec_" + base64.b64encode(b"x" * 23).decode()),  # too short
        ("standard", "whsec_" + base64.b64encode(b"x" * 65).decode()),  # too long
        ("standard", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS"),  # bad padding
        ("standard", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),  # no prefix
        ("standard", "whpk_" + base64.b64encode(bytes(32)).decode()),  # a small-order point
        ("standard", "whpk_" + base64.b64encode(b"\xff" * 32).decode()),  # not a point
        ("standard", "whpk_" + base64.b64encode(b"\x01" * 31).decode()),  # 31 bytes
        ("standard", "whsk_" + base64.b64encode(b"x" * 32).decode()),  # a private key
        ("stripe", "sk_live_123456789012345678"),
        ("github", "short"),
        ("github", " leading space and long enough"),
        ("slack", "x" * 513),
        ("shopify", "bell\x07character-long-enough"),
    ],
)
def test_secrets_are_checked_strictly(scheme, secret):
    with pytest.raises(SecretRefused) as caught:
        signing_key(scheme, secret)
    assert len(secret) < 8 or secret not in str(caught.value)  # the refusal never repeats the secret


def test_malformed_signature_is_400_and_missing_is_401():
    headers = {"webhook-id": "m", "webhook-timestamp": "1", "webhook-signature": "v1,not-base64!!"}
    with pytest.raises(MalformedSignature):
        verify("standard", [STANDARD_SECRET], b"", headers, 1)
    with pytest.raises(SignatureRejected):
        verify("standard", [STANDARD_SECRET], b"", {"webhook-id": "m", "webhook-timestamp": "1"}, 1)
