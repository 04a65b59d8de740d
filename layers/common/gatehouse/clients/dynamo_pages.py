"""One page of an index listing, newest first, with a strict opaque cursor (docs/data-model.md).

The lists of keys and campaigns have one shape: items `pk=<PREFIX><id>, sk=<SK>` on an index whose
sort key is `<sk_prefix><createdAt>#<id>`. A cursor is the base64url JSON of the last item's key,
checked strictly on the way back, so a forged one can neither continue another list (another
owner's partition) nor reach DynamoDB with a start key outside the query (a 400, never a 500).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from gatehouse.errors import ValidationError


@dataclass(frozen=True, slots=True)
class IndexList:
    """Which list: the index, its key attributes, the partition, and the items' own key shape."""

    index: str
    index_pk: str
    index_sk: str
    partition: str
    sk_prefix: str
    item_pk_prefix: str  # "KEY#", "CAMPAIGN#"
    item_sk: str  # "KEY", "META"


def invalid_cursor() -> ValidationError:
    return ValidationError("The cursor is not valid.", details=[{"field": "cursor", "message": "invalid"}])


def encode_cursor(key: dict[str, str]) -> str:
    raw = json.dumps(key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, shape: IndexList) -> dict[str, Any]:
    """The ExclusiveStartKey of a cursor written for this very list, else ValidationError."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise invalid_cursor() from None
    if (
        not isinstance(key, dict)
        or set(key) != {"pk", "sk", shape.index_pk, shape.index_sk}
        or not all(isinstance(v, str) for v in key.values())
        # A cursor only continues the list it came from: never another owner's partition.
        or key[shape.index_pk] != shape.partition
        or key["sk"] != shape.item_sk
        or not key["pk"].startswith(shape.item_pk_prefix)
    ):
        raise invalid_cursor()
    item_id = key["pk"].removeprefix(shape.item_pk_prefix)
    sort_key: str = key[shape.index_sk]
    if (
        not item_id
        or "#" in item_id
        or not sort_key.startswith(shape.sk_prefix)
        or not sort_key.endswith(f"#{item_id}")
    ):
        raise invalid_cursor()
    created_at = sort_key[len(shape.sk_prefix) : len(sort_key) - len(item_id) - 1]  # empty if they overlap
    if not created_at or "#" in created_at:
        raise invalid_cursor()
    return {k: {"S": v} for k, v in key.items()}


def newest_first(
    client: Any, table: str, shape: IndexList, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Up to `limit` raw items, newest first, and the cursor of the next page (None on the last)."""
    condition = f"{shape.index_pk} = :p"
    values: dict[str, Any] = {":p": {"S": shape.partition}}
    if shape.sk_prefix:
        condition += f" AND begins_with({shape.index_sk}, :k)"
        values[":k"] = {"S": shape.sk_prefix}
    request: dict[str, Any] = {
        "TableName": table,
        "IndexName": shape.index,
        "KeyConditionExpression": condition,
        "ExpressionAttributeValues": values,
        "ScanIndexForward": False,
        # One more than asked: its presence says whether a next page exists, so the last page
        # answers nextCursor null instead of a cursor to an empty page.
        "Limit": limit + 1,
    }
    if cursor:
        request["ExclusiveStartKey"] = decode_cursor(cursor, shape)
    try:
        items = client.query(**request).get("Items", [])
    except ClientError as error:
        # Belt and braces behind decode_cursor: a start key DynamoDB still finds outside the
        # query's boundaries is the caller's cursor at fault (400), not a server error.
        if cursor and error.response.get("Error", {}).get("Code") == "ValidationException":
            raise invalid_cursor() from None
        raise
    next_cursor = None
    if len(items) > limit:
        last = items[limit - 1]
        next_cursor = encode_cursor({k: last[k]["S"] for k in ("pk", "sk", shape.index_pk, shape.index_sk)})
    return items[:limit], next_cursor
