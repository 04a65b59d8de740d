"""The webhook stores on the single table: source items, event items, and their list cursors.

Items (docs/data-model.md):

  source  pk=WHSRC#<name> sk=WHSRC  gsi2pk=WHSRC gsi2sk=<name>
          scheme, toleranceSeconds, maxBodyBytes, eventTypePath?, enabled, createdAt, updatedAt,
          secrets (L of {kind, addedAt, expiresAt?}), sealedSecrets (B, KMS envelope), version
  event   pk=WHEVT#<eventId> sk=WHEVT
          gsi1pk=WHSRC#<source> gsi1sk=<receivedAt>#<eventId>    (a source's events, newest first)
          gsi2pk=WHSTATUS#<status> gsi2sk=<receivedAt>#<eventId> (events in a status, newest first)
          id, source, deliveryId, type, status, receivedAt, body (B, exactly as received), headers (M),
          ttl, generation, dispatch? (N: present when the write asks for processing; the dispatch
          pipe forwards exactly those), attempts, lastError?, processedAt?, failedAt?, replayCount,
          leaseUntil?, leaseToken?, steps (SS)?

The event id is a hash of (source, delivery id), so `accept` is ONE conditional PutItem that
stores the delivery and refuses its duplicates; every status change is a conditional update.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any, Final

from botocore.exceptions import ClientError

from gatehouse.clients.dynamo_items import from_item, to_attribute, to_item
from gatehouse.errors import ConflictError, ValidationError
from gatehouse.times import to_rfc3339
from gatehouse.webhooks.records import (
    EVENT_ID,
    FAILED,
    PROCESSED,
    RECEIVED,
    SOURCE_NAME,
    STATUSES,
    EventFilter,
    EventPage,
    SecretMeta,
    SourcePage,
    SourceRecord,
    WebhookEvent,
)

_RFC3339: Final = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
MAX_QUERIES_PER_PARTITION: Final = 4


def _conditional_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _values(values: dict[str, Any]) -> dict[str, Any]:
    return {f":{k}": to_attribute(v) for k, v in values.items()}


def _binary(value: Any) -> bytes:
    return bytes(value.value if hasattr(value, "value") else value)


# --- cursors ----------------------------------------------------------------------------------


def _encode_cursor(state: Any) -> str:
    raw = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _invalid_cursor() -> ValidationError:
    return ValidationError("The cursor is not valid.", details=[{"field": "cursor", "message": "invalid"}])


def _decode_cursor(cursor: str) -> Any:
    if len(cursor) > 4096:
        raise _invalid_cursor()
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise _invalid_cursor() from None


# --- sources ----------------------------------------------------------------------------------


def source_item(record: SourceRecord) -> dict[str, Any]:
    item = to_item(
        {
            "pk": f"WHSRC#{record.name}",
            "sk": "WHSRC",
            "gsi2pk": "WHSRC",
            "gsi2sk": record.name,
            "name": record.name,
            "scheme": record.scheme,
            "toleranceSeconds": record.tolerance_seconds,
            "maxBodyBytes": record.max_body_bytes,
            "eventTypePath": record.event_type_path,
            "enabled": record.enabled,
            "createdAt": record.created_at,
            "updatedAt": record.updated_at,
            "secrets": [{"kind": m.kind, "addedAt": m.added_at, "expiresAt": m.expires_at} for m in record.secrets],
            "version": record.version,
        }
    )
    item["sealedSecrets"] = {"B": record.sealed_secrets}
    return item


def source_from_item(item: dict[str, Any]) -> SourceRecord:
    values = from_item({k: v for k, v in item.items() if k != "sealedSecrets"})
    return SourceRecord(
        name=values["name"],
        scheme=values["scheme"],
        tolerance_seconds=int(values["toleranceSeconds"]),
        max_body_bytes=int(values["maxBodyBytes"]),
        event_type_path=values.get("eventTypePath"),
        enabled=bool(values.get("enabled", False)),
        created_at=values["createdAt"],
        updated_at=values["updatedAt"],
        secrets=tuple(
            SecretMeta(kind=s["kind"], added_at=int(s["addedAt"]), expires_at=s.get("expiresAt"))
            for s in values.get("secrets") or []
        ),
        sealed_secrets=item["sealedSecrets"]["B"],
        version=int(values.get("version", 1)),
    )


class DynamoSourceStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def get(self, name: str) -> SourceRecord | None:
        item = self._client.get_item(
            TableName=self._table, Key={"pk": {"S": f"WHSRC#{name}"}, "sk": {"S": "WHSRC"}}, ConsistentRead=True
        ).get("Item")
        return source_from_item(item) if item else None

    def put(self, record: SourceRecord, *, expected_version: int) -> bool:
        request: dict[str, Any] = {"TableName": self._table, "Item": source_item(record)}
        if expected_version == 0:
            request["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            request["ConditionExpression"] = "version = :v"
            request["ExpressionAttributeValues"] = {":v": {"N": str(expected_version)}}
        try:
            self._client.put_item(**request)
        except ClientError as error:
            if _conditional_failed(error):
                raise ConflictError("The source changed concurrently; try again.") from None
            raise
        return expected_version == 0

    def delete(self, name: str) -> bool:
        answer = self._client.delete_item(
            TableName=self._table,
            Key={"pk": {"S": f"WHSRC#{name}"}, "sk": {"S": "WHSRC"}},
            ReturnValues="ALL_OLD",
        )
        return bool(answer.get("Attributes"))

    def list_sources(self, limit: int, cursor: str | None) -> SourcePage:
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "GSI2",
            "KeyConditionExpression": "gsi2pk = :p",
            "ExpressionAttributeValues": {":p": {"S": "WHSRC"}},
            "Limit": limit + 1,
        }
        if cursor:
            request["ExclusiveStartKey"] = self._source_start(cursor)
        items = self._client.query(**request).get("Items", [])
        records = [source_from_item(i) for i in items[:limit]]
        next_cursor = _encode_cursor({"after": records[-1].name}) if len(items) > limit else None
        return SourcePage(records, next_cursor)

    @staticmethod
    def _source_start(cursor: str) -> dict[str, Any]:
        state = _decode_cursor(cursor)
        name = state.get("after") if isinstance(state, dict) and set(state) == {"after"} else None
        if not isinstance(name, str) or not SOURCE_NAME.fullmatch(name):
            raise _invalid_cursor()
        return {
            "pk": {"S": f"WHSRC#{name}"},
            "sk": {"S": "WHSRC"},
            "gsi2pk": {"S": "WHSRC"},
            "gsi2sk": {"S": name},
        }


# --- events -----------------------------------------------------------------------------------


def _sort_key(event: WebhookEvent) -> str:
    return f"{event.received_at}#{event.id}"


def event_item(event: WebhookEvent) -> dict[str, Any]:
    item = to_item(
        {
            "pk": f"WHEVT#{event.id}",
            "sk": "WHEVT",
            "gsi1pk": f"WHSRC#{event.source}",
            "gsi1sk": _sort_key(event),
            "gsi2pk": f"WHSTATUS#{event.status}",
            "gsi2sk": _sort_key(event),
            "id": event.id,
            "source": event.source,
            "deliveryId": event.delivery_id,
            "type": event.event_type,
            "status": event.status,
            "receivedAt": event.received_at,
            "headers": dict(event.headers),
            "ttl": event.expires_at,
            "generation": event.generation,
            "attempts": event.attempts,
            "replayCount": event.replay_count,
        }
    )
    item["body"] = {"B": event.body}
    if event.status == RECEIVED:
        item["dispatch"] = {"N": str(event.generation)}
    return item


def event_from_item(item: dict[str, Any]) -> WebhookEvent:
    values = from_item({k: v for k, v in item.items() if k != "body"})
    return WebhookEvent(
        id=values["id"],
        source=values["source"],
        delivery_id=values["deliveryId"],
        event_type=values.get("type") or "unknown",
        status=values["status"],
        received_at=values["receivedAt"],
        body=_binary(item["body"]["B"]) if "body" in item else b"",
        headers={str(k): str(v) for k, v in (values.get("headers") or {}).items()},
        expires_at=int(values.get("ttl") or 0),
        generation=int(values.get("generation", 1)),
        attempts=int(values.get("attempts", 0)),
        last_error=values.get("lastError"),
        processed_at=values.get("processedAt"),
        failed_at=values.get("failedAt"),
        replay_count=int(values.get("replayCount", 0)),
        lease_until=values.get("leaseUntil"),
        lease_token=values.get("leaseToken"),
        steps_done=frozenset(values.get("steps") or ()),
    )


class _Partition:
    """One partition of an index that a list reads, with where it resumes."""

    def __init__(self, name: str, start: dict[str, str] | None) -> None:
        self.name = name
        self.start = start  # None: from the top
        self.matched: list[dict[str, Any]] = []
        self.last_key: dict[str, Any] | None = None


class DynamoEventStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def _key(self, event_id: str) -> dict[str, Any]:
        return {"pk": {"S": f"WHEVT#{event_id}"}, "sk": {"S": "WHEVT"}}

    def accept(self, event: WebhookEvent) -> bool:
        try:
            self._client.put_item(
                TableName=self._table, Item=event_item(event), ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as error:
            if _conditional_failed(error):
                return False
            raise
        return True

    def get(self, event_id: str) -> WebhookEvent | None:
        item = self._client.get_item(TableName=self._table, Key=self._key(event_id), ConsistentRead=True).get("Item")
        return event_from_item(item) if item else None

    def _update(self, event_id: str, expression: str, condition: str, values: dict[str, Any]) -> dict[str, Any] | None:
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key=self._key(event_id),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames={n: n[1:] for n in ("#status", "#ttl") if n in expression + condition},
                ExpressionAttributeValues=_values(values),
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if _conditional_failed(error):
                return None
            raise
        return answer.get("Attributes")

    def claim(self, event_id: str, generation: int, token: str, now: int, lease_seconds: int) -> WebhookEvent | None:
        item = self._update(
            event_id,
            "SET leaseUntil = :until, leaseToken = :token, attempts = if_not_exists(attempts, :zero) + :one "
            "REMOVE dispatch",
            "#status = :received AND generation = :gen AND (attribute_not_exists(leaseUntil) OR leaseUntil <= :now)",
            {
                "until": now + lease_seconds,
                "token": token,
                "zero": 0,
                "one": 1,
                "received": RECEIVED,
                "gen": generation,
                "now": now,
            },
        )
        return event_from_item(item) if item else None

    def mark_step(self, event_id: str, token: str, step: str) -> bool:
        item = self._update(
            event_id,
            "ADD steps :step",
            "leaseToken = :token AND #status = :received",
            {"step": {step}, "token": token, "received": RECEIVED},
        )
        return item is not None

    def complete(self, event_id: str, token: str, now: int) -> bool:
        item = self._update(
            event_id,
            "SET #status = :done, processedAt = :at, gsi2pk = :gsi2 REMOVE leaseUntil, leaseToken",
            "leaseToken = :token AND #status = :received",
            {
                "done": PROCESSED,
                "at": to_rfc3339(now),
                "gsi2": f"WHSTATUS#{PROCESSED}",
                "token": token,
                "received": RECEIVED,
            },
        )
        return item is not None

    def fail(self, event_id: str, token: str, now: int, error: str, *, final: bool) -> bool:
        values: dict[str, Any] = {"token": token, "received": RECEIVED, "error": error}
        if final:
            expression = (
                "SET #status = :failed, failedAt = :at, lastError = :error, gsi2pk = :gsi2 "
                "REMOVE leaseUntil, leaseToken"
            )
            values.update({"failed": FAILED, "at": to_rfc3339(now), "gsi2": f"WHSTATUS#{FAILED}"})
        else:
            expression = "SET lastError = :error REMOVE leaseUntil, leaseToken"
        return self._update(event_id, expression, "leaseToken = :token AND #status = :received", values) is not None

    def replay(self, event_id: str, generation: int, now: int, expires_at: int) -> WebhookEvent | None:
        item = self._update(
            event_id,
            "SET #status = :received, generation = :next, dispatch = :next, attempts = :zero, "
            "replayCount = if_not_exists(replayCount, :zero) + :one, replayedAt = :at, gsi2pk = :gsi2, #ttl = :ttl "
            "REMOVE processedAt, failedAt, lastError, steps, leaseUntil, leaseToken",
            "generation = :gen AND #status IN (:processed, :failed)",
            {
                "received": RECEIVED,
                "next": generation + 1,
                "zero": 0,
                "one": 1,
                "at": to_rfc3339(now),
                "gsi2": f"WHSTATUS#{RECEIVED}",
                "ttl": expires_at,
                "gen": generation,
                "processed": PROCESSED,
                "failed": FAILED,
            },
        )
        return event_from_item(item) if item else None

    # --- lists -------------------------------------------------------------------------------

    def list_events(self, wanted: EventFilter, limit: int, cursor: str | None) -> EventPage:
        if wanted.source is not None:
            index, pk_attr, sk_attr = "GSI1", "gsi1pk", "gsi1sk"
            names = [f"WHSRC#{wanted.source}"]
        else:
            index, pk_attr, sk_attr = "GSI2", "gsi2pk", "gsi2sk"
            statuses = [wanted.status] if wanted.status else list(STATUSES)
            names = [f"WHSTATUS#{s}" for s in statuses]
        partitions = self._resume(names, cursor, pk_attr, sk_attr)
        filters, values = [], {}
        if wanted.source is not None and wanted.status is not None:
            filters.append("#status = :status")
            values[":status"] = {"S": wanted.status}
        if wanted.event_type is not None:
            filters.append("#type = :type")
            values[":type"] = {"S": wanted.event_type}
        for partition in partitions:
            if partition is not None:
                self._fill(
                    partition, index=index, pk_attr=pk_attr, limit=limit, filters=" AND ".join(filters), values=values
                )
        live = [p for p in partitions if p is not None]
        merged = sorted(
            ((item[sk_attr]["S"], p.name, item) for p in live for item in p.matched), key=lambda t: t[0], reverse=True
        )[:limit]
        page = [event_from_item(item) for _, _, item in merged]
        state: dict[str, Any] = {}
        for partition, name in zip(partitions, names, strict=True):
            state[name] = None if partition is None else self._next_start(partition, merged, pk_attr, sk_attr)
        more = any(v is not None for v in state.values())
        return EventPage(page, _encode_cursor({"p": state}) if more else None)

    def _fill(
        self, partition: _Partition, *, index: str, pk_attr: str, limit: int, filters: str, values: dict[str, Any]
    ) -> None:
        """Read the partition newest first until it yields more than `limit` matches, ends, or the
        query budget is spent (a filtered page may then come back short, with a cursor)."""
        start: dict[str, Any] | None = (
            {k: {"S": v} for k, v in partition.start.items()} if partition.start is not None else None
        )
        for _ in range(MAX_QUERIES_PER_PARTITION):
            request: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": index,
                "KeyConditionExpression": f"{pk_attr} = :p",
                "ExpressionAttributeValues": {":p": {"S": partition.name}, **values},
                "ScanIndexForward": False,
                "Limit": limit + 1,
            }
            if filters:
                request["FilterExpression"] = filters
                request["ExpressionAttributeNames"] = {n: n[1:] for n in ("#status", "#type") if n in filters}
            if start is not None:
                request["ExclusiveStartKey"] = start
            try:
                answer = self._client.query(**request)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") == "ValidationException" and partition.start:
                    raise _invalid_cursor() from None
                raise
            partition.matched.extend(answer.get("Items", []))
            start = answer.get("LastEvaluatedKey")
            partition.last_key = start
            if start is None or len(partition.matched) > limit:
                return

    @staticmethod
    def _next_start(
        partition: _Partition, merged: list[tuple[str, str, dict[str, Any]]], pk_attr: str, sk_attr: str
    ) -> dict[str, str] | None:
        taken = [item for _, name, item in merged if name == partition.name]
        if len(taken) < len(partition.matched):
            if not taken:
                return partition.start or {}
            last = taken[-1]
            return {k: last[k]["S"] for k in ("pk", "sk", pk_attr, sk_attr)}
        if partition.last_key is None:
            return None
        return {k: v["S"] for k, v in partition.last_key.items()}

    @staticmethod
    def _resume(names: list[str], cursor: str | None, pk_attr: str, sk_attr: str) -> list[_Partition | None]:
        """Where each partition resumes: the top without a cursor; else exactly what the cursor says,
        checked strictly so a forged cursor can reach neither another list nor DynamoDB."""
        if not cursor:
            return [_Partition(name, None) for name in names]
        state = _decode_cursor(cursor)
        positions = state.get("p") if isinstance(state, dict) and set(state) == {"p"} else None
        if not isinstance(positions, dict) or set(positions) != set(names):
            raise _invalid_cursor()
        result: list[_Partition | None] = []
        for name in names:
            position = positions[name]
            if position is None:
                result.append(None)
            elif position == {}:
                result.append(_Partition(name, None))
            else:
                result.append(_Partition(name, _checked_key(position, name, pk_attr, sk_attr)))
        return result


def _checked_key(key: Any, partition: str, pk_attr: str, sk_attr: str) -> dict[str, str]:
    if not isinstance(key, dict) or set(key) != {"pk", "sk", pk_attr, sk_attr}:
        raise _invalid_cursor()
    if not all(isinstance(v, str) for v in key.values()) or key[pk_attr] != partition or key["sk"] != "WHEVT":
        raise _invalid_cursor()
    event_id = key["pk"].removeprefix("WHEVT#")
    received_at, _, sort_id = key[sk_attr].partition("#")
    if not EVENT_ID.fullmatch(event_id) or sort_id != event_id or not _RFC3339.fullmatch(received_at):
        raise _invalid_cursor()
    return key
