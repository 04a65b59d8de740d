"""The intake use case behind POST /webhooks/{source}: verify, then one conditional write, then answer.

Order (docs/webhooks.md#intake): unknown or disabled source 404; too large 413; a (source,
client IP) pair over its failed-verification limit 429; then the scheme's verifier (400
unreadable header, 401 forged or stale, each counted against the pair); then ONE conditional
PutItem keyed by (source, delivery id) that both stores the delivery and refuses its
duplicates: 202 new, 200 duplicate. Nothing is deduped before it verifies, and nothing is
acknowledged before it is durable. A verified body is accepted whatever it holds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from gatehouse.errors import (
    AuthenticationError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitExceededError,
    ValidationError,
)
from gatehouse.times import to_rfc3339
from gatehouse.webhooks.catalog import SourceCatalog
from gatehouse.webhooks.payload import UnreadablePayload, event_type_of, parse_json
from gatehouse.webhooks.records import (
    RECEIVED,
    UNKNOWN_TYPE,
    EventStore,
    FailureLimiter,
    WebhookEvent,
    clean_event_type,
    event_id_for,
)
from gatehouse.webhooks.schemes import SCHEMES
from gatehouse.webhooks.schemes.common import MalformedSignature, Request, VerificationFailure

logger = logging.getLogger(__name__)

KEPT_HEADERS: Final = ("content-type", "user-agent")
MAX_KEPT_HEADER_CHARS: Final = 2048


@dataclass(frozen=True, slots=True)
class Delivery:
    source: str
    body: bytes
    headers: Mapping[str, str]  # lower-case names, as API Gateway gives them
    client_ip: str


@dataclass(frozen=True, slots=True)
class IntakeAnswer:
    event_id: str
    duplicate: bool
    # Slack's URL verification handshake is answered with its challenge, and not stored.
    challenge: str | None = None


class WebhookIntake:
    def __init__(
        self,
        catalog: SourceCatalog,
        events: EventStore,
        limiter: FailureLimiter,
        *,
        retention_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._catalog = catalog
        self._events = events
        self._limiter = limiter
        self._retention = retention_seconds
        self._clock = clock

    def receive(self, delivery: Delivery) -> IntakeAnswer:
        active = self._catalog.get(delivery.source)
        if active is None or not active.record.enabled:
            raise NotFoundError("No such webhook source.")
        source = active.record
        if len(delivery.body) > source.max_body_bytes:
            raise PayloadTooLargeError(
                f"The body is {len(delivery.body)} bytes; this source accepts at most {source.max_body_bytes}."
            )
        wait = self._limiter.blocked_for(source.name, delivery.client_ip)
        if wait is not None:
            raise _too_many_failures(wait)
        scheme = SCHEMES[source.scheme]
        now = self._clock()
        try:
            verified = scheme.verify(
                Request(delivery.body, delivery.headers), active.keys_at(now), now, source.tolerance_seconds
            )
        except VerificationFailure as failure:
            raise self._refusal(source.name, delivery.client_ip, failure) from None

        content_type = delivery.headers.get("content-type", "")
        if source.scheme == "slack":
            challenge = _slack_challenge(delivery.body)
            if challenge is not None:
                return IntakeAnswer("", False, challenge)
        paths = (source.event_type_path,) if source.event_type_path else scheme.type_paths
        event_type = (
            clean_event_type(verified.event_type) or event_type_of(delivery.body, content_type, paths) or UNKNOWN_TYPE
        )
        received = int(now)
        event = WebhookEvent(
            id=event_id_for(source.name, verified.delivery_id),
            source=source.name,
            delivery_id=verified.delivery_id,
            event_type=event_type,
            status=RECEIVED,
            received_at=to_rfc3339(received),
            body=delivery.body,
            headers=_kept_headers(delivery.headers, scheme.headers),
            expires_at=received + self._retention,
        )
        stored = self._events.accept(event)
        return IntakeAnswer(event.id, duplicate=not stored)

    def _refusal(self, source: str, client_ip: str, failure: VerificationFailure) -> Exception:
        # Logged without the header's value or the expected signature: the field and why only.
        logger.info(
            "webhook verification failed",
            extra={"source": source, "client_ip": client_ip, "field": failure.field, "reason": failure.message},
        )
        wait = self._limiter.record_failure(source, client_ip)
        if wait is not None:
            return _too_many_failures(wait)
        details = [{"field": failure.field, "message": failure.message}]
        if isinstance(failure, MalformedSignature):
            return ValidationError("The webhook signature headers cannot be read.", details=details)
        return AuthenticationError("The webhook signature does not verify.", details=details)


def _too_many_failures(wait: int) -> RateLimitExceededError:
    return RateLimitExceededError(
        "Too many failed verifications from this address for this source.", headers={"Retry-After": str(wait)}
    )


def _kept_headers(headers: Mapping[str, str], scheme_headers: tuple[str, ...]) -> dict[str, str]:
    """What a delivery keeps besides its body: the scheme's headers, its media type and agent."""
    kept = {}
    for name in (*KEPT_HEADERS, *scheme_headers):
        value = headers.get(name)
        if value:
            kept[name] = value[:MAX_KEPT_HEADER_CHARS]
    return kept


def _slack_challenge(body: bytes) -> str | None:
    if b"url_verification" not in body:
        return None
    try:
        document = parse_json(body)
    except UnreadablePayload:
        return None
    if isinstance(document, dict) and document.get("type") == "url_verification":
        challenge = document.get("challenge")
        if isinstance(challenge, str) and len(challenge) <= 1024:
            return challenge
    return None
