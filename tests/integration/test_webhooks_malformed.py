"""A corpus of malformed deliveries never produces a 5xx: every one is a typed 4xx with the envelope,
nothing is stored, and no secret reaches an answer or a log line. Also 404, 413 and the limit on
failed verifications per (source, client IP)."""

from __future__ import annotations

import base64
import itertools
import json

import pytest

from tests import webhook_signing as signing
from tests.helpers import http_event, json_body
from tests.integration.webhooks_support import new_source_name, put_source

pytestmark = pytest.mark.integration
BODY = b'{"type": "thing.done", "id": "evt_corpus"}'
_ips = (f"198.51.100.{n}" for n in itertools.cycle(range(1, 255)))

SIGNATURE_HEADER = {
    "standard": "webhook-signature",
    "stripe": "stripe-signature",
    "github": "x-hub-signature-256",
    "slack": "x-slack-signature",
    "shopify": "x-shopify-hmac-sha256",
    "hmac-sha256": "x-webhook-signature",
}
TIMESTAMP_HEADER = {
    "standard": "webhook-timestamp",
    "slack": "x-slack-request-timestamp",
    "hmac-sha256": "x-webhook-timestamp",
}


def _corpus(scheme: str) -> list[tuple[str, bytes, dict[str, str], bool]]:
    """(case, body, headers, base64 from API Gateway) for one scheme."""
    good = signing.sign(scheme, signing.SECRETS[scheme], BODY)
    sig = SIGNATURE_HEADER[scheme]
    value = good[sig]
    cases = [
        ("signature empty", BODY, {**good, sig: ""}, False),
        ("signature missing", BODY, {k: v for k, v in good.items() if k != sig}, False),
        ("signature truncated", BODY, {**good, sig: value[: len(value) // 2]}, False),
        ("signature oversized", BODY, {**good, sig: value + "A" * 9000}, False),
        ("wrong prefix", BODY, {**good, sig: "md5=" + value.split("=", 1)[-1]}, False),
        ("bad base64", BODY, {**good, sig: "v1,@@@@" if scheme == "standard" else "@@@@"}, False),
        ("bad hex", BODY, {**good, sig: "sha256=" + "zz" * 32}, False),
        ("repeated header joined by a comma", BODY, {**good, sig: f"{value},{value}"}, False),
        ("non-UTF-8 body, forged", b"\xff\xfe\x00garbage", good, False),
        ("non-UTF-8 body, base64 from API Gateway, forged", b"\xff\xfe\x00garbage", good, True),
        ("unicode in header", BODY, {**good, sig: "v1,\u00e9\u00e9"}, False),
        ("control characters", BODY, {**good, sig: "\x00\x01\x02"}, False),
    ]
    ts = TIMESTAMP_HEADER.get(scheme)
    if ts:
        cases += [
            ("timestamp empty", BODY, {**good, ts: ""}, False),
            ("timestamp not a number", BODY, {**good, ts: "yesterday"}, False),
            ("timestamp repeated", BODY, {**good, ts: f"{good[ts]},{good[ts]}"}, False),
            ("timestamp huge", BODY, {**good, ts: "9" * 400}, False),
            ("timestamp stale", BODY, {**good, ts: str(int(good[ts]) - 10_000)}, False),
            ("timestamp negative", BODY, {**good, ts: "-5"}, False),
        ]
    if scheme == "stripe":
        cases += [
            ("stripe two t=", BODY, {sig: value.replace("t=", "t=1,t=", 1)}, False),
            ("stripe no v1", BODY, {sig: value.split(",")[0]}, False),
            ("stripe item without =", BODY, {sig: value + ",junk"}, False),
        ]
    if scheme == "standard":
        cases += [
            ("standard bare v1 entry", BODY, {**good, sig: "v1"}, False),
            ("standard id with spaces", BODY, {**good, "webhook-id": "has space"}, False),
            ("standard v1a wrong length", BODY, {**good, sig: "v1a,AAAA"}, False),
        ]
    return cases


CASES = [(scheme, *case) for scheme in signing.SECRETS for case in _corpus(scheme)]


@pytest.fixture(scope="module")
def sources(local_stack):
    names = {}
    for scheme, secret in signing.SECRETS.items():
        names[scheme] = new_source_name(scheme.replace("-", ""))
        assert put_source(local_stack, names[scheme], scheme, [secret]).status_code == 201
    return names


def _deliver(local_stack, source, body, headers, as_base64, ip=None):
    event = http_event(
        "POST",
        f"/webhooks/{source}",
        route_key="POST /webhooks/{source}",
        headers=headers,
        raw_body=body if as_base64 else body.decode("utf-8", "surrogateescape"),
        path_parameters={"source": source},
    )
    event["requestContext"]["http"]["sourceIp"] = ip or next(_ips)
    return local_stack.invoke("WebhookIntakeFunction", event)


@pytest.mark.parametrize(
    ("scheme", "case", "body", "headers", "as_base64"), CASES, ids=[f"{c[0]}: {c[1]}" for c in CASES]
)
def test_malformed_delivery_is_a_typed_4xx(local_stack, sources, capsys, scheme, case, body, headers, as_base64):
    answer = _deliver(local_stack, sources[scheme], body, headers, as_base64)
    assert 400 <= answer["statusCode"] < 500, (case, answer)
    error = json_body(answer)["error"]
    assert error["code"] in ("VALIDATION_ERROR", "AUTHENTICATION_ERROR")
    assert answer["headers"]["X-Request-Id"]
    out = capsys.readouterr()
    for text in (answer["body"], out.out, out.err):
        assert "Traceback" not in text
        assert signing.SECRETS[scheme] not in text


@pytest.mark.parametrize("scheme", list(signing.SECRETS))
def test_genuine_delivery_as_api_gateway_base64_verifies_over_the_decoded_bytes(local_stack, sources, scheme):
    body = b"\x00binary \xff body " + scheme.encode()
    headers = signing.sign(scheme, signing.SECRETS[scheme], body)
    answer = _deliver(local_stack, sources[scheme], body, headers, as_base64=True)
    assert answer["statusCode"] == 202, answer


def test_unknown_disabled_and_too_large(local_stack, sources):
    body = BODY
    headers = signing.sign("github", signing.SECRETS["github"], body)
    assert _deliver(local_stack, "no-such-source", body, headers, False)["statusCode"] == 404
    small = new_source_name("small")
    assert put_source(local_stack, small, "github", [signing.SECRETS["github"]], maxBodyBytes=10).status_code == 201
    too_big = _deliver(local_stack, small, body, headers, False)
    assert too_big["statusCode"] == 413 and json_body(too_big)["error"]["code"] == "PAYLOAD_TOO_LARGE"
    off = new_source_name("off")
    assert put_source(local_stack, off, "github", [signing.SECRETS["github"]], enabled=False).status_code == 201
    assert _deliver(local_stack, off, body, headers, False)["statusCode"] == 404
    huge = base64.b64encode(b"x" * 300_000)
    event = http_event(
        "POST", f"/webhooks/{small}", route_key="POST /webhooks/{source}", path_parameters={"source": small}
    )
    event.update(body=huge.decode(), isBase64Encoded=True)
    assert local_stack.invoke("WebhookIntakeFunction", event)["statusCode"] == 413


def test_failed_verifications_are_limited_per_source_and_client_ip(local_stack, sources, monkeypatch):
    from gatehouse.webhooks.runtime import webhook_intake
    from gatehouse.wiring import reset

    monkeypatch.setenv("WEBHOOK_FAILURE_LIMIT", "3")
    reset()
    try:
        source = sources["hmac-sha256"]
        forged = signing.sign("hmac-sha256", "not-the-secret-but-long-enough", BODY)
        statuses = [
            _deliver(local_stack, source, BODY, forged, False, ip="203.0.113.9")["statusCode"] for _ in range(5)
        ]
        assert statuses == [401, 401, 401, 429, 429]
        blocked = _deliver(local_stack, source, BODY, forged, False, ip="203.0.113.9")
        assert int(blocked["headers"]["Retry-After"]) >= 1
        # Another address, or the same address for another source, is not affected.
        assert _deliver(local_stack, source, BODY, forged, False, ip="203.0.113.10")["statusCode"] == 401
        genuine = signing.sign("github", signing.SECRETS["github"], BODY)
        assert _deliver(local_stack, sources["github"], BODY, genuine, False, ip="203.0.113.9")["statusCode"] in (
            200,
            202,
        )
        assert webhook_intake() is not None
    finally:
        monkeypatch.delenv("WEBHOOK_FAILURE_LIMIT")
        reset()


def test_slack_url_verification_answers_the_challenge_and_stores_nothing(local_stack, sources):
    body = json.dumps(
        {"type": "url_verification", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    ).encode()
    headers = {**signing.slack_headers(signing.SECRETS["slack"], body), "content-type": "application/json"}
    answer = _deliver(local_stack, sources["slack"], body, headers, False)
    assert answer["statusCode"] == 200
    assert json_body(answer) == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
