"""One atomic write across areas: the Transaction port that use cases stage writes on, and its conflict.

A use case asks each area to stage its part of a change (`store.stage_update(tx, ...)`,
`relay.stage(tx, events)`) and commits once: every part is written, or none is. That is how a
state transition, its state-log entry and the events it publishes land together
(docs/timers.md, "Exactly-once effects"). The DynamoDB implementation is
gatehouse/clients/dynamo_transaction.py (one TransactWriteItems). Standard library only.
"""

from __future__ import annotations

from typing import Protocol


class Transaction(Protocol):
    """Writes staged by several areas, committed atomically."""

    def add(self, label: str, operation: object) -> None:
        """Stage one write; `label` names it in a TransactionConflict (e.g. "timer:tmr_…")."""
        ...

    def commit(self) -> None:
        """Write everything staged, or nothing: TransactionConflict when a condition fails."""
        ...


class TransactionConflict(Exception):
    """Nothing was written: the staged writes named in `labels` found their items changed.

    `labels` is empty when the transaction kept colliding with concurrent ones (`contention`):
    the caller re-reads and decides again, exactly as for a failed condition.
    """

    def __init__(self, labels: tuple[str, ...] = (), *, contention: bool = False) -> None:
        self.labels = labels
        self.contention = contention
        super().__init__(", ".join(labels) or "contention")

    def involves(self, prefix: str) -> bool:
        """Whether a failed write's label starts with `prefix` ("timer:", "campaign:")."""
        return any(label.startswith(prefix) for label in self.labels)
