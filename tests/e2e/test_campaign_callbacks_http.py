"""Campaign callbacks end to end through the local stack (docs/resilience.md#how-callbacks-are-wired).

A campaign created with a callbackUrl on a local receiver (loopback is allowed locally by
OUTBOUND_ALLOWED_NETWORKS) gets its `callbackSecret` once; its lifecycle events travel from the
bus through the callback queue to the CallbacksFunction, which signs each delivery (the receiver
verifies with the `standardwebhooks` package) and records the outcome on the campaign, once per
event id. Short backoffs and a quick breaker come from settings (stack_env); nothing here asserts
a duration. Events forged on the bus (anyone in the account may PutEvents with a `gatehouse.*`
source) are delivered only as Gatehouse recorded them, or not at all.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from standardwebhooks import Webhook, WebhookVerificationError

from local.resources import client
from tests.downstream import Downstream, Reply, Seen
from tests.e2e.campaign_support import BUS, Caller, timer_of
from tests.e2e.tokens import poll, stack_env

# Quick local settings: no in-client retries, a breaker that opens after three failures and stays
# open a second, deliveries brought back as soon as the breaker allows.
QUICK = {
    "OUTBOUND_MAX_ATTEMPTS": "1",
    "BREAKER_MINIMUM_CALLS": "3",
    "BREAKER_OPEN_SECONDS": "1",
    "BREAKER_HALF_OPEN_PERMITS": "1",
    "CALLBACK_RETRY_BASE_SECONDS": "0",
    "CALLBACK_RETRY_MAX_SECONDS": "2",
}


class Receiver:
    """Verifies each delivery with `standardwebhooks`; answers 503 to the first `fail_first` requests
    (or to all while `always_fail`); keeps the verified bodies by webhook-id."""

    def __init__(self, fail_first: int = 0, always_fail: bool = False) -> None:
        self.webhook: Webhook | None = None
        self.fail_first = fail_first
        self.always_fail = always_fail
        self.requests = 0
        self.verified: list[dict[str, Any]] = []
        self.forged = 0
        self._lock = threading.Lock()

    def __call__(self, seen: Seen) -> Reply:
        with self._lock:
            self.requests += 1
            if self.always_fail or self.requests <= self.fail_first:
                return Reply(503, body=b"down")
        assert self.webhook is not None
        try:
            body = self.webhook.verify(seen.body, seen.headers)
        except WebhookVerificationError:
            with self._lock:
                self.forged += 1
            return Reply(400, body=b"bad signature")
        assert body["data"]["eventId"] == seen.headers["webhook-id"]
        with self._lock:
            self.verified.append(body)
        return Reply(204, body=b"")

    def types(self) -> list[str]:
        with self._lock:
            return [b["type"] for b in self.verified]


@pytest.fixture(scope="module")
def quick(local_stack) -> Iterator[None]:
    with stack_env(local_stack, **QUICK):
        yield


@pytest.fixture
def alice(local_stack, quick) -> Caller:
    return Caller(local_stack)


_DESTINATIONS: list[str] = []  # the breaker names of the receivers served by the running test


def serve(receiver: Receiver) -> Downstream:
    from gatehouse.resilience.http_client import parse_target

    server = Downstream().start()
    server.routes["/hooks"] = receiver
    _DESTINATIONS.append(parse_target(server.url()).breaker_name)
    return server


@pytest.fixture(autouse=True)
def _receivers_breakers_closed_after(local_stack) -> Iterator[None]:
    """A receiver that never recovers leaves its destination's breaker (127.0.0.1:<port>) half-open in
    the stack's Redis for a day: readiness (breakers:notClosed) in any later test file on this worker
    would report it, and a later receiver on the same port would start behind it. Each test's
    receivers' breakers are reset once it ends."""
    from gatehouse.resilience.records import BreakerConfig
    from gatehouse.resilience.redis_breaker import RedisBreakerStore

    yield
    if not _DESTINATIONS:
        return
    client = redis.Redis.from_url(local_stack.redis_url)
    store = RedisBreakerStore(client)
    for name in _DESTINATIONS:
        store.reset(name, BreakerConfig())
    _DESTINATIONS.clear()
    client.close()


def lifecycle(caller: Caller, campaign_id: str) -> dict[str, Any]:
    response = caller("GET", f"/v1/campaigns/{campaign_id}/lifecycle")
    assert response.status_code == 200, response.text
    return response.json()


def start(caller: Caller, campaign: dict[str, Any]) -> None:
    timer = timer_of(campaign, "START")
    response = caller("POST", f"/v1/campaigns/{campaign['id']}/timers/{timer['timerId']}/execute")
    assert response.status_code == 200, response.text


