"""The KeyStore adapter on DynamoDB: the two items per key, their mapping, list cursors.

Schema (single table, fixed by the design; docs/data-model.md should copy this):

  key record   pk=KEY#<keyId>        sk=KEY
               gsi1pk=OWNER#<ownerId> gsi1sk=KEY#<createdAt>#<keyId>   (an owner's keys, newest first)
               gsi2pk=KEYS            gsi2sk=<createdAt>#<keyId>        (every key, for admin)
               id, name, prefix, hash, ownerId, scopes (L), tier, status (active|rotated|revoked),
               createdAt, expiresAt?, revokedAt?, rotatedTo?, rotatedFrom?, graceUntil?, lastUsedAt?
               -- timestamps as RFC 3339 UTC strings ("2026-11-22T12:00:00Z"), which sort as text.
  hash record  pk=KEYHASH#<sha256 or HMAC hex> sk=KEYHASH
               keyId, ownerId, scopes (L), tier, status (active|rotated|revoked),
               expiresAt?, graceUntil?, ttl?   -- epoch seconds (N): the authorizer's one GetItem
               compares numbers, and `ttl` (expiry or grace end or revocation, plus a day) lets
               DynamoDB delete records that can no longer authenticate anything.

  owner count  pk=OWNER#<ownerId>      sk=KEYCOUNT
               activeKeys (N)   -- how many of the owner's keys are `active`: +1 in the transaction
               that creates one (conditioned on the cap), -1 in the one that revokes one; a
               rotation swaps one active key for another and leaves it alone.

Both items are written in one TransactWriteItems; rotation and revocation are transactions
conditioned on the current status, so concurrent rotate/revoke calls cannot both win.
This module avoids gatehouse.settings (pydantic) because the authorizer's wiring imports it.
"""

from __future__ import annotations

from typing import Any, Final

from botocore.exceptions import ClientError

from gatehouse.clients.dynamo_items import from_item, to_attribute, to_item
from gatehouse.clients.dynamo_pages import IndexList, newest_first
from gatehouse.errors import ConflictError, NotFoundError
from gatehouse.keys.records import ACTIVE, REVOKED, ROTATED, KeyCapReached, KeyHashRecord, KeyPage, KeyRecord
from gatehouse.times import from_rfc3339

CLEANUP_DELAY_SECONDS: Final = 86400  # how long a dead hash record lingers before TTL removes it
# Transactions on one owner's count collide when its keys are created at once (TransactionConflict):
# tried again this many times before the caller is told to retry.
CREATE_ATTEMPTS: Final = 3

# --- item mapping ---------------------------------------------------------------------------

_RECORD_ATTRS: Final = (
    ("id", "id"),
    ("name", "name"),
    ("prefix", "prefix"),
    ("hash", "hash"),
    ("owner_id", "ownerId"),
    ("tier", "tier"),
    ("status", "status"),
    ("created_at", "createdAt"),
    ("expires_at", "expiresAt"),
    ("revoked_at", "revokedAt"),
    ("rotated_to", "rotatedTo"),
    ("rotated_from", "rotatedFrom"),
    ("grace_until", "graceUntil"),
    ("last_used_at", "lastUsedAt"),
)


def _values(values: dict[str, Any]) -> dict[str, Any]:
    """Expression attribute values: `{"status": "x"}` -> `{":status": {"S": "x"}}`."""
    return {f":{k}": to_attribute(v) for k, v in values.items()}


def key_record_item(record: KeyRecord) -> dict[str, Any]:
    values: dict[str, Any] = {
        "pk": f"KEY#{record.id}",
        "sk": "KEY",
        "gsi1pk": f"OWNER#{record.owner_id}",
        "gsi1sk": f"KEY#{record.created_at}#{record.id}",
        "gsi2pk": "KEYS",
        "gsi2sk": f"{record.created_at}#{record.id}",
        "scopes": list(record.scopes),
    }
    values.update({attr: getattr(record, name) for name, attr in _RECORD_ATTRS})
    return to_item(values)


def key_record_from_item(item: dict[str, Any]) -> KeyRecord:
    values = from_item(item)
    fields: dict[str, Any] = {name: values.get(attr) for name, attr in _RECORD_ATTRS}
    return KeyRecord(scopes=tuple(values.get("scopes") or ()), **fields)


def _ttl(*epochs: int | None) -> int | None:
    known = [e for e in epochs if e is not None]
    return min(known) + CLEANUP_DELAY_SECONDS if known else None


