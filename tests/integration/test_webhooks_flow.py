"""Webhook intake end to end on the local stack: register, deliver over HTTP, dispatch, process, publish."""

from __future__ import annotations

import json
import threading

import pytest
import requests

from tests import webhook_signing as signing
from tests.integration.webhooks_support import BusCapture, admin, deliver, event, new_source_name, put_source

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def bus(local_stack):
    return BusCapture(local_stack)


def test_a_delivery_is_accepted_processed_and_published_once(local_stack, bus, wait_until):
    name = new_source_name()
    assert put_source(local_stack, name, "standard", [signing.SECRETS["standard"]]).status_code == 201
    body = json.dumps({"type": "order.paid", "data": {"n": 1}}).encode()
    headers = {**signing.standard_headers(signing.SECRETS["standard"], body), "content-type": "application/json"}

    first = deliver(local_stack, name, body, headers)
    again = deliver(local_stack, name, body, headers)

    assert first.status_code == 202, first.text
    assert first.json() == {"id": first.json()["id"], "duplicate": False}
    assert again.status_code == 200 and again.json() == {"id": first.json()["id"], "duplicate": True}
    event_id = first.json()["id"]
    wait_until(lambda: event(local_stack, event_id)["status"] == "PROCESSED", timeout=20)
    seen = event(local_stack, event_id)
    assert seen["attempts"] == 1 and seen["type"] == "order.paid" and seen["body"] == body.decode()
    bus.drain(wait=1.0)
    published = bus.for_event(event_id)
    assert len(published) == 1
    assert published[0]["detail-type"] == f"webhook.{name}.order.paid"
    assert published[0]["detail"]["payload"] == {"type": "order.paid", "data": {"n": 1}}


def test_source_answers_never_show_secrets(local_stack):
    name = new_source_name()
    secret = signing.SECRETS["github"]
    created = put_source(local_stack, name, "github", [secret])
    listed = requests.get(f"{local_stack.api_url}/v1/webhook-sources?limit=100", headers=admin(local_stack), timeout=30)
    one = requests.get(f"{local_stack.api_url}/v1/webhook-sources/{name}", headers=admin(local_stack), timeout=30)
    for answer in (created, listed, one):
        assert answer.status_code in (200, 201)
        assert secret not in answer.text
    assert one.json()["secrets"][0]["kind"] == "hmac"


def test_intake_hot_path_is_one_durable_write(local_stack):
    from botocore.client import BaseClient

    from gatehouse.webhooks.intake import Delivery
    from gatehouse.webhooks.runtime import webhook_intake

    name = new_source_name("count")
    assert put_source(local_stack, name, "github", [signing.SECRETS["github"]]).status_code == 201
    intake = webhook_intake()
    warm = b'{"warm": true}'
    intake.receive(Delivery(name, warm, signing.github_headers(signing.SECRETS["github"], warm), "192.0.2.7"))
    calls = []
    original = BaseClient._make_api_call
    me = threading.get_ident()

    def counting(self, operation, params):
        if threading.get_ident() == me:
            calls.append(f"{self.meta.service_model.service_name}:{operation}")
        return original(self, operation, params)

    BaseClient._make_api_call = counting
    try:
        body = b'{"n": 2}'
        answer = intake.receive(
            Delivery(name, body, signing.github_headers(signing.SECRETS["github"], body), "192.0.2.7")
        )
    finally:
        BaseClient._make_api_call = original
    assert not answer.duplicate
    assert calls == ["dynamodb:PutItem"]


def test_a_genuine_binary_body_over_http_is_stored_exactly_and_ends_failed_without_retries(local_stack, wait_until):
    # API Gateway (and the emulator) base64-encode it; the signature covers the bytes sent.
    name = new_source_name("bin")
    assert put_source(local_stack, name, "shopify", [signing.SECRETS["shopify"]]).status_code == 201
    body = b"\x89PNG\r\n\x1a\n\x00\xff not json"
    headers = {**signing.shopify_headers(signing.SECRETS["shopify"], body), "content-type": "application/json"}
    answer = deliver(local_stack, name, body, headers)
    assert answer.status_code == 202, answer.text
    event_id = answer.json()["id"]
    wait_until(lambda: event(local_stack, event_id)["status"] == "FAILED", timeout=20)
    seen = event(local_stack, event_id)
    assert seen["attempts"] == 1 and "UTF-8" in seen["lastError"]
    assert seen["bodyEncoding"] == "base64"
    import base64

    assert base64.b64decode(seen["body"]) == body
    assert seen["headers"]["x-shopify-topic"] == "orders/create"


def test_rotate_secret_over_http_shows_a_generated_secret_once_and_keeps_the_old_one_in_grace(local_stack):
    name = new_source_name("rot")
    old = "whsec_" + "A" * 43 + "="
    assert put_source(local_stack, name, "standard", [old]).status_code == 201
    url = f"{local_stack.api_url}/v1/webhook-sources/{name}/rotate-secret"
    rotated = requests.post(url, json={"gracePeriodSeconds": 3600}, headers=admin(local_stack), timeout=30)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new.startswith("whsec_") and [s["expiresAt"] is None for s in rotated.json()["secrets"]] == [False, True]
    shown = requests.get(f"{local_stack.api_url}/v1/webhook-sources/{name}", headers=admin(local_stack), timeout=30)
    assert new not in shown.text and "secret" not in shown.json()
    for secret in (old, new):
        body = json.dumps({"type": "rotation.check", "with": secret[-6:]}).encode()
        assert deliver(local_stack, name, body, signing.standard_headers(secret, body)).status_code == 202
    # Grace over (0 s): only the newest secret verifies.
    now_only = requests.post(url, json={"gracePeriodSeconds": 0}, headers=admin(local_stack), timeout=30).json()
    body = b'{"type": "late"}'
    assert deliver(local_stack, name, body, signing.standard_headers(old, body)).status_code == 401
    assert deliver(local_stack, name, body, signing.standard_headers(now_only["secret"], body)).status_code == 202
