"""Webhook-event routes: history with filters and an opaque cursor, one event, replay on purpose."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from gatehouse.routes.declare import route
from gatehouse.webhooks.records import EventFilter
from gatehouse.webhooks.runtime import webhook_events_service
from gatehouse.webhooks.views import WebhookEventDetail, WebhookEventPage, WebhookEventView

router = Router()
TAGS = ["webhook events"]
EventIdPath = Annotated[str, Path(min_length=30, max_length=30, pattern=r"^whe_[a-z2-7]{26}$")]


def _json(description: str, model: type) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": model}}}


@route(
    router,
    "GET /v1/webhook-events",
    summary="Received webhook events, newest first, by source, type and status",
    description="A filtered page may hold fewer than `limit` items and still have a `nextCursor`.",
    tags=TAGS,
    responses={200: _json("a page of events", WebhookEventPage)},
)
def list_events(
    source: Annotated[str | None, Query(max_length=48, pattern=r"^[a-z0-9][a-z0-9_-]{0,47}$")] = None,
    type: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_./:-]{1,64}$")] = None,
    status: Annotated[Literal["RECEIVED", "PROCESSED", "FAILED"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=4096)] = None,
) -> dict[str, Any]:
    page = webhook_events_service().list_events(EventFilter(source, status, type), limit, cursor)
    return WebhookEventPage(
        items=[WebhookEventView.from_event(e) for e in page.items], next_cursor=page.next_cursor
    ).to_public()


@route(
    router,
    "GET /v1/webhook-events/{eventId}",
    summary="One webhook event with its headers and body as received",
    tags=TAGS,
    responses={200: _json("the event", WebhookEventDetail)},
)
def get_event(eventId: EventIdPath) -> dict[str, Any]:
    return WebhookEventDetail.from_event(webhook_events_service().get_event(eventId)).to_public()


@route(
    router,
    "POST /v1/webhook-events/{eventId}/replay",
    status_code=202,
    summary="Process a PROCESSED or FAILED event again (409 while it is still being processed)",
    tags=TAGS,
    responses={202: _json("the event, RECEIVED again", WebhookEventView)},
)
def replay_event(eventId: EventIdPath) -> Response[dict[str, Any]]:
    event = webhook_events_service().replay(eventId)
    return Response(
        status_code=202, content_type="application/json", body=WebhookEventView.from_event(event).to_public()
    )
