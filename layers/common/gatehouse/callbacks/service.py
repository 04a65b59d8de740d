"""The callback use case: deliver one lifecycle event to a campaign's callbackUrl, signed, through the
resilient outbound client, and say what became of it (docs/resilience.md#callbacks).

One `deliver()` is one delivery: the client retries inside it (backoff with jitter, Retry-After,
within the deadline) and the destination's fleet breaker guards every request. What it cannot
finish now comes back as `retry` for the caller's queue to bring back later (an SQS redelivery);
after `max_deliveries` deliveries, or at once for what can never succeed, it is `failed`, and
both ends are recorded through the CallbackOutcomes port.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from gatehouse.callbacks.records import (
    CallbackEvent,
    CallbackOutcomes,
    DeliveryResult,
    InvalidCallbackSecret,
)
from gatehouse.callbacks.signing import signed_headers
from gatehouse.resilience.errors import (
    BreakerOpenError,
    DestinationRefused,
    OutboundError,
    ResponseTooLarge,
    TransportError,
)
from gatehouse.resilience.outbound import Outbound, OutboundResponse
from gatehouse.resilience.retries import UNBOUNDED, Deadline, retry_after_seconds

logger = logging.getLogger(__name__)

MAX_DELIVERIES = 10
_RETRY_STATUSES = frozenset({408, 425, 429})


class CallbackDelivery:
    def __init__(
        self,
        client: Outbound,
        outcomes: CallbackOutcomes,
        *,
        max_deliveries: int = MAX_DELIVERIES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.outcomes = outcomes
        self.max_deliveries = max_deliveries
        self._clock = clock

    def deliver(
        self,
        event: CallbackEvent,
        url: str,
        secrets: str | Sequence[str],
        *,
        delivery: int = 1,
        deadline: Deadline = UNBOUNDED,
    ) -> DeliveryResult:
        """Deliver `event` to `url`, signed with the campaign's secret(s). `delivery` counts the
        deliveries of this event so far, this one included (a queue's receive count)."""
        payload = event.payload()
        try:
            headers = signed_headers(secrets, event.event_id, int(self._clock()), payload)
        except InvalidCallbackSecret:
            return self._failed(event, "the campaign's callback secret is not valid")
        try:
            response = self.client.request(
                "POST", url, headers=headers, body=payload, idempotent=True, deadline=deadline
            )
        except DestinationRefused as error:
            return self._failed(event, f"the callback URL is refused: {error.reason}")
        except BreakerOpenError as error:
            return self._later(event, delivery, f"the receiver's breaker is {error.state}", error.retry_after_seconds)
        except TransportError as error:
            return self._later(event, delivery, f"no answer: {error.reason}", None)
        except ResponseTooLarge as error:
            # The answer's status is what matters; a receiver chatty in its body still received the event.
            response = OutboundResponse(error.status, {}, b"", url)
        except OutboundError as error:
            return self._later(event, delivery, error.reason, None)
        return self._answered(event, delivery, response)

    def _answered(self, event: CallbackEvent, delivery: int, response: OutboundResponse) -> DeliveryResult:
        if response.ok:
            self.outcomes.delivered(event.campaign_id, event.event_id, http_status=response.status, deliveries=delivery)
            return DeliveryResult("delivered", response.status)
        error_text = f"the receiver answered {response.status}"
        if response.status >= 500 or response.status in _RETRY_STATUSES:
            wait = retry_after_seconds(response.headers.get("retry-after"), self._clock())
            return self._later(event, delivery, error_text, wait, response.status)
        # Any other answer (a 4xx, a redirect the client does not follow for POST) will not change by itself.
        return self._failed(event, error_text, response.status)

    def _later(
        self,
        event: CallbackEvent,
        delivery: int,
        error: str,
        retry_after: int | None,
        http_status: int | None = None,
    ) -> DeliveryResult:
        if delivery >= self.max_deliveries:
            return self._failed(event, f"{error} (gave up after {delivery} deliveries)", http_status)
        return DeliveryResult("retry", http_status, error, retry_after)

    def _failed(self, event: CallbackEvent, error: str, http_status: int | None = None) -> DeliveryResult:
        self.outcomes.failed(event.campaign_id, event.event_id, error)
        return DeliveryResult("failed", http_status, error)
