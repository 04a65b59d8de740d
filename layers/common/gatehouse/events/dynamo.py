"""The Outbox adapter on DynamoDB: one item per waiting event, on a sharded index of what waits.

  outbox item  pk=OUTBOX#<eventId>  sk=OUTBOX
               gsi1pk=OUTBOX#PENDING#<n>  gsi1sk=<createdAtMs, 13 digits>#<eventId>
               eventId, type, source, occurredAt, detail (JSON text), createdAtMs

n is a hash of the event id over OUTBOX_SHARDS, so a burst of events spreads over several index
partitions (docs/data-model.md). A published event's item is deleted: the state log keeps the
history, and the id is deterministic, so the same event can never be staged twice anyway.
"""

from __future__ import annotations

import heapq
import json
import time
import zlib
from collections.abc import Callable, Sequence
from typing import Any, Final

from gatehouse.clients.dynamo_items import from_item, to_item
from gatehouse.events.records import LifecycleEvent
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
        item = to_item(
            {
                "pk": f"OUTBOX#{event.event_id}",
                "sk": "OUTBOX",
                "gsi1pk": f"OUTBOX#PENDING#{outbox_shard(event.event_id)}",
                "gsi1sk": f"{created_ms:013d}#{event.event_id}",
                "eventId": event.event_id,
                "type": event.type,
                "source": event.source,
                "occurredAt": event.occurred_at,
                "detail": json.dumps(dict(event.detail), separators=(",", ":"), sort_keys=True),
                "createdAtMs": created_ms,
            }
        )
        put = {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}
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

    def remove(self, event_ids: Sequence[str]) -> None:
        requests = [
            {"DeleteRequest": {"Key": {"pk": {"S": f"OUTBOX#{event_id}"}, "sk": {"S": "OUTBOX"}}}}
            for event_id in event_ids
        ]
        for start in range(0, len(requests), _BATCH):
            pending: dict[str, Any] = {self._table: requests[start : start + _BATCH]}
            for _ in range(5):
                answer = self._client.batch_write_item(RequestItems=pending)
                pending = answer.get("UnprocessedItems") or {}
                if not pending:
                    break
                time.sleep(0.05)


def _event_from_item(item: dict[str, Any]) -> LifecycleEvent:
    values = from_item(item)
    return LifecycleEvent(
        event_id=values["eventId"],
        type=values["type"],
        source=values["source"],
        occurred_at=values["occurredAt"],
        detail=json.loads(values.get("detail") or "{}"),
    )
