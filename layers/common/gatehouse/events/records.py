"""Lifecycle events as records: their deterministic ids, and the ports of the outbox and the bus.

An event is staged in the same transaction as the change it reports (the outbox), published
right after the commit, and published again by the sweep if that ever failed. Its id is a
function of what happened (`campaign.started` of campaign c), never of when or how often it
was sent, so a consumer drops the duplicates that at-least-once delivery brings by that id
(docs/timers.md, "Events never lost"). Once published, the outbox keeps the event for
PUBLISHED_RETENTION_SECONDS as the record of what Gatehouse emitted: a consumer that must not
trust the bus (anyone in the account may publish there) reads the event back by its id.
Standard library only.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from gatehouse.transactions import Transaction

# A fixed namespace: the same (type, key) gives the same id in every process, release and region.
_EVENT_NAMESPACE: Final = uuid.UUID("6f1c6c52-2b7d-5d7e-9a43-2f4f0e9a7c11")
MAX_DETAIL_BYTES: Final = 64 * 1024  # one EventBridge billing chunk; well under PutEvents' 256 KiB
# How long a published event stays readable by id: the callback queue and its dead-letter queue keep
# a message up to 14 days (template.yaml), so any message they still hold finds its record; a day more
# covers the seconds between the record's marking and the message's arrival.
PUBLISHED_RETENTION_SECONDS: Final = 15 * 86400


def event_id_for(event_type: str, *key: str) -> str:
    """The id of the one event of `event_type` about `key` (a UUIDv5): equal inputs, equal ids."""
    return str(uuid.uuid5(_EVENT_NAMESPACE, "\x1f".join((event_type, *key))))


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    """One event for the bus. `detail` is plain JSON; the envelope adds the id, type and time."""

    event_id: str
    type: str  # the bus's detail-type, e.g. "campaign.started"
    source: str  # e.g. "gatehouse.campaigns"
    occurred_at: str  # RFC 3339 UTC
    detail: Mapping[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        """The event's `detail` on the bus: the payload with its id, type and time, so a consumer needs nothing else."""
        return {"eventId": self.event_id, "type": self.type, "occurredAt": self.occurred_at, **self.detail}

    def body_json(self) -> str:
        text = json.dumps(self.body(), separators=(",", ":"), sort_keys=True)
        if len(text.encode()) > MAX_DETAIL_BYTES:
            raise ValueError(f"event {self.type} is larger than {MAX_DETAIL_BYTES} bytes")
        return text


class Outbox(Protocol):
    """Where events wait between the commit that caused them and their publication."""

    def stage(self, tx: Transaction, event: LifecycleEvent) -> None:
        """Write `event` as part of `tx` (a second write of the same id fails the transaction)."""
        ...

    def unpublished(self, created_before_ms: int, limit: int) -> list[LifecycleEvent]:
        """Events still waiting that were staged before `created_before_ms`, oldest first."""
        ...

    def mark_published(self, events: Sequence[LifecycleEvent]) -> None:
        """Take published events off the waiting list; each stays, as staged, for PUBLISHED_RETENTION_SECONDS.
        Only for events whose staging committed (it rewrites their record unconditionally)."""
        ...


class EventPublisher(Protocol):
    """The bus."""

    def publish(self, events: Sequence[LifecycleEvent]) -> set[str]:
        """Send `events`; answers the ids the bus accepted (the rest stay in the outbox)."""
        ...
