"""Webhook sources and events as answers: never a secret; an event's body as text or base64."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import ConfigDict

from gatehouse.models import ApiModel
from gatehouse.times import from_rfc3339
from gatehouse.webhooks.records import SourceRecord, WebhookEvent


def _time(value: str | None) -> datetime | None:
    return datetime.fromtimestamp(from_rfc3339(value), UTC) if value else None


def _epoch(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value is not None else None


class _View(ApiModel):
    model_config = ConfigDict(frozen=True)

    def to_public(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True)


class SecretView(_View):
    """A secret as shown: its kind and lifetime, never its value."""

    kind: Literal["hmac", "ed25519"]
    added_at: datetime
    expires_at: datetime | None = None


class WebhookSourceView(_View):
    name: str
    scheme: str
    intake_path: str
    tolerance_seconds: int
    max_body_bytes: int
    event_type_path: str | None = None
    enabled: bool
    created_at: datetime
    updated_at: datetime
    secrets: list[SecretView]

    @classmethod
    def from_record(cls, record: SourceRecord) -> WebhookSourceView:
        return cls(
            name=record.name,
            scheme=record.scheme,
            intake_path=f"/webhooks/{record.name}",
            tolerance_seconds=record.tolerance_seconds,
            max_body_bytes=record.max_body_bytes,
            event_type_path=record.event_type_path,
            enabled=record.enabled,
            created_at=_time(record.created_at),  # type: ignore[arg-type]
            updated_at=_time(record.updated_at),  # type: ignore[arg-type]
            secrets=[
                SecretView(kind=m.kind, added_at=_epoch(m.added_at), expires_at=_epoch(m.expires_at))  # type: ignore[arg-type]
                for m in record.secrets
            ],
        )


class RotatedSourceView(WebhookSourceView):
    """The answer to rotate-secret: the source, and the new secret only when Gatehouse generated it."""

    secret: str | None = None


class WebhookSourcePage(_View):
    items: list[WebhookSourceView]
    next_cursor: str | None = None


class WebhookEventView(_View):
    id: str
    source: str
    delivery_id: str
    type: str
    status: Literal["RECEIVED", "PROCESSED", "FAILED"]
    received_at: datetime
    attempts: int
    last_error: str | None = None
    processed_at: datetime | None = None
    failed_at: datetime | None = None
    generation: int
    replay_count: int

    @classmethod
    def from_event(cls, event: WebhookEvent) -> WebhookEventView:
        return cls(**_event_fields(event))


class WebhookEventDetail(WebhookEventView):
    """One event with what was received: the headers kept and the body (UTF-8 text, else base64)."""

    headers: dict[str, str]
    body: str
    body_encoding: Literal["utf-8", "base64"]
    body_bytes: int

    @classmethod
    def from_event(cls, event: WebhookEvent) -> WebhookEventDetail:
        try:
            body, encoding = event.body.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            body, encoding = base64.b64encode(event.body).decode(), "base64"
        return cls(
            **_event_fields(event),
            headers=dict(event.headers),
            body=body,
            body_encoding=encoding,  # type: ignore[arg-type]
            body_bytes=len(event.body),
        )


def _event_fields(event: WebhookEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "source": event.source,
        "delivery_id": event.delivery_id,
        "type": event.event_type,
        "status": event.status,
        "received_at": _time(event.received_at),
        "attempts": event.attempts,
        "last_error": event.last_error,
        "processed_at": _time(event.processed_at),
        "failed_at": _time(event.failed_at),
        "generation": event.generation,
        "replay_count": event.replay_count,
    }


class WebhookEventPage(_View):
    items: list[WebhookEventView]
    next_cursor: str | None = None


class IntakeAccepted(_View):
    id: str
    duplicate: bool
