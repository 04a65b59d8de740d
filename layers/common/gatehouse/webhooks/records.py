"""Webhook sources and events as records, the rules on them, and the ports the use cases need.

Standard library only. docs/webhooks.md explains the design; docs/data-model.md the items.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final, Protocol

RECEIVED: Final = "RECEIVED"
PROCESSED: Final = "PROCESSED"
FAILED: Final = "FAILED"
STATUSES: Final = (RECEIVED, PROCESSED, FAILED)

# A source name is a path segment, a DynamoDB key part and part of an EventBridge detail-type
# (`webhook.<source>.<type>`, at most 128 characters): lower case, short, no dots.
SOURCE_NAME: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,47}")
EVENT_ID: Final = re.compile(r"whe_[a-z2-7]{26}")
EVENT_TYPE: Final = re.compile(r"[A-Za-z0-9_./:-]{1,64}")
UNKNOWN_TYPE: Final = "unknown"
STEP_ENGAGEMENT: Final = "engagement"


def event_id_for(source: str, delivery_id: str) -> str:
    """The event id of a (source, delivery id): deterministic, so the one conditional write that
    stores a delivery is also the one that refuses its duplicates (docs/webhooks.md#dedupe)."""
    digest = hashlib.sha256(f"{source}\x00{delivery_id}".encode()).digest()[:16]
    return "whe_" + base64.b32encode(digest).decode().rstrip("=").lower()


def clean_event_type(value: Any) -> str | None:
    """An event type as a sender gave it, if it is one Gatehouse can name events by."""
    return value if isinstance(value, str) and EVENT_TYPE.fullmatch(value) else None


@dataclass(frozen=True, slots=True)
class SecretMeta:
    """What may be shown of a secret: its kind and its lifetime, never its value."""

    kind: str  # "hmac" | "ed25519"
    added_at: int
    expires_at: int | None = None  # the end of its grace after a rotation

    def active(self, now: float) -> bool:
        return self.expires_at is None or now < self.expires_at


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """A registered source as stored: its secrets' values sealed (encrypted), their metadata in clear."""

    name: str
    scheme: str
    tolerance_seconds: int
    max_body_bytes: int
    event_type_path: str | None
    enabled: bool
    created_at: str
    updated_at: str
    secrets: tuple[SecretMeta, ...]
    sealed_secrets: bytes
    version: int = 1


@dataclass(frozen=True, slots=True)
class SourcePage:
    items: list[SourceRecord] = field(default_factory=list)
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One accepted delivery: the body exactly as received, and its processing state."""

    id: str
    source: str
    delivery_id: str
    event_type: str
    status: str
    received_at: str
    body: bytes
    headers: Mapping[str, str]
    expires_at: int  # TTL epoch: the delivery id is remembered (deduped) until then
    generation: int = 1  # bumped by each replay; queue messages of older generations are stale
    attempts: int = 0
    last_error: str | None = None
    processed_at: str | None = None
    failed_at: str | None = None
    replay_count: int = 0
    lease_until: int | None = None
    lease_token: str | None = None
    steps_done: frozenset[str] = frozenset()

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def with_status(self, status: str) -> WebhookEvent:
        return replace(self, status=status)


@dataclass(frozen=True, slots=True)
class EventPage:
    items: list[WebhookEvent] = field(default_factory=list)
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class EventFilter:
    source: str | None = None
    status: str | None = None
    event_type: str | None = None


# --- ports ---------------------------------------------------------------------------------


class SourceStore(Protocol):
    def get(self, name: str) -> SourceRecord | None: ...

    def put(self, record: SourceRecord, *, expected_version: int) -> bool:
        """Store; True when new. Only over the stored `expected_version` (0: only if none is stored),
        else ConflictError, so two concurrent writers cannot both win."""
        ...

    def delete(self, name: str) -> bool: ...

    def list_sources(self, limit: int, cursor: str | None) -> SourcePage: ...


class SecretSealer(Protocol):
    """Encrypts a source's secrets at rest (KMS envelope, docs/webhooks.md#secrets)."""

    def seal(self, source: str, plaintext: bytes) -> bytes: ...

    def open(self, source: str, sealed: bytes) -> bytes: ...


class EventStore(Protocol):
    def accept(self, event: WebhookEvent) -> bool:
        """The one conditional write of intake: True when stored, False when the delivery was already."""
        ...

    def get(self, event_id: str) -> WebhookEvent | None: ...

    def claim(self, event_id: str, generation: int, token: str, now: int, lease_seconds: int) -> WebhookEvent | None:
        """Take the processing lease of a RECEIVED event of this generation whose lease is free or
        expired, counting the attempt; None when the condition does not hold."""
        ...

    def mark_step(self, event_id: str, token: str, step: str) -> bool: ...

    def complete(self, event_id: str, token: str, now: int) -> bool: ...

    def fail(self, event_id: str, token: str, now: int, error: str, *, final: bool) -> bool:
        """Record the error; `final` ends the event FAILED, else the lease is released for a retry."""
        ...

    def replay(self, event_id: str, generation: int, now: int, expires_at: int) -> WebhookEvent | None:
        """A PROCESSED or FAILED event back to RECEIVED under a new generation (None if not so)."""
        ...

    def list_events(self, wanted: EventFilter, limit: int, cursor: str | None) -> EventPage: ...


class EventPublisher(Protocol):
    """Puts a processed event on the bus as `webhook.<source>.<type>`; raises when it cannot."""

    def publish(self, event: WebhookEvent, payload: Any) -> None: ...


class EngagementSink(Protocol):
    """Where engagement events for a campaign are recorded (the campaigns area, when wired).

    Must be idempotent per (campaign, user, type): a retried event may record twice. Raise
    EngagementRejected for a permanent refusal (no such campaign), anything else to retry.
    """

    def record(self, campaign_id: str, engagement_type: str, user_id: str, attributes: Mapping[str, Any]) -> None: ...


class EngagementRejected(Exception):
    """The engagement can never be recorded (the event ends FAILED without retries)."""


class RetryScheduler(Protocol):
    """Delays the next delivery of a queue message (exponential backoff between attempts)."""

    def delay(self, receipt_handle: str, seconds: int) -> None: ...


class FailureLimiter(Protocol):
    """Counts failed verifications per (source, client IP) and says when a pair is over its limit."""

    def blocked_for(self, source: str, client_ip: str) -> int | None:
        """Seconds the pair is still refused without being looked at, or None."""
        ...

    def record_failure(self, source: str, client_ip: str) -> int | None:
        """Count one failure; seconds to wait when the pair is now over its limit, else None."""
        ...
