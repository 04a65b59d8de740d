"""Callback delivery end to end on 127.0.0.1: a receiver verifying every request with the `standardwebhooks`
package, the destination's fleet breaker on the real Redis, and what the CallbackOutcomes port is told.

A receiver that fails and recovers gets every event: while it fails, deliveries come back `retry`
(and, once its breaker opens, nothing reaches it); once the breaker closes, every event is delivered.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from standardwebhooks import Webhook, WebhookVerificationError

from gatehouse.callbacks.records import CallbackEvent, InMemoryCallbackOutcomes, new_callback_secret
from gatehouse.callbacks.service import CallbackDelivery
from gatehouse.resilience.fleet import FleetBreaker
from gatehouse.resilience.http_client import OutboundClient, parse_target
from gatehouse.resilience.records import BreakerConfig
from gatehouse.resilience.redis_breaker import RedisBreakerStore
from gatehouse.resilience.reporting import RecordingSink
from gatehouse.resilience.retries import RetryPolicy
from gatehouse.resilience.ssrf import AddressPolicy
from tests.downstream import Downstream, Reply, Seen

# An open period no test here outlasts: a breaker opened by a test stays open until that test resets it.
CONFIG = BreakerConfig(minimum_calls=3, failure_rate_percent=100, open_ms=600_000, half_open_permits=1)


class Receiver:
    """Verifies each delivery like a careful receiver, keeps the verified ids; fails while `failing`."""

    def __init__(self, secret: str) -> None:
        self.webhook = Webhook(secret)
        self.failing = False
        self.verified: list[str] = []
        self.forged = 0

    def __call__(self, seen: Seen) -> Reply:
        if self.failing:
            return Reply(503)
        try:
            body = self.webhook.verify(seen.body, seen.headers)
        except WebhookVerificationError:
            self.forged += 1
            return Reply(400)
        assert body["data"]["eventId"] == seen.headers["webhook-id"]
        self.verified.append(seen.headers["webhook-id"])
        return Reply(204, body=b"")


@pytest.fixture
def world(redis_url: str) -> Iterator[tuple[Downstream, Receiver, CallbackDelivery, InMemoryCallbackOutcomes, str]]:
    secret = new_callback_secret()
    receiver = Receiver(secret)
    server = Downstream().start()
    server.routes["/hooks"] = receiver
    store = RedisBreakerStore(redis.Redis.from_url(redis_url))
    store.reset(parse_target(server.url()).breaker_name, CONFIG)  # ports are reused: start from a closed breaker
    fleet = FleetBreaker(lambda: store, RecordingSink(), default_config=CONFIG)
    client = OutboundClient(
        fleet,
        AddressPolicy.from_setting("127.0.0.0/8"),
        retry=RetryPolicy(max_attempts=2, base_delay_s=0.01, max_delay_s=0.02),
    )
    outcomes = InMemoryCallbackOutcomes()
    yield server, receiver, CallbackDelivery(client, outcomes, max_deliveries=50), outcomes, secret
    server.stop()


def event(n: int) -> CallbackEvent:
    return CallbackEvent(str(uuid.uuid4()), "campaign.started", "cmp_1", "2026-11-22T12:00:00Z", {"n": n})


def test_a_delivery_verifies_with_standardwebhooks_and_is_recorded(world):
    server, receiver, delivery, outcomes, secret = world
    sent = event(1)
    result = delivery.deliver(sent, server.url("/hooks"), secret)
    assert (result.status, result.http_status) == ("delivered", 204)
    assert receiver.verified == [sent.event_id] and receiver.forged == 0
    assert server.seen[-1].headers["webhook-id"] == sent.event_id
    assert outcomes.deliveries == [("cmp_1", sent.event_id, 204)] and outcomes.failures == []


def test_a_receiver_that_fails_and_recovers_gets_every_event_once_its_breaker_closes(world, redis_url):
    server, receiver, delivery, outcomes, secret = world
    url, events = server.url("/hooks"), [event(n) for n in range(8)]
    receiver.failing = True
    first = [delivery.deliver(e, url, secret) for e in events]
    assert {r.status for r in first} == {"retry"}
    # The breaker opened after minimum_calls failed requests; later deliveries never reached the receiver.
    assert server.hits("/hooks") == CONFIG.minimum_calls
    assert any("breaker is open" in (r.error or "") for r in first)
    assert outcomes.failures == []

    # The receiver recovers and an operator closes its breaker (the open period, ten minutes, has
    # not ended: recovery here does not depend on how long the deliveries above took).
    receiver.failing = False
    store = RedisBreakerStore(redis.Redis.from_url(redis_url))
    assert delivery.deliver(events[0], url, secret, delivery=2).status == "retry"  # still open
    assert server.hits("/hooks") == CONFIG.minimum_calls
    store.reset(parse_target(server.url()).breaker_name, CONFIG)
    second = [delivery.deliver(e, url, secret, delivery=3) for e in events]
    assert {r.status for r in second} == {"delivered"}
    assert server.hits("/hooks") == CONFIG.minimum_calls + len(events)  # each event exactly once more
    assert sorted(set(receiver.verified)) == sorted(e.event_id for e in events) and receiver.forged == 0
    assert sorted(d[1] for d in outcomes.deliveries) == sorted(e.event_id for e in events)
    assert outcomes.failures == []


def test_an_answer_that_will_not_change_fails_at_once(world):
    server, _, delivery, outcomes, secret = world
    server.routes["/gone"] = Reply(410)
    result = delivery.deliver(event(1), server.url("/gone"), secret)
    assert (result.status, result.http_status) == ("failed", 410)
    assert outcomes.failures[-1][2] == "the receiver answered 410"


def test_the_last_allowed_delivery_that_fails_is_recorded_as_failed(world):
    server, receiver, delivery, outcomes, secret = world
    receiver.failing = True
    sent = event(1)
    result = delivery.deliver(sent, server.url("/hooks"), secret, delivery=50)
    assert result.status == "failed"
    assert outcomes.failures == [("cmp_1", sent.event_id, "the receiver answered 503 (gave up after 50 deliveries)")]


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/hooks", "ftp://x.test/"])
def test_a_refused_callback_url_fails_without_a_request(world, url):
    server, _, delivery, outcomes, secret = world
    assert outcomes.failures == []
    result = delivery.deliver(event(1), url, secret)
    assert result.status == "failed" and "refused" in (result.error or "")
    assert server.hits() == 0 and len(outcomes.failures) == 1


def test_a_campaign_secret_that_is_not_valid_fails_and_never_shows_itself(world):
    server, _, delivery, outcomes, _ = world
    result = delivery.deliver(event(1), server.url("/hooks"), "whsec_short")
    assert result.status == "failed" and "whsec_short" not in (result.error or "")
    assert "whsec_short" not in outcomes.failures[0][2]
    assert server.hits() == 0


def test_a_receiver_answering_2xx_with_a_huge_body_has_the_event(world):
    server, _, delivery, outcomes, secret = world
    server.routes["/chatty"] = Reply(200, body=b"x" * 1_100_000)
    sent = event(1)
    result = delivery.deliver(sent, server.url("/chatty"), secret)
    assert (result.status, result.http_status) == ("delivered", 200)
    assert outcomes.deliveries == [("cmp_1", sent.event_id, 200)]
