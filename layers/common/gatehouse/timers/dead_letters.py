"""The DeadLetters adapter on SQS: the deliveries Scheduler gave up on, for the sweep to fire."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gatehouse.timers.records import DeadLetter


class SqsDeadLetters:
    """Scheduler's dead-letter queue: short receives, batch deletes."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def receive(self, limit: int) -> list[DeadLetter]:
        answer = self._client.receive_message(
            QueueUrl=self._url, MaxNumberOfMessages=max(1, min(limit, 10)), WaitTimeSeconds=0, VisibilityTimeout=60
        )
        return [DeadLetter(m["ReceiptHandle"], m["Body"]) for m in answer.get("Messages") or []]

    def delete(self, receipts: Sequence[str]) -> None:
        for start in range(0, len(receipts), 10):
            chunk = receipts[start : start + 10]
            self._client.delete_message_batch(
                QueueUrl=self._url, Entries=[{"Id": str(n), "ReceiptHandle": r} for n, r in enumerate(chunk)]
            )
