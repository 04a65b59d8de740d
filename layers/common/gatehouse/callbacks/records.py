"""Callbacks as records: the event a receiver gets, the per-campaign secret, the outcome of a delivery,
the port that records outcomes on the campaign, and the port that reads back what Gatehouse emitted.
Standard library only (docs/resilience.md#callbacks).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol

from gatehouse.events.records import LifecycleEvent

logger = logging.getLogger(__name__)

SECRET_PREFIX: Final = "whsec_"  # noqa: S105 (a prefix, not a secret)
SECRET_BYTES: Final = 32
# Standard Webhooks: a symmetric secret is 24 to 64 random bytes.
MIN_SECRET_BYTES: Final = 24
MAX_SECRET_BYTES: Final = 64
# webhook-id goes into a header and into the signed content: no separators, no controls.
_EVENT_ID: Final = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
# What the event carries beside its data: the envelope of the Standard Webhooks payload says these.
_ENVELOPE: Final = frozenset({"eventId", "type", "occurredAt", "campaignId"})


class InvalidCallbackSecret(ValueError):
    """Not a `whsec_` secret of 24 to 64 bytes (never says more: it may be part of one)."""


def new_callback_secret(nbytes: int = SECRET_BYTES) -> str:
    """A new per-campaign secret, `whsec_` + base64 of `nbytes` random bytes: shown once at creation."""
    if not MIN_SECRET_BYTES <= nbytes <= MAX_SECRET_BYTES:
        raise ValueError(f"a secret has {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes")
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(nbytes)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_` secret (strict base64, 24 to 64 bytes)."""
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        raise InvalidCallbackSecret("a callback secret starts with whsec_")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidCallbackSecret("a callback secret is base64 after whsec_") from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise InvalidCallbackSecret(f"a callback secret holds {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes")
    return key


@dataclass(frozen=True, slots=True)
class CallbackEvent:
    """One lifecycle event of a campaign, as its receiver gets it. `event_id` is the event's
    deterministic id (the same event always has the same id), sent as `webhook-id`: receivers drop
    duplicates by it."""

    event_id: str
    event_type: str  # campaign.started, campaign.completed, campaign.cancelled, campaign.target_reached, ...
    campaign_id: str
    occurred_at: str  # RFC 3339 UTC
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _EVENT_ID.fullmatch(self.event_id):
            raise ValueError("an event id is 1-128 characters of letters, digits and _ . : -")

    def payload(self) -> bytes:
        """The body: Standard Webhooks' {type, timestamp, data}, compact JSON, the same bytes every time."""
        body = {
            "type": self.event_type,
            "timestamp": self.occurred_at,
            "data": {**self.data, "campaignId": self.campaign_id, "eventId": self.event_id},
        }
        return json.dumps(body, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")


def is_event_id(value: object) -> bool:
    return isinstance(value, str) and _EVENT_ID.fullmatch(value) is not None


def campaign_of(body: Mapping[str, Any]) -> str | None:
    """The campaign an event's body is about: `campaignId`, or the owner of a campaign's timer
    (timer.fired / timer.failed); None for anything else."""
    campaign_id = body.get("campaignId")
    owner = body.get("owner")
    if campaign_id is None and isinstance(owner, Mapping) and owner.get("kind") == "campaign":
        campaign_id = owner.get("id")
    return campaign_id if isinstance(campaign_id, str) and campaign_id else None


def callback_event(recorded: LifecycleEvent) -> CallbackEvent | None:
    """What a receiver gets of an event Gatehouse recorded: its id, type, time, campaign and the rest
    of its body as data; None when it is not about a campaign (or its id cannot be a webhook-id)."""
    body = recorded.body()
    campaign_id = campaign_of(body)
    if campaign_id is None or not (recorded.type and recorded.occurred_at) or not is_event_id(recorded.event_id):
        return None
    data = {k: v for k, v in body.items() if k not in _ENVELOPE}
    return CallbackEvent(recorded.event_id, recorded.type, campaign_id, recorded.occurred_at, data)


class RecordedEvents(Protocol):
    """The events Gatehouse emitted, as it recorded them (the events area's outbox): the only source
    of what a callback says. The bus is not one: anyone in the account may publish on it."""

    def recorded(self, event_id: str) -> LifecycleEvent | None:
        """The event recorded under `event_id`, or None if Gatehouse never emitted it (or forgot it)."""
        ...


DeliveryStatus = Literal["delivered", "retry", "failed"]


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What became of one delivery of an event.

    - delivered: the receiver answered 2xx (recorded through CallbackOutcomes.delivered);
    - retry: not this time (no answer, 408, 429, 5xx, or the receiver's breaker is open): deliver
      again after `retry_after_seconds` (nothing recorded yet);
    - failed: never will be (a 4xx, a refused destination, or the last delivery allowed):
      recorded through CallbackOutcomes.failed.
    """

    status: DeliveryStatus
    http_status: int | None = None
    error: str | None = None
    retry_after_seconds: int | None = None


class CallbackOutcomes(Protocol):
    """Where a campaign learns what became of its callbacks (its lifecycle shows them)."""

    def delivered(self, campaign_id: str, event_id: str, *, http_status: int, deliveries: int) -> None: ...

    def failed(self, campaign_id: str, event_id: str, error: str) -> None: ...


class LoggingCallbackOutcomes:
    """The default until the campaigns area records outcomes on the campaign: the log only."""

    def delivered(self, campaign_id: str, event_id: str, *, http_status: int, deliveries: int) -> None:
        logger.info(
            "callback delivered",
            extra={"campaignId": campaign_id, "eventId": event_id, "httpStatus": http_status, "deliveries": deliveries},
        )

    def failed(self, campaign_id: str, event_id: str, error: str) -> None:
        logger.warning("callback failed", extra={"campaignId": campaign_id, "eventId": event_id, "error": error})


@dataclass
class InMemoryCallbackOutcomes:
    """Outcomes kept in memory (tests, local runs)."""

    deliveries: list[tuple[str, str, int]] = field(default_factory=list)
    failures: list[tuple[str, str, str]] = field(default_factory=list)

    def delivered(self, campaign_id: str, event_id: str, *, http_status: int, deliveries: int) -> None:
        self.deliveries.append((campaign_id, event_id, http_status))

    def failed(self, campaign_id: str, event_id: str, error: str) -> None:
        self.failures.append((campaign_id, event_id, error))
