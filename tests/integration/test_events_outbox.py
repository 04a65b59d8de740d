"""The outbox on DynamoDB Local: a published event stays as the record of what Gatehouse emitted.

After publication its item leaves the pending index (the sweep never sends it again) and carries a
TTL; the callback consumer reads it back by id (docs/timers.md, "Events never lost").
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

import pytest

from gatehouse.events.records import LifecycleEvent

pytestmark = pytest.mark.integration


class Bus:
    """A publisher that accepts everything (or nothing) and remembers what it sent."""

    def __init__(self, accept: bool = True) -> None:
        self.accept = accept
        self.sent: list[LifecycleEvent] = []

    def publish(self, events: Sequence[LifecycleEvent]) -> set[str]:
        self.sent.extend(events)
        return {e.event_id for e in events} if self.accept else set()


def an_event(**detail: Any) -> LifecycleEvent:
    campaign_id = f"cmp_{uuid.uuid4().hex[:16].upper()}"
    return LifecycleEvent(
        event_id=str(uuid.uuid4()),
        type="campaign.started",
        source="gatehouse.campaigns",
        occurred_at="2026-11-26T10:00:00Z",
        detail={"campaignId": campaign_id, "status": "RUNNING", "name": "naïve ☃", "target": 3, **detail},
    )


@pytest.fixture
def outbox(local_stack) -> Any:
    from gatehouse.clients.dynamo import dynamodb_client, table_name
    from gatehouse.events.dynamo import DynamoOutbox
    from gatehouse.wiring import reset

    local_stack.activate()  # the stack's endpoints, whatever a test before this one left wired
    reset()
    return DynamoOutbox(dynamodb_client(), table_name())


def commit(outbox: Any, events: Sequence[LifecycleEvent]) -> None:
    from gatehouse.clients.dynamo import dynamodb_client
    from gatehouse.clients.dynamo_transaction import DynamoTransaction

    tx = DynamoTransaction(dynamodb_client())
    for event in events:
        outbox.stage(tx, event)
    tx.commit()


def raw_item(event_id: str) -> dict[str, Any] | None:
    from gatehouse.clients.dynamo import dynamodb_client, table_name

    key = {"pk": {"S": f"OUTBOX#{event_id}"}, "sk": {"S": "OUTBOX"}}
    return dynamodb_client().get_item(TableName=table_name(), Key=key, ConsistentRead=True).get("Item")


def test_a_published_event_leaves_the_pending_index_and_stays_readable_until_its_ttl(outbox):
    from gatehouse.events.service import EventRelay

    # Given an event committed to the outbox
    event = an_event()
    commit(outbox, [event])
    assert "gsi1pk" in (raw_item(event.event_id) or {})

    # When the relay publishes it
    before = time.time()
    report = EventRelay(outbox, Bus()).publish([event])

    # Then its item is still there, off the pending index, expiring after the retention
    assert report.published == 1
    item = raw_item(event.event_id)
    assert item is not None
    assert "gsi1pk" not in item and "gsi1sk" not in item
    from gatehouse.events.records import PUBLISHED_RETENTION_SECONDS

    ttl = int(item["ttl"]["N"])
    assert int(before) + PUBLISHED_RETENTION_SECONDS <= ttl <= time.time() + PUBLISHED_RETENTION_SECONDS
    assert PUBLISHED_RETENTION_SECONDS >= 14 * 86400  # the callback queues keep a message up to 14 days
    # the sweep's relay no longer sees it,
    assert event.event_id not in {e.event_id for e in outbox.unpublished(int(time.time() * 1000) + 1000, 500)}
    # and reading it back by id answers the event exactly as staged.
    assert outbox.recorded(event.event_id) == event
    assert outbox.recorded(str(uuid.uuid4())) is None


def test_an_event_the_bus_refused_stays_pending_without_a_ttl(outbox):
    from gatehouse.events.service import EventRelay

    event = an_event()
    commit(outbox, [event])
    assert EventRelay(outbox, Bus(accept=False)).publish([event]).failed == 1
    item = raw_item(event.event_id)
    assert item is not None and "gsi1pk" in item and "ttl" not in item
    assert event.event_id in {e.event_id for e in outbox.unpublished(int(time.time() * 1000) + 1000, 500)}


def test_a_commits_relay_racing_the_sweeps_relay_leaves_the_one_recorded_event(outbox):
    from gatehouse.events.service import EventRelay

    # Given events committed, which the sweep has read as pending while their commit's relay publishes them
    events = [an_event(), an_event(reason="x" * 300)]
    commit(outbox, events)
    seen_by_sweep = [e for e in outbox.unpublished(int(time.time() * 1000) + 1000, 500) if e in events]
    assert sorted(e.event_id for e in seen_by_sweep) == sorted(e.event_id for e in events)

    # When both relays publish and mark them, in either order
    EventRelay(outbox, Bus()).publish(events)
    EventRelay(outbox, Bus()).publish(seen_by_sweep)

    # Then each is published (twice: consumers drop the copy by id) and recorded once, as staged
    for event in events:
        item = raw_item(event.event_id)
        assert item is not None and "gsi1pk" not in item and "ttl" in item
        assert outbox.recorded(event.event_id) == event