def hash_record_item(record: KeyRecord) -> dict[str, Any]:
    expires = from_rfc3339(record.expires_at) if record.expires_at else None
    return to_item(
        {
            "pk": f"KEYHASH#{record.hash}",
            "sk": "KEYHASH",
            "keyId": record.id,
            "ownerId": record.owner_id,
            "scopes": list(record.scopes),
            "tier": record.tier,
            "status": record.status,
            "expiresAt": expires,
            "ttl": _ttl(expires),
        }
    )


def hash_record_from_item(item: dict[str, Any]) -> KeyHashRecord:
    values = from_item(item)
    return KeyHashRecord(
        key_id=values["keyId"],
        owner_id=values["ownerId"],
        scopes=frozenset(values.get("scopes") or ()),
        tier=values.get("tier") or "free",
        status=values.get("status") or REVOKED,  # a record without a status authenticates nothing
        expires_at=values.get("expiresAt"),
        grace_until=values.get("graceUntil"),
    )


# --- cursors --------------------------------------------------------------------------------


# --- the adapter ----------------------------------------------------------------------------


def _owner_count_key(owner_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"OWNER#{owner_id}"}, "sk": {"S": "KEYCOUNT"}}


def _cancellation_codes(error: ClientError) -> list[str]:
    reasons = error.response.get("CancellationReasons") or []
    return [r.get("Code", "None") for r in reasons]


