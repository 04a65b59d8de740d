"""The callback queue's consumer: one lifecycle event from the bus -> one delivery to its campaign's
callbackUrl (docs/resilience.md#how-callbacks-are-wired). Standard library only.

The bus rule puts the whole EventBridge event on the queue; its `detail` is the LifecycleEvent's
body (`eventId`, `type`, `occurredAt`, and for campaigns `campaignId`, for timers `owner`). The
secret never travels with the message: it is read, sealed, from the campaign at delivery.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from gatehouse.callbacks.records import CallbackEvent, DeliveryResult
from gatehouse.callbacks.service import CallbackDelivery
from gatehouse.resilience.retries import Deadline

logger = logging.getLogger(__name__)

# What the event carries beside its data: the envelope of the Standard Webhooks payload says these.
_ENVELOPE = frozenset({"eventId", "type", "occurredAt", "campaignId"})


class RetryLater(Exception):
    """This record's delivery comes back later: the batch reports it as a failed item."""


class RetryScheduler(Protocol):
    def delay(self, receipt_handle: str, seconds: int) -> None: ...


# campaign id -> (callbackUrl, secret), or None when the campaign has no callback (or does not exist).
CallbackTarget = Callable[[str], "tuple[str, str] | None"]


@dataclass(frozen=True, slots=True)
class CallbackMessage:
    body: str
    receive_count: int
    receipt_handle: str


def campaign_event(body: str) -> CallbackEvent | None:
    """The CallbackEvent of a queue message, or None when it is not about a campaign (or malformed)."""
    try:
        envelope = json.loads(body)
    except (ValueError, RecursionError):  # deep nesting is malformed too, not a crash to retry
        return None
    detail = envelope.get("detail") if isinstance(envelope, Mapping) else None
    if not isinstance(detail, Mapping):
        return None
    campaign_id = detail.get("campaignId")
    owner = detail.get("owner")
    if campaign_id is None and isinstance(owner, Mapping) and owner.get("kind") == "campaign":
        campaign_id = owner.get("id")  # timer.fired / timer.failed of a campaign's timer
    fields = (detail.get("eventId"), detail.get("type"), detail.get("occurredAt"), campaign_id)
    if not all(isinstance(v, str) and v for v in fields):
        return None
    event_id, event_type, occurred_at, cid = (str(v) for v in fields)
    data: dict[str, Any] = {k: v for k, v in detail.items() if k not in _ENVELOPE}
    try:
        return CallbackEvent(event_id, event_type, cid, occurred_at, data)
    except ValueError:
        return None


class CallbackConsumer:
    def __init__(
        self,
        target: CallbackTarget,
        delivery: CallbackDelivery,
        retries: RetryScheduler,
        *,
        base_seconds: int = 30,
        max_seconds: int = 900,
        rng: random.Random | None = None,
    ) -> None:
        self._target = target
        self._delivery = delivery
        self._retries = retries
        self._base = base_seconds
        self._max = max_seconds
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not a secret)

    def handle(self, message: CallbackMessage, deadline: Deadline) -> DeliveryResult | None:
        """Deliver the message's event; raises RetryLater (after delaying the message) for `retry`."""
        event = campaign_event(message.body)
        if event is None:
            logger.warning("callback message dropped: not a campaign's lifecycle event")
            return None
        target = self._target(event.campaign_id)
        if target is None:
            return None  # no callbackUrl (or no campaign any more): nothing to deliver
        url, secret = target
        result = self._delivery.deliver(event, url, secret, delivery=message.receive_count, deadline=deadline)
        logger.info(
            "callback delivery",
            extra={
                "campaignId": event.campaign_id,
                "eventId": event.event_id,
                "status": result.status,
                "httpStatus": result.http_status,
                "delivery": message.receive_count,
            },
        )
        if result.status == "retry":
            self._retries.delay(message.receipt_handle, self._wait(message.receive_count, result.retry_after_seconds))
            raise RetryLater(result.error or "retry")
        return result

    def _wait(self, receive_count: int, retry_after: int | None) -> int:
        """Full jitter over an exponential ceiling; a receiver's Retry-After (or an open breaker) is a floor."""
        ceiling = min(self._max, self._base * 2 ** min(max(receive_count, 1) - 1, 20))
        wait = round(self._rng.uniform(0, ceiling))
        return min(self._max, max(wait, retry_after or 0)) if self._max else (retry_after or 0)
