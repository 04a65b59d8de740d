"""Operator routes for timers (admin): what is pending and overdue, fire what is due, run a recovery."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import Field

from gatehouse.guards import principal_of
from gatehouse.models import ApiRequest
from gatehouse.routes.declare import route
from gatehouse.timer_actions import timer_actions
from gatehouse.timers.runtime import timers_service
from gatehouse.timers.views import RecoveryView, TimerPage

router = Router()
TAGS = ["timers (operators)"]


class ProcessRequest(ApiRequest):
    limit: int = Field(default=100, ge=1, le=1000, strict=True)


class RecoveryRequest(ApiRequest):
    limit: int = Field(default=200, ge=1, le=1000, strict=True)
    cursor: str | None = Field(default=None, max_length=4096)


def _json(description: str, model: type) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": model}}}


def _actor() -> str:
    return principal_of(router.current_event.raw_event).principal_id


@route(
    router,
    "GET /v1/timers/pending",
    summary="PENDING timers of every owner, soonest first",
    tags=TAGS,
    responses={200: _json("a page of timers", TimerPage)},
)
def pending_timers(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=4096)] = None,
) -> dict[str, Any]:
    timers, next_cursor = timers_service().pending(limit, cursor)
    return TimerPage.of(timers, next_cursor).to_public()


@route(
    router,
    "GET /v1/timers/overdue",
    summary="PENDING timers due longer ago than the sweep's grace period",
    tags=TAGS,
    responses={200: _json("a page of timers", TimerPage)},
)
def overdue_timers(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=4096)] = None,
) -> dict[str, Any]:
    timers, next_cursor = timers_service().overdue(limit, cursor)
    return TimerPage.of(timers, next_cursor).to_public()


@route(
    router,
    "POST /v1/timers/process",
    summary="Fire now every PENDING timer already due, soonest first",
    tags=TAGS,
    responses={200: _json("what was fired", RecoveryView)},
)
def process_timers(request: Annotated[ProcessRequest | None, Body()] = None) -> dict[str, Any]:
    limit = (request or ProcessRequest()).limit
    return RecoveryView.of(timers_service().process_due(timer_actions(), limit, _actor())).to_public()


@route(
    router,
    "POST /v1/recovery/trigger",
    summary="Reconcile a page of open timers: fire the due, re-create missing schedules, relay the outbox",
    tags=TAGS,
    responses={200: _json("the recovery report", RecoveryView)},
)
def trigger_recovery(request: Annotated[RecoveryRequest | None, Body()] = None) -> dict[str, Any]:
    body = request or RecoveryRequest()
    report = timers_service().recover(timer_actions(), body.limit, body.cursor, _actor())
    return RecoveryView.of(report).to_public()
