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
