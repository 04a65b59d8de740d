"""The TimerStore adapter on DynamoDB: a timer item and its log in the owner's partition, the sharded due index.

  timer      pk=<KIND>#<ownerId>  sk=TIMER#<timerId>
             gsi2pk=TIMER#DUE#<n>  gsi2sk=<attention time, RFC 3339>#<timerId>   (only while PENDING or RUNNING)
  timer log  pk=<KIND>#<ownerId>  sk=TLOG#<timerId>#<version, 6 digits>

n = crc32(timerId) mod TIMER_SHARDS. The attention time is the due time of a PENDING timer and
the lease end of a RUNNING one: the sweep reads "what needs attention before t" with one range
query per shard, never a scan. A timer leaves the index (the two attributes are dropped) when it
completes, fails or is cancelled. Every write is a Put conditioned on the stored version, staged
on the caller's transaction together with its log entry (docs/data-model.md).
"""

from __future__ import annotations

from typing import Any, Final

from gatehouse.clients.dynamo_items import from_item, to_item
from gatehouse.timers.records import IndexPage, Timer, TimerLogEntry, owner_partition
from gatehouse.transactions import Transaction

_FIELDS: Final = (
    ("timer_id", "timerId"),
    ("owner_kind", "ownerKind"),
    ("owner_id", "ownerId"),
    ("timer_type", "timerType"),
    ("status", "status"),
    ("scheduled_at", "scheduledAt"),
    ("due_at", "dueAt"),
    ("generation", "generation"),
    ("version", "version"),
    ("max_retries", "maxRetries"),
    ("created_at", "createdAt"),
    ("updated_at", "updatedAt"),
    ("retry_count", "retryCount"),
    ("executed_at_ms", "executedAtMs"),
    ("lateness_ms", "latenessMs"),
    ("fired_by", "firedBy"),
    ("outcome", "outcome"),
    ("last_error", "lastError"),
    ("attempt_id", "attemptId"),
    ("lease_until", "leaseUntil"),
    ("finished_at", "finishedAt"),
    ("cancel_reason", "cancelReason"),
)
_LOG_FIELDS: Final = (
    ("timer_id", "timerId"),
    ("version", "version"),
    ("at_ms", "atMs"),
    ("from_status", "fromStatus"),
    ("to_status", "toStatus"),
    ("trigger", "trigger"),
    ("actor", "actor"),
    ("generation", "generation"),
    ("detail", "detail"),
)


def timer_item(timer: Timer) -> dict[str, Any]:
    values: dict[str, Any] = {
        "pk": owner_partition(timer.owner_kind, timer.owner_id),
        "sk": f"TIMER#{timer.timer_id}",
    }
    if timer.is_open:
        values["gsi2pk"] = f"TIMER#DUE#{timer.shard}"
        values["gsi2sk"] = timer.index_key
    values.update({attr: getattr(timer, name) for name, attr in _FIELDS})
    return to_item(values)


def timer_from_item(item: dict[str, Any]) -> Timer:
    values = from_item(item)
    fields: dict[str, Any] = {name: values.get(attr) for name, attr in _FIELDS}
    return Timer(**fields)


def log_item(owner_kind: str, owner_id: str, entry: TimerLogEntry) -> dict[str, Any]:
    values: dict[str, Any] = {
        "pk": owner_partition(owner_kind, owner_id),
        "sk": f"TLOG#{entry.timer_id}#{entry.version:06d}",
    }
    values.update({attr: getattr(entry, name) for name, attr in _LOG_FIELDS})
    return to_item(values)


def log_from_item(item: dict[str, Any]) -> TimerLogEntry:
    values = from_item(item)
    fields: dict[str, Any] = {name: values.get(attr) for name, attr in _LOG_FIELDS}
    return TimerLogEntry(**fields)


class DynamoTimerStore:
    """TimerStore on the single table through a low-level client."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def stage_write(self, tx: Transaction, before: Timer | None, after: Timer, entry: TimerLogEntry) -> None:
        put: dict[str, Any] = {"TableName": self._table, "Item": timer_item(after)}
        if before is None:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "#version = :version"
            put["ExpressionAttributeNames"] = {"#version": "version"}
            put["ExpressionAttributeValues"] = {":version": {"N": str(before.version)}}
        tx.add(f"timer:{after.timer_id}", {"Put": put})
        tx.add(
            f"timerlog:{after.timer_id}",
            {
                "Put": {
                    "TableName": self._table,
                    "Item": log_item(after.owner_kind, after.owner_id, entry),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        )

    def get(self, owner_kind: str, owner_id: str, timer_id: str) -> Timer | None:
        answer = self._client.get_item(
            TableName=self._table,
            Key={"pk": {"S": owner_partition(owner_kind, owner_id)}, "sk": {"S": f"TIMER#{timer_id}"}},
            ConsistentRead=True,  # the claim is conditioned on what this read saw
        )
        item = answer.get("Item")
        return timer_from_item(item) if item else None

    def list_for_owner(self, owner_kind: str, owner_id: str) -> list[Timer]:
        return [timer_from_item(i) for i in self._prefix(owner_partition(owner_kind, owner_id), "TIMER#")]

    def log_for_owner(self, owner_kind: str, owner_id: str) -> list[TimerLogEntry]:
        return [log_from_item(i) for i in self._prefix(owner_partition(owner_kind, owner_id), "TLOG#")]

    def due_page(self, shard: int, after: str | None, upper: str, limit: int) -> IndexPage:
        # BETWEEN is inclusive: the item at `after` itself comes back first and is dropped here.
        answer = self._client.query(
            TableName=self._table,
            IndexName="GSI2",
            KeyConditionExpression="gsi2pk = :p AND gsi2sk BETWEEN :lo AND :hi",
            ExpressionAttributeValues={
                ":p": {"S": f"TIMER#DUE#{shard}"},
                ":lo": {"S": after or "0"},
                ":hi": {"S": upper},
            },
            Limit=limit + 1,
        )
        items = [i for i in answer.get("Items", []) if i["gsi2sk"]["S"] != after]
        more = len(items) > limit or bool(answer.get("LastEvaluatedKey"))
        return IndexPage([timer_from_item(i) for i in items[:limit]], more)

    def _prefix(self, partition: str, prefix: str) -> list[dict[str, Any]]:
        """Every item of one partition under a sort-key prefix (an owner has a bounded number of timers)."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :p AND begins_with(sk, :s)",
            "ExpressionAttributeValues": {":p": {"S": partition}, ":s": {"S": prefix}},
            "ConsistentRead": True,
        }
        items: list[dict[str, Any]] = []
        while True:
            answer = self._client.query(**request)
            items.extend(answer.get("Items", []))
            if not answer.get("LastEvaluatedKey"):
                return items
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
