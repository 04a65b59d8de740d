"""The processing use case: one queue message -> one event RECEIVED -> PROCESSED | FAILED, effects once.

docs/webhooks.md#processing. A message names an event and its generation. The processor takes
a lease on the event by a conditional write (so a message delivered twice, even at once, runs
once), records an engagement (marking that step done, so a retry never redoes it), publishes
`webhook.<source>.<type>` to the bus and completes by another conditional write. A body that
cannot be read, or an engagement the campaign refuses, ends FAILED at once and is not retried;
any other error is retried with exponential backoff, and on the queue's last delivery the
event ends FAILED and the message goes on to the dead-letter queue.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from gatehouse.metrics.records import count_webhook
from gatehouse.webhooks.payload import UnreadablePayload, engagement_of, read_payload
from gatehouse.webhooks.records import (
    EVENT_ID,
    RECEIVED,
    STEP_ENGAGEMENT,
    EngagementRejected,
    EngagementSink,
    EventPublisher,
    EventStore,
    RetryScheduler,
)

logger = logging.getLogger(__name__)
MAX_ERROR_CHARS = 500


@dataclass(frozen=True, slots=True)
class QueueMessage:
    message_id: str
    body: str
    receive_count: int
    receipt_handle: str


class ProcessingDeferred(Exception):
    """Another processor holds the event's lease: try this message again later."""


def dispatch_message(event_id: str, generation: int) -> str:
    """The queue message body that asks for one event's processing (what the dispatch pipe sends)."""
    return json.dumps({"eventId": event_id, "generation": generation}, separators=(",", ":"))


def _parse(body: str) -> tuple[str, int] | None:
    try:
        message = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(message, dict):
        return None
    event_id, generation = message.get("eventId"), message.get("generation")
    if not isinstance(event_id, str) or not EVENT_ID.fullmatch(event_id):
        return None
    if isinstance(generation, bool) or not isinstance(generation, int) or generation < 1:
        return None
    return event_id, generation


def error_summary(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return text[:MAX_ERROR_CHARS]


class WebhookProcessor:
    def __init__(
        self,
        events: EventStore,
        publisher: EventPublisher,
        engagements: EngagementSink,
        retry: RetryScheduler,
        *,
        max_receives: int,
        lease_seconds: int,
        retry_base_seconds: int = 10,
        retry_max_seconds: int = 900,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._events = events
        self._publisher = publisher
        self._engagements = engagements
        self._retry = retry
        self._max_receives = max_receives
        self._lease_seconds = lease_seconds
        self._retry_base = retry_base_seconds
        self._retry_max = retry_max_seconds
        self._clock = clock

    def process(self, message: QueueMessage) -> None:
        """Process one message; raises to have the queue deliver it again (a batch item failure)."""
        job = _parse(message.body)
        if job is None:
            logger.error("webhook queue message is not a dispatch request", extra={"messageId": message.message_id})
            return
        event_id, generation = job
        event = self._events.get(event_id)
        if event is None or event.generation > generation or event.status != RECEIVED:
            return  # expired, superseded by a replay, or already done: nothing to redo
        if event.generation < generation:
            raise ProcessingDeferred("the event's newer generation is not readable yet")
        token = f"{message.message_id}:{secrets.token_hex(8)}"
        claimed = self._events.claim(event_id, generation, token, int(self._clock()), self._lease_seconds)
        if claimed is None:
            current = self._events.get(event_id)
            if current is None or current.generation != generation or current.status != RECEIVED:
                return
            raise ProcessingDeferred("another processor holds this event")
        try:
            payload = read_payload(claimed.body, claimed.content_type)
            engagement = engagement_of(payload)
            if engagement is not None and STEP_ENGAGEMENT not in claimed.steps_done:
                self._engagements.record(
                    engagement.campaign_id, engagement.engagement_type, engagement.user_id, engagement.attributes
                )
                self._events.mark_step(event_id, token, STEP_ENGAGEMENT)
            self._publisher.publish(claimed, payload)
        except (UnreadablePayload, EngagementRejected) as error:
            # Retrying cannot help: FAILED now, and the message is done with (no dead-letter noise).
            self._events.fail(event_id, token, int(self._clock()), error_summary(error), final=True)
            count_webhook("failed", claimed.source)
            logger.warning("webhook event failed permanently", extra={"eventId": event_id, "error": str(error)})
            return
        except Exception as error:
            final = message.receive_count >= self._max_receives
            self._events.fail(event_id, token, int(self._clock()), error_summary(error), final=final)
            if final:
                count_webhook("failed", claimed.source)
            # The last delivery's message comes back at once, so the queue moves it to the DLQ now.
            self._retry.delay(message.receipt_handle, 0 if final else self.backoff_seconds(claimed.attempts))
            logger.warning(
                "webhook event processing failed",
                extra={"eventId": event_id, "attempt": claimed.attempts, "final": final, "error": error_summary(error)},
            )
            raise
        if not self._events.complete(event_id, token, int(self._clock())):
            logger.warning("webhook event lease was lost before completion", extra={"eventId": event_id})
        else:
            count_webhook("processed", claimed.source)

    def backoff_seconds(self, attempt: int) -> int:
        """Exponential backoff with full jitter: up to base * 2^(attempt-1), at most the cap."""
        ceiling = min(self._retry_max, self._retry_base * 2 ** max(0, min(attempt - 1, 20)))
        return random.randint(0, ceiling) if ceiling > 0 else 0  # noqa: S311 - jitter, not a secret
