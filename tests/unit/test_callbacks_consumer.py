"""The callback queue's consumer without AWS: which messages become deliveries (only events Gatehouse
recorded, as recorded), and what a retry does."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from gatehouse.callbacks.consumer import CallbackConsumer, CallbackMessage, Claim, RetryLater, claim_of
from gatehouse.callbacks.records import CallbackEvent, DeliveryResult, callback_event, new_callback_secret
from gatehouse.events.records import LifecycleEvent
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


def as_recorded(detail: dict[str, Any], source: str = "gatehouse.campaigns") -> LifecycleEvent:
    """The event Gatehouse staged whose bus detail is `detail` (LifecycleEvent.body() gives it back)."""
    rest = {k: v for k, v in detail.items() if k not in {"eventId", "type", "occurredAt"}}
    return LifecycleEvent(detail["eventId"], detail["type"], source, detail["occurredAt"], rest)


class FakeRecords:
    """RecordedEvents in memory: the outbox of these tests."""

    def __init__(self, *details: dict[str, Any]) -> None:
        self.events = {d["eventId"]: as_recorded(d) for d in details}
        self.reads: list[str] = []

    def recorded(self, event_id: str) -> LifecycleEvent | None:
        self.reads.append(event_id)
        return self.events.get(event_id)


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


def consumer(
    result: DeliveryResult, target: Any = None, records: FakeRecords | None = None
) -> tuple[CallbackConsumer, FakeDelivery, FakeRetries]:
    delivery, retries = FakeDelivery(result), FakeRetries()
    lookup = target or (lambda campaign_id: ("https://hooks.example.com/x", SECRET))
    recorded = records if records is not None else FakeRecords(STARTED, TIMER_FIRED)
    return (
        CallbackConsumer(recorded, lookup, delivery, retries, base_seconds=0, max_seconds=60, rng=random.Random(1)),  # type: ignore[arg-type]
        delivery,
        retries,
    )


def test_a_recorded_campaign_event_keeps_its_id_type_time_and_the_rest_as_data():
    event = callback_event(as_recorded(STARTED))
    assert event is not None
    assert (event.event_id, event.event_type, event.campaign_id) == (
        STARTED["eventId"],
        "campaign.started",
        STARTED["campaignId"],
    )
    assert event.data == {"status": "RUNNING"}


def test_a_campaign_timer_event_names_its_campaign_and_other_owners_are_dropped():
    event = callback_event(as_recorded(TIMER_FIRED, "gatehouse.timers"))
    assert event is not None and event.campaign_id == "cmp_ABCDEFGH12345678"
    assert claim_of(message(TIMER_FIRED).body) == Claim(TIMER_FIRED["eventId"], "cmp_ABCDEFGH12345678")
    other = {**TIMER_FIRED, "owner": {"kind": "report", "id": "r1"}}
    assert claim_of(message(other).body) is None
    assert callback_event(as_recorded(other, "gatehouse.timers")) is None
    assert claim_of("not json") is None
    assert claim_of(message({**STARTED, "eventId": "has spaces"}).body) is None


def test_an_event_gatehouse_never_recorded_is_dropped_without_a_delivery(caplog):
    # Given a well-formed event on the bus about a real campaign, whose id Gatehouse never recorded
    records = FakeRecords(TIMER_FIRED)
    c, delivery, retries = consumer(DeliveryResult("delivered", 204), records=records)
    # When it is consumed, then it is dropped (no campaign read, no delivery, no retry), with a warning
    # that carries neither its data nor a secret
    with caplog.at_level("WARNING"):
        assert c.handle(message({**STARTED, "status": "FORGED-STATUS"}), UNBOUNDED) is None
    assert records.reads == [STARTED["eventId"]] and delivery.calls == [] and retries.delays == []
    (warning,) = [r for r in caplog.records if r.levelname == "WARNING"]
    assert "not an event Gatehouse recorded" in warning.getMessage()
    assert "FORGED-STATUS" not in str(warning.__dict__) and SECRET not in str(warning.__dict__)


def test_a_recorded_event_named_for_another_campaign_is_dropped():
    looked_up: list[str] = []

    def target(campaign_id: str) -> tuple[str, str]:
        looked_up.append(campaign_id)
        return ("https://hooks.example.com/x", SECRET)

    c, delivery, _ = consumer(DeliveryResult("delivered", 204), target=target)
    assert c.handle(message({**STARTED, "campaignId": "cmp_OTHERCAMPAIGN0001"}), UNBOUNDED) is None
    assert c.handle(message({**TIMER_FIRED, "owner": {"kind": "campaign", "id": "cmp_OTHER"}}), UNBOUNDED) is None
    assert delivery.calls == [] and looked_up == []


def test_a_real_id_with_forged_data_delivers_the_recorded_event():
    c, delivery, _ = consumer(DeliveryResult("delivered", 204))
    forged = {**STARTED, "type": "campaign.completed", "occurredAt": "2020-01-01T00:00:00Z", "status": "X", "more": 1}
    assert c.handle(message(forged), UNBOUNDED) == DeliveryResult("delivered", 204)
    (event, *_), *_ = delivery.calls
    assert event == callback_event(as_recorded(STARTED))
    assert event.payload() == callback_event(as_recorded(STARTED)).payload()  # type: ignore[union-attr]


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
