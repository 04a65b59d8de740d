"""The callback queue's consumer: one lifecycle event from the bus -> one delivery to its campaign's
callbackUrl (docs/resilience.md#how-callbacks-are-wired). Standard library only.

The bus rule puts the whole EventBridge event on the queue; its `detail` is the LifecycleEvent's
body (`eventId`, `type`, `occurredAt`, and for campaigns `campaignId`, for timers `owner`). Anyone
in the account allowed to publish on the bus can put such an event there, so the message is only a
claim: "event <eventId> of campaign <id> happened". The consumer reads the event back from what
Gatehouse recorded (RecordedEvents, the outbox) and signs and delivers that, never the message's
detail; an id Gatehouse never recorded, or recorded about another campaign, is dropped. The secret
never travels with the message: it is read, sealed, from the campaign at delivery.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from gatehouse.callbacks.records import DeliveryResult, RecordedEvents, callback_event, campaign_of, is_event_id
from gatehouse.callbacks.service import CallbackDelivery
from gatehouse.resilience.retries import Deadline

logger = logging.getLogger(__name__)


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


@dataclass(frozen=True, slots=True)
class Claim:
    """What a queue message says happened: an event id, about a campaign. Nothing else of it is used."""

    event_id: str
    campaign_id: str


def claim_of(body: str) -> Claim | None:
    """The claim of a queue message, or None when it is not about a campaign (or malformed)."""
    try:
        envelope = json.loads(body)
    except (ValueError, RecursionError):  # deep nesting is malformed too, not a crash to retry
        return None
    detail = envelope.get("detail") if isinstance(envelope, Mapping) else None
    if not isinstance(detail, Mapping):
        return None
    event_id, campaign_id = detail.get("eventId"), campaign_of(detail)
    if campaign_id is None or not is_event_id(event_id):
        return None
    return Claim(str(event_id), campaign_id)


class CallbackConsumer:
    def __init__(
        self,
        records: RecordedEvents,
        target: CallbackTarget,
        delivery: CallbackDelivery,
        retries: RetryScheduler,
        *,
        base_seconds: int = 30,
        max_seconds: int = 900,
        rng: random.Random | None = None,
    ) -> None:
        self._records = records
        self._target = target
        self._delivery = delivery
        self._retries = retries
        self._base = base_seconds
        self._max = max_seconds
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not a secret)

    def handle(self, message: CallbackMessage, deadline: Deadline) -> DeliveryResult | None:
        """Deliver the recorded event the message names; raises RetryLater (after delaying the message) for `retry`."""
        claim = claim_of(message.body)
        if claim is None:
            logger.warning("callback message dropped: not a campaign's lifecycle event")
            return None
        recorded = self._records.recorded(claim.event_id)  # a store error raises: the message comes back
        event = callback_event(recorded) if recorded is not None else None
        if event is None or event.campaign_id != claim.campaign_id:
            # Forged on the bus (or forgotten after the outbox's retention): never signed, never retried.
            logger.warning(
                "callback message dropped: not an event Gatehouse recorded about that campaign",
                extra={
                    "eventId": claim.event_id,
                    "campaignId": claim.campaign_id[:64],
                    "recorded": recorded is not None,
                },
            )
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