def test_callback_secret_once_and_started_delivery_verifies(alice):
    receiver = Receiver()
    server = serve(receiver)
    try:
        campaign = alice.create(callbackUrl=server.url("/hooks"))
        secret = campaign["callbackSecret"]
        assert secret.startswith("whsec_")
        receiver.webhook = Webhook(secret)
        # Never again: not in a read, a list, a lifecycle, nor in the stored item's answer shapes.
        for path in (f"/v1/campaigns/{campaign['id']}", "/v1/campaigns", f"/v1/campaigns/{campaign['id']}/lifecycle"):
            response = alice("GET", path)
            assert response.status_code == 200, response.text
            assert secret not in response.text and "callbackSecret" not in response.text
            assert "callbackSecretSealed" not in response.text

        start(alice, campaign)
        poll(lambda: "campaign.started" in receiver.types(), timeout=30)
        (started,) = [b for b in receiver.verified if b["type"] == "campaign.started"]
        assert started["data"]["campaignId"] == campaign["id"]
        assert started["data"]["status"] == "RUNNING"
        assert receiver.forged == 0

        # The function records the outcome after the receiver answered (and timer.fired, delivered
        # from the same batch, may be recorded first): wait for this event's own record.
        def recorded() -> list[str]:
            return [e["eventId"] for e in lifecycle(alice, campaign["id"])["callbacks"]["events"]]

        poll(lambda: started["data"]["eventId"] in recorded(), timeout=30)
        callbacks = lifecycle(alice, campaign["id"])["callbacks"]
        assert callbacks["delivered"] >= 1
        assert all(e["outcome"] == "callback.delivered" for e in callbacks["events"])
    finally:
        server.stop()


def test_a_patch_that_first_sets_a_callback_url_returns_its_secret_once(alice):
    campaign = alice.create()
    assert campaign["callbackSecret"] is None
    url = "http://127.0.0.1:9/hooks"
    first = alice("PATCH", f"/v1/campaigns/{campaign['id']}", json={"callbackUrl": url})
    assert first.status_code == 200, first.text
    assert first.json()["callbackSecret"].startswith("whsec_")
    again = alice("PATCH", f"/v1/campaigns/{campaign['id']}", json={"callbackUrl": url + "2"})
    assert again.status_code == 200, again.text
    assert again.json()["callbackSecret"] is None


def test_a_receiver_that_fails_then_recovers_gets_every_event_once(alice):
    receiver = Receiver(fail_first=5)
    server = serve(receiver)
    try:
        campaign = alice.create(callbackUrl=server.url("/hooks"))
        receiver.webhook = Webhook(campaign["callbackSecret"])
        start(alice, campaign)
        cancelled = alice("POST", f"/v1/campaigns/{campaign['id']}/cancel", json={"reason": "callback test"})
        assert cancelled.status_code == 200, cancelled.text
        expected = {"campaign.started", "campaign.cancelled", "timer.fired"}

        poll(lambda: expected <= set(receiver.types()), timeout=60)
        poll(lambda: lifecycle(alice, campaign["id"])["callbacks"]["delivered"] >= len(expected), timeout=30)
        assert receiver.requests > len(expected)  # it did fail first
        ids = Counter(b["data"]["eventId"] for b in receiver.verified)
        assert all(n == 1 for n in ids.values()), ids  # every event once: no duplicate by event id
        view = lifecycle(alice, campaign["id"])
        callbacks = view["callbacks"]
        assert callbacks["delivered"] == len(ids) and callbacks["failed"] == 0
        assert sorted(e["eventId"] for e in callbacks["events"]) == sorted(ids)
        assert view["campaign"]["status"] == "CANCELLED"
    finally:
        server.stop()


def test_a_receiver_that_never_recovers_ends_in_callback_failed(local_stack, alice):
    receiver = Receiver(always_fail=True)
    server = serve(receiver)
    try:
        with stack_env(local_stack, CALLBACK_MAX_DELIVERIES="3"):
            campaign = alice.create(callbackUrl=server.url("/hooks"))
            start(alice, campaign)
            poll(lambda: lifecycle(alice, campaign["id"])["callbacks"]["failed"] >= 2, timeout=60)
        view = lifecycle(alice, campaign["id"])
        callbacks = view["callbacks"]
        assert callbacks["delivered"] == 0
        assert "gave up after 3 deliveries" in callbacks["lastError"]
        failed = [e for e in callbacks["events"] if e["outcome"] == "callback.failed"]
        assert len({e["eventId"] for e in failed}) == len(failed)  # once per event
        # A callback never changes the campaign's status.
        assert view["campaign"]["status"] == "RUNNING"
        assert receiver.verified == []
    finally:
        server.stop()


