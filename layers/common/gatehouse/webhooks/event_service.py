"""History and replay use cases behind /v1/webhook-events: list with filters, read one, replay on purpose."""

from __future__ import annotations

import time
from collections.abc import Callable

from gatehouse.errors import ConflictError, NotFoundError, ValidationError
from gatehouse.webhooks.records import EVENT_ID, SOURCE_NAME, STATUSES, EventFilter, EventPage, EventStore, WebhookEvent

MAX_LIMIT = 100


class WebhookEventsService:
    def __init__(self, events: EventStore, *, retention_seconds: int, clock: Callable[[], float] = time.time) -> None:
        self._events = events
        self._retention = retention_seconds
        self._clock = clock

    def list_events(self, wanted: EventFilter, limit: int = 20, cursor: str | None = None) -> EventPage:
        if not 1 <= limit <= MAX_LIMIT:
            raise ValidationError(details=[{"field": "limit", "message": f"must be from 1 to {MAX_LIMIT}"}])
        if wanted.source is not None and not SOURCE_NAME.fullmatch(wanted.source):
            raise ValidationError(details=[{"field": "source", "message": "is not a source name"}])
        if wanted.status is not None and wanted.status not in STATUSES:
            raise ValidationError(details=[{"field": "status", "message": f"must be one of {', '.join(STATUSES)}"}])
        return self._events.list_events(wanted, limit, cursor or None)

    def get_event(self, event_id: str) -> WebhookEvent:
        event = self._events.get(event_id) if EVENT_ID.fullmatch(event_id or "") else None
        if event is None:
            raise NotFoundError("No such webhook event.")
        return event

    def replay(self, event_id: str) -> WebhookEvent:
        """Process a PROCESSED or FAILED event again, on purpose, under a new generation."""
        current = self.get_event(event_id)
        now = int(self._clock())
        replayed = self._events.replay(
            event_id, current.generation, now, max(current.expires_at, now + self._retention)
        )
        if replayed is None:
            raise ConflictError("The event is still being processed; only a PROCESSED or FAILED event is replayed.")
        return replayed