class DynamoKeyStore:
    """KeyStore on the single table, through a low-level DynamoDB client."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    # The authorizer's hot path: one eventually consistent GetItem (half the read cost; a
    # revocation reaches it within about a second, well inside the authorizer cache TTL).
    def get_hash_record(self, key_hash: str) -> KeyHashRecord | None:
        response = self._client.get_item(
            TableName=self._table,
            Key={"pk": {"S": f"KEYHASH#{key_hash}"}, "sk": {"S": "KEYHASH"}},
        )
        item = response.get("Item")
        return hash_record_from_item(item) if item else None

    def create(self, record: KeyRecord, max_active: int | None = None) -> None:
        count: dict[str, Any] = {
            "TableName": self._table,
            "Key": _owner_count_key(record.owner_id),
            "UpdateExpression": "ADD activeKeys :one",
            "ExpressionAttributeValues": _values({"one": 1}),
        }
        if max_active is not None:
            # Checked and counted in the same transaction as the write: two racing creates
            # cannot both take the last place, and no table scan is needed to know the count.
            count["ConditionExpression"] = "attribute_not_exists(activeKeys) OR activeKeys < :cap"
            count["ExpressionAttributeValues"] |= _values({"cap": max_active})
        items = [
            {"Put": self._put(key_record_item(record))},
            {"Put": self._put(hash_record_item(record))},
            {"Update": count},
        ]
        for _ in range(CREATE_ATTEMPTS):
            try:
                self._client.transact_write_items(TransactItems=items)
                return
            except ClientError as error:
                if error.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                codes = _cancellation_codes(error)
                if codes[2:3] == ["ConditionalCheckFailed"]:
                    raise KeyCapReached(record.owner_id) from None
                if "TransactionConflict" not in codes:
                    raise ConflictError("A key with this id already exists.") from None
        raise ConflictError("The owner's keys changed concurrently; try again.")

    def get(self, key_id: str) -> KeyRecord | None:
        response = self._client.get_item(
            TableName=self._table,
            Key={"pk": {"S": f"KEY#{key_id}"}, "sk": {"S": "KEY"}},
            ConsistentRead=True,  # read-after-write for rotate/revoke answers
        )
        item = response.get("Item")
        return key_record_from_item(item) if item else None

    def list_by_owner(self, owner_id: str, limit: int, cursor: str | None) -> KeyPage:
        shape = IndexList("GSI1", "gsi1pk", "gsi1sk", f"OWNER#{owner_id}", "KEY#", "KEY#", "KEY")
        items, next_cursor = newest_first(self._client, self._table, shape, limit, cursor)
        return KeyPage([key_record_from_item(item) for item in items], next_cursor)

    def list_all(self, limit: int, cursor: str | None) -> KeyPage:
        shape = IndexList("GSI2", "gsi2pk", "gsi2sk", "KEYS", "", "KEY#", "KEY")
        items, next_cursor = newest_first(self._client, self._table, shape, limit, cursor)
        return KeyPage([key_record_from_item(item) for item in items], next_cursor)

    def rotate(self, old: KeyRecord, new: KeyRecord, grace_until: str) -> None:
        grace_epoch = from_rfc3339(grace_until)
        expires_epoch = from_rfc3339(old.expires_at) if old.expires_at else None
        only_if_active = "attribute_exists(pk) AND #status = :active"
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": {"pk": {"S": f"KEY#{old.id}"}, "sk": {"S": "KEY"}},
                            "UpdateExpression": "SET #status = :rotated, rotatedTo = :to, graceUntil = :grace",
                            "ConditionExpression": only_if_active,
                            "ExpressionAttributeNames": {"#status": "status"},
                            "ExpressionAttributeValues": _values(
                                {"active": ACTIVE, "rotated": ROTATED, "to": new.id, "grace": grace_until}
                            ),
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": {"pk": {"S": f"KEYHASH#{old.hash}"}, "sk": {"S": "KEYHASH"}},
                            "UpdateExpression": "SET #status = :rotated, graceUntil = :grace, #ttl = :ttl",
                            "ConditionExpression": only_if_active,
                            "ExpressionAttributeNames": {"#status": "status", "#ttl": "ttl"},
                            "ExpressionAttributeValues": _values(
                                {
                                    "active": ACTIVE,
                                    "rotated": ROTATED,
                                    "grace": grace_epoch,
                                    "ttl": _ttl(grace_epoch, expires_epoch),
                                }
                            ),
                        }
                    },
                    {"Put": self._put(key_record_item(new))},
                    {"Put": self._put(hash_record_item(new))},
                ]
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            if "ConditionalCheckFailed" not in _cancellation_codes(error)[:2]:
                raise ConflictError("The key changed concurrently; try again.") from None
            if self.get(old.id) is None:
                raise NotFoundError("No such key.") from None
            raise ConflictError("Only an active key can be rotated.") from None

    def revoke(self, record: KeyRecord, revoked_at: str) -> KeyRecord:
        """Revoke both items. Revoking a revoked key changes nothing and answers it (idempotent)."""
        return self._revoke(record, revoked_at, reread=True)

    def _revoke(self, record: KeyRecord, revoked_at: str, *, reread: bool) -> KeyRecord:
        parts: dict[str, dict[str, Any]] = {
            # Conditioned on the status it was read with, which decides whether the owner's count
            # drops: a concurrent rotation in between is seen, never counted twice.
            "key": {
                "TableName": self._table,
                "Key": {"pk": {"S": f"KEY#{record.id}"}, "sk": {"S": "KEY"}},
                "UpdateExpression": "SET #status = :revoked, revokedAt = :at",
                "ConditionExpression": "attribute_exists(pk) AND #status = :was AND #status <> :revoked",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": _values({"revoked": REVOKED, "at": revoked_at, "was": record.status}),
            },
            "hash": {
                "TableName": self._table,
                "Key": {"pk": {"S": f"KEYHASH#{record.hash}"}, "sk": {"S": "KEYHASH"}},
                "UpdateExpression": "SET #status = :revoked, #ttl = :ttl",
                # Never create a stub: a rotated key's hash record may already be gone (TTL).
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeNames": {"#status": "status", "#ttl": "ttl"},
                "ExpressionAttributeValues": _values(
                    {"revoked": REVOKED, "ttl": from_rfc3339(revoked_at) + CLEANUP_DELAY_SECONDS}
                ),
            },
        }
        if record.status == ACTIVE:
            parts["count"] = {
                "TableName": self._table,
                "Key": _owner_count_key(record.owner_id),
                "UpdateExpression": "SET activeKeys = activeKeys - :one",
                # Keys written before the count existed are not in it: it never goes below zero.
                "ConditionExpression": "activeKeys > :zero",
                "ExpressionAttributeValues": _values({"one": 1, "zero": 0}),
            }
        # At most twice: the second attempt leaves out what had nothing to update.
        for _ in range(2):
            names = list(parts)
            try:
                self._client.transact_write_items(TransactItems=[{"Update": parts[name]} for name in names])
                break
            except ClientError as error:
                if error.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                codes = dict(zip(names, _cancellation_codes(error), strict=False))
                if codes.get("key") == "ConditionalCheckFailed":
                    current = self.get(record.id)
                    if current is None:
                        raise NotFoundError("No such key.") from None
                    if current.status == REVOKED:
                        return current
                    if reread:  # read active, rotated since (or the reverse): revoke what it is now
                        return self._revoke(current, revoked_at, reread=False)
                    raise ConflictError("The key changed concurrently; try again.") from None
                # The hash record already gone (it can no longer authenticate), or a count from
                # before counting began: revoke without them.
                gone = [name for name, code in codes.items() if name != "key" and code == "ConditionalCheckFailed"]
                if not gone:
                    raise ConflictError("The key changed concurrently; try again.") from None
                for name in gone:
                    del parts[name]
        else:
            raise ConflictError("The key changed concurrently; try again.")
        current = self.get(record.id)
        if current is None:
            raise NotFoundError("No such key.")
        return current

    # --- helpers ---------------------------------------------------------------------------

    def _put(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}
