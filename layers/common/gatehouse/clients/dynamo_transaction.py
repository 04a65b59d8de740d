"""The Transaction port on DynamoDB: staged writes committed as one TransactWriteItems.

Contention (another transaction touching the same items, reported as `TransactionConflict`)
is retried here a few times with jitter, because the same writes with the same conditions are
still the right ones; a failed condition is the caller's to judge and becomes
`gatehouse.transactions.TransactionConflict` with the labels of the writes that failed. Every
commit carries a ClientRequestToken, so a retry of a commit that did land (a timeout on the
way back) is answered as a success rather than as a failed condition.
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any, Final

from botocore.exceptions import ClientError

from gatehouse.transactions import TransactionConflict

MAX_ITEMS: Final = 100  # DynamoDB's limit on one TransactWriteItems
_CONTENTION_ATTEMPTS: Final = 6


class DynamoTransaction:
    """Collects TransactWriteItems entries (`{"Put": …}`, `{"Update": …}`, …) under labels."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._labels: list[str] = []
        self._operations: list[dict[str, Any]] = []

    def add(self, label: str, operation: object) -> None:
        if not isinstance(operation, dict):
            raise TypeError("a DynamoDB transaction stages TransactWriteItems entries (dicts)")
        if len(self._operations) >= MAX_ITEMS:
            raise ValueError(f"a transaction holds at most {MAX_ITEMS} writes")
        self._labels.append(label)
        self._operations.append(operation)

    def __len__(self) -> int:
        return len(self._operations)

    def commit(self) -> None:
        if not self._operations:
            return
        for attempt in range(_CONTENTION_ATTEMPTS):
            try:
                self._client.transact_write_items(TransactItems=self._operations, ClientRequestToken=uuid.uuid4().hex)
                return
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                codes = [r.get("Code", "None") for r in error.response.get("CancellationReasons") or []]
                failed = tuple(
                    label for label, code in zip(self._labels, codes, strict=False) if code == "ConditionalCheckFailed"
                )
                if failed:
                    raise TransactionConflict(failed) from None
                if set(codes) - {"None", "TransactionConflict"}:
                    raise  # throttled, or a write DynamoDB refuses (a defect): not a conflict to judge
            time.sleep(random.uniform(0, 0.01 * 2**attempt))  # noqa: S311 - jitter, not secrecy
        raise TransactionConflict(contention=True)
