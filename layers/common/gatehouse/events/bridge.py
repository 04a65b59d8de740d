"""The EventPublisher adapter on EventBridge: PutEvents in batches of ten to the project's bus."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Final

from gatehouse.events.records import LifecycleEvent

_BATCH: Final = 10  # PutEvents takes at most ten entries
log = logging.getLogger("gatehouse.events")


class EventBridgePublisher:
    """Sends each event with its own detail-type and source; answers the ids the bus accepted."""

    def __init__(self, client: Any, bus_name: str) -> None:
        self._client = client
        self._bus = bus_name

    def publish(self, events: Sequence[LifecycleEvent]) -> set[str]:
        accepted: set[str] = set()
        for start in range(0, len(events), _BATCH):
            batch = list(events[start : start + _BATCH])
            answer = self._client.put_events(
                Entries=[
                    {
                        "EventBusName": self._bus,
                        "Source": event.source,
                        "DetailType": event.type,
                        "Detail": event.body_json(),
                    }
                    for event in batch
                ]
            )
            for event, entry in zip(batch, answer.get("Entries") or [], strict=False):
                if entry.get("EventId") and not entry.get("ErrorCode"):
                    accepted.add(event.event_id)
                else:
                    log.warning("the bus refused an event", extra={"type": event.type, "code": entry.get("ErrorCode")})
        return accepted