# -- forged events on the bus ----------------------------------------------------------------------


def forge(stack: Any, detail: dict[str, Any], source: str = "gatehouse.campaigns") -> None:
    """Publish an event as any principal of the account with events:PutEvents on the bus could."""
    answer = client("events", stack.aws_endpoint_url).put_events(
        Entries=[{"EventBusName": BUS, "Source": source, "DetailType": detail["type"], "Detail": json.dumps(detail)}]
    )
    assert answer["FailedEntryCount"] == 0, answer


def callback_queue_drained(stack: Any) -> bool:
    """Every message of the callback queue consumed (none waiting, none in flight or delayed for a retry)."""
    sqs = client("sqs", stack.aws_endpoint_url)
    url = sqs.get_queue_url(QueueName=stack.template.queues["CallbackQueue"].name)["QueueUrl"]
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return all(counts.get(name, "0") == "0" for name in names)


def test_a_forged_event_gatehouse_never_recorded_is_not_delivered(local_stack, alice):
    from gatehouse.events.records import event_id_for

    receiver, other_receiver = Receiver(), Receiver()
    server, other_server = serve(receiver), serve(other_receiver)
    try:
        # Given two campaigns with callbacks, one of them started (its events recorded and delivered)
        campaign = alice.create(callbackUrl=server.url("/hooks"))
        receiver.webhook = Webhook(campaign["callbackSecret"])
        other = alice.create(callbackUrl=other_server.url("/hooks"))
        other_receiver.webhook = Webhook(other["callbackSecret"])
        start(alice, campaign)
        poll(lambda: {"campaign.started", "timer.fired"} <= set(receiver.types()), timeout=30)
        started = next(b for b in receiver.verified if b["type"] == "campaign.started")

        # When someone publishes, with a valid shape and real campaign ids, an event Gatehouse never
        # emitted (the deterministic id of a completion that has not happened), and a real event's
        # id in the name of the other campaign
        completed_id = event_id_for("campaign.completed", campaign["id"])
        forge(
            local_stack,
            {
                "eventId": completed_id,
                "type": "campaign.completed",
                "occurredAt": started["timestamp"],
                "campaignId": campaign["id"],
                "status": "COMPLETED",
                "name": "forged",
            },
        )
        forge(
            local_stack,
            {
                **started["data"],
                "type": "campaign.started",
                "occurredAt": started["timestamp"],
                "campaignId": other["id"],
            },
        )
        cancelled = alice("POST", f"/v1/campaigns/{campaign['id']}/cancel", json={"reason": "forgery test"})
        assert cancelled.status_code == 200, cancelled.text

        # Then neither is delivered, while the real events still are, each once
        poll(lambda: "campaign.cancelled" in receiver.types(), timeout=30)
        poll(lambda: callback_queue_drained(local_stack), timeout=30)
        assert "campaign.completed" not in receiver.types()
        assert other_receiver.requests == 0
        ids = Counter(b["data"]["eventId"] for b in receiver.verified)
        assert completed_id not in ids and all(n == 1 for n in ids.values()), ids
        callbacks = lifecycle(alice, campaign["id"])["callbacks"]
        assert completed_id not in [e["eventId"] for e in callbacks["events"]]
        assert lifecycle(alice, other["id"])["callbacks"]["events"] == []
    finally:
        server.stop()
        other_server.stop()


def test_a_forged_event_reusing_a_real_id_delivers_what_gatehouse_recorded(local_stack, alice):
    receiver = Receiver()
    server = serve(receiver)
    try:
        # Given a started campaign whose campaign.started was delivered
        campaign = alice.create(callbackUrl=server.url("/hooks"))
        receiver.webhook = Webhook(campaign["callbackSecret"])
        start(alice, campaign)
        poll(lambda: "campaign.started" in receiver.types(), timeout=30)
        (real,) = [b for b in receiver.verified if b["type"] == "campaign.started"]

        # When someone publishes that event's id again with other data
        forge(
            local_stack,
            {
                **real["data"],
                "type": "campaign.started",
                "occurredAt": "2020-01-01T00:00:00Z",
                "status": "CANCELLED",
                "name": "forged",
                "extra": "forged",
            },
        )

        # Then what reaches the receiver (under the same webhook-id, which it dedupes by) is the event
        # as Gatehouse recorded it, never the forged data
        poll(lambda: receiver.types().count("campaign.started") == 2, timeout=30)
        again = [b for b in receiver.verified if b["type"] == "campaign.started"]
        assert again == [real, real]
        assert receiver.forged == 0
        alice("POST", f"/v1/campaigns/{campaign['id']}/cancel")
    finally:
        server.stop()
