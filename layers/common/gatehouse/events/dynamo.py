"""The Outbox adapter on DynamoDB: one item per event, on a sharded index while it waits.

  waiting      pk=OUTBOX#<eventId>  sk=OUTBOX
               gsi1pk=OUTBOX#PENDING#<n>  gsi1sk=<createdAtMs, 13 digits>#<eventId>
               eventId, type, source, occurredAt, detail (JSON text), createdAtMs
  published    pk=OUTBOX#<eventId>  sk=OUTBOX
               eventId, type, source, occurredAt, detail (the same text), publishedAtMs, ttl

n is a hash of the event id over OUTBOX_SHARDS, so a burst of events spreads over several index
partitions (docs/data-model.md). A published event's item stays, off the index, until its `ttl`
(PUBLISHED_RETENTION_SECONDS): it is the record of what Gatehouse emitted, which the callback
consumer reads back by id instead of trusting the bus (docs/resilience.md#callbacks).

Marking is one BatchWriteItem of PutRequests (as the deletes were), which takes no condition. It
is still safe: the relay marks only events whose staging committed, with the event it staged or
read from this item, so every writer of a published item writes the same event. A commit's relay
racing the sweep's relay of the same event (the sweep read it as waiting) both publish it (each
receiver drops the copy by its event id: the callbacks' webhook-id) and both write the published
item; they differ only in `publishedAtMs` and `ttl`, by the seconds between them. Nothing ever
puts the item back on the index.
"""

from __future__ import annotations

import heapq
import json
import time
import zlib
from collections.abc import Callable, Sequence
from typing import Any, Final

from gatehouse.clients.dynamo_items import from_item, to_item
from gatehouse.events.records import PUBLISHED_RETENTION_SECONDS, LifecycleEvent
from gatehouse.transactions import Transaction

OUTBOX_SHARDS: Final = 8
_BATCH: Final = 25  # BatchWriteItem's limit


def outbox_shard(event_id: str) -> int:
    return zlib.crc32(event_id.encode()) % OUTBOX_SHARDS


class DynamoOutbox:
    """Outbox on the single table through a low-level client."""

    def __init__(self, client: Any, table_name: str, *, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._table = table_name
        self._clock = clock

    def stage(self, tx: Transaction, event: LifecycleEvent) -> None:
        created_ms = int(self._clock() * 1000)
        waiting = {
            "gsi1pk": f"OUTBOX#PENDING#{outbox_shard(event.event_id)}",
            "gsi1sk": f"{created_ms:013d}#{event.event_id}",
            "createdAtMs": created_ms,
        }
        put = {
            "TableName": self._table,
            "Item": _item(event, waiting),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        tx.add(f"event:{event.event_id}", {"Put": put})

    def unpublished(self, created_before_ms: int, limit: int) -> list[LifecycleEvent]:
        upper = f"{max(0, created_before_ms):013d}#"
        rows: list[tuple[str, LifecycleEvent]] = []
        for shard in range(OUTBOX_SHARDS):
            answer = self._client.query(
                TableName=self._table,
                IndexName="GSI1",
                KeyConditionExpression="gsi1pk = :p AND gsi1sk < :u",
                ExpressionAttributeValues={":p": {"S": f"OUTBOX#PENDING#{shard}"}, ":u": {"S": upper}},
                Limit=limit,
            )
            for item in answer.get("Items", []):
                rows.append((item["gsi1sk"]["S"], _event_from_item(item)))
        return [event for _, event in heapq.nsmallest(limit, rows, key=lambda row: row[0])]

    def mark_published(self, events: Sequence[LifecycleEvent]) -> None:
        now = self._clock()
        published = {"publishedAtMs": int(now * 1000), "ttl": int(now) + PUBLISHED_RETENTION_SECONDS}
        unique = {event.event_id: event for event in events}  # a batch may not name one key twice
        requests = [{"PutRequest": {"Item": _item(event, published)}} for event in unique.values()]
        for start in range(0, len(requests), _BATCH):
            pending: dict[str, Any] = {self._table: requests[start : start + _BATCH]}
            for _ in range(5):
                answer = self._client.batch_write_item(RequestItems=pending)
                pending = answer.get("UnprocessedItems") or {}
                if not pending:
                    break
                time.sleep(0.05)

    def recorded(self, event_id: str) -> LifecycleEvent | None:
        """The event staged under `event_id` (waiting or published), or None if Gatehouse never staged it.
        A strongly consistent read: a consumer may ask right after the commit that wrote it."""
        answer = self._client.get_item(
            TableName=self._table,
            Key={"pk": {"S": f"OUTBOX#{event_id}"}, "sk": {"S": "OUTBOX"}},
            ConsistentRead=True,
        )
        item = answer.get("Item")
        return _event_from_item(item) if item else None


def _item(event: LifecycleEvent, extra: dict[str, Any]) -> dict[str, Any]:
    return to_item(
        {
            "pk": f"OUTBOX#{event.event_id}",
            "sk": "OUTBOX",
            "eventId": event.event_id,
            "type": event.type,
            "source": event.source,
            "occurredAt": event.occurred_at,
            "detail": json.dumps(dict(event.detail), separators=(",", ":"), sort_keys=True),
            **extra,
        }
    )


def _event_from_item(item: dict[str, Any]) -> LifecycleEvent:
    values = from_item(item)
    return LifecycleEvent(
        event_id=values["eventId"],
        type=values["type"],
        source=values["source"],
        occurred_at=values["occurredAt"],
        detail=json.loads(values.get("detail") or "{}"),
    )
