"""The callback queue's consumer without AWS: which messages become deliveries, and what a retry does."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from gatehouse.callbacks.consumer import CallbackConsumer, CallbackMessage, RetryLater, campaign_event
from gatehouse.callbacks.records import CallbackEvent, DeliveryResult, new_callback_secret
from gatehouse.resilience.retries import UNBOUNDED

SECRET = new_callback_secret()


def message(detail: dict[str, Any], receive_count: int = 1) -> CallbackMessage:
    envelope = {"detail-type": detail.get("type"), "source": "gatehouse.campaigns", "detail": detail}
    return CallbackMessage(json.dumps(envelope), receive_count, "rh-1")


STARTED = {
    "eventId": "0b3e9c1e-1111-5222-8333-444455556666",
    "type": "campaign.started",
    "occurredAt": "2026-11-26T10:00:00Z",
    "campaignId": "cmp_ABCDEFGH12345678",
    "status": "RUNNING",
}
TIMER_FIRED = {
    "eventId": "1b3e9c1e-1111-5222-8333-444455556666",
    "type": "timer.fired",
    "occurredAt": "2026-11-26T10:00:00Z",
    "timerId": "tmr_1",
    "owner": {"kind": "campaign", "id": "cmp_ABCDEFGH12345678"},
}


class FakeDelivery:
    def __init__(self, result: DeliveryResult) -> None:
        self.result = result
        self.calls: list[tuple[CallbackEvent, str, str, int]] = []

    def deliver(self, event: CallbackEvent, url: str, secrets: str, *, delivery: int, deadline: Any) -> DeliveryResult:
        self.calls.append((event, url, secrets, delivery))
        return self.result


class FakeRetries:
    def __init__(self) -> None:
        self.delays: list[tuple[str, int]] = []

    def delay(self, receipt_handle: str, seconds: int) -> None:
        self.delays.append((receipt_handle, seconds))


def consumer(result: DeliveryResult, target: Any = None) -> tuple[CallbackConsumer, FakeDelivery, FakeRetries]:
    delivery, retries = FakeDelivery(result), FakeRetries()
    lookup = target or (lambda campaign_id: ("https://hooks.example.com/x", SECRET))
    return (
        CallbackConsumer(lookup, delivery, retries, base_seconds=0, max_seconds=60, rng=random.Random(1)),  # type: ignore[arg-type]
        delivery,
        retries,
    )


def test_a_campaign_event_keeps_its_id_type_time_and_the_rest_as_data():
    event = campaign_event(message(STARTED).body)
    assert event is not None
    assert (event.event_id, event.event_type, event.campaign_id) == (
        STARTED["eventId"],
        "campaign.started",
        STARTED["campaignId"],
    )
    assert event.data == {"status": "RUNNING"}


def test_a_campaign_timer_event_names_its_campaign_and_other_owners_are_dropped():
    event = campaign_event(message(TIMER_FIRED).body)
    assert event is not None and event.campaign_id == "cmp_ABCDEFGH12345678"
    other = {**TIMER_FIRED, "owner": {"kind": "report", "id": "r1"}}
    assert campaign_event(message(other).body) is None
    assert campaign_event("not json") is None


def test_delivered_is_done_and_no_callback_url_delivers_nothing():
    c, delivery, retries = consumer(DeliveryResult("delivered", 204))
    assert c.handle(message(STARTED, receive_count=2), UNBOUNDED) == DeliveryResult("delivered", 204)
    assert delivery.calls[0][2:] == (SECRET, 2) and retries.delays == []
    c, delivery, _ = consumer(DeliveryResult("delivered", 204), target=lambda campaign_id: None)
    assert c.handle(message(STARTED), UNBOUNDED) is None and delivery.calls == []


def test_retry_delays_the_message_at_least_as_asked_then_reports_a_batch_failure():
    c, _, retries = consumer(DeliveryResult("retry", 503, "the receiver answered 503", retry_after_seconds=7))
    with pytest.raises(RetryLater):
        c.handle(message(STARTED, receive_count=3), UNBOUNDED)
    assert retries.delays == [("rh-1", 7)]
