"""Publishes processed webhook events to the EventBridge bus as `webhook.<source>.<type>`.

The detail carries the event id and generation (stable across retries, so consumers can
dedupe) and the payload when it fits the 256 KB entry limit; otherwise `payloadOmitted` and
consumers read the event by id (GET /v1/webhook-events/{id}).
"""

from __future__ import annotations

import json
from typing import Any, Final

from gatehouse.webhooks.records import WebhookEvent

SOURCE: Final = "gatehouse.webhooks"
MAX_DETAIL_BYTES: Final = 200_000  # leaves room under PutEvents' 256 KB per entry


class PublishFailed(Exception):
    """The bus did not take the event (retried by the queue)."""


def detail_of(event: WebhookEvent, payload: Any) -> str:
    detail: dict[str, Any] = {
        "eventId": event.id,
        "source": event.source,
        "type": event.event_type,
        "deliveryId": event.delivery_id,
        "receivedAt": event.received_at,
        "generation": event.generation,
        "payload": payload,
    }
    text = json.dumps(detail, separators=(",", ":"))
    if len(text.encode()) > MAX_DETAIL_BYTES:
        detail["payload"] = None
        detail["payloadOmitted"] = True
        text = json.dumps(detail, separators=(",", ":"))
    return text


class EventBridgePublisher:
    def __init__(self, client: Any, bus_name: str) -> None:
        self._client = client
        self._bus = bus_name

    def publish(self, event: WebhookEvent, payload: Any) -> None:
        answer = self._client.put_events(
            Entries=[
                {
                    "EventBusName": self._bus,
                    "Source": SOURCE,
                    "DetailType": f"webhook.{event.source}.{event.event_type}",
                    "Detail": detail_of(event, payload),
                }
            ]
        )
        if answer.get("FailedEntryCount"):
            entry = (answer.get("Entries") or [{}])[0]
            raise PublishFailed(f"{entry.get('ErrorCode', 'failed')}: {entry.get('ErrorMessage', '')}"[:300])
