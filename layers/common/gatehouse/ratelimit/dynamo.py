"""DynamoDB storage of rate-limit overrides: one item per subject (see docs/data-model.md)."""

from __future__ import annotations

import json
import math
from typing import Any

from gatehouse.ratelimit.overrides import Override

_DAY = 86_400


def _key(subject: str) -> dict[str, Any]:
    return {"pk": {"S": f"RLO#{subject}"}, "sk": {"S": "RLO"}}


class DynamoOverrideStore:
    """get/put/delete by subject: one GetItem, PutItem or DeleteItem each, never a scan."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def get(self, subject: str) -> Override | None:
        item = self._client.get_item(TableName=self._table, Key=_key(subject)).get("Item")
        if item is None:
            return None
        return Override.model_validate_json(item["override"]["S"])

    def put(self, override: Override) -> bool:
        """Store (replace) the subject's override; True when it did not exist before."""
        document = override.model_dump(mode="json", by_alias=True, exclude_none=True)
        item: dict[str, Any] = {
            **_key(override.subject),
            "gsi2pk": {"S": "RLO"},
            "gsi2sk": {"S": override.subject},
            "override": {"S": json.dumps(document, separators=(",", ":"))},
        }
        if override.expires_at is not None:
            # Expired overrides are already ignored; TTL only tidies the table a day later.
            item["ttl"] = {"N": str(math.ceil(override.expires_at.timestamp()) + _DAY)}
        answer = self._client.put_item(TableName=self._table, Item=item, ReturnValues="ALL_OLD")
        return "Attributes" not in answer

    def delete(self, subject: str) -> bool:
        """Remove the subject's override; True when there was one."""
        answer = self._client.delete_item(TableName=self._table, Key=_key(subject), ReturnValues="ALL_OLD")
        return "Attributes" in answer
