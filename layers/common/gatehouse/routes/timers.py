"""Operator routes for timers (admin): what is pending and overdue, fire what is due, run a recovery.

The timers area (use cases, records, views, adapters) is imported by the first request that needs
it, and the answers name their views: the campaigns function serves these routes too, and its
import holds only the routes (docs/metrics.md#cold-start).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import Field

from gatehouse.guards import principal_of
from gatehouse.models import ApiRequest
from gatehouse.routes.declare import answers_from, route

if TYPE_CHECKING:
    from gatehouse.timers.records import Timer, TimerAction
    from gatehouse.timers.service import RecoveryReport, TimersService

router = Router()
TAGS = ["timers (operators)"]


class ProcessRequest(ApiRequest):
    limit: int = Field(default=100, ge=1, le=1000, strict=True)


class RecoveryRequest(ApiRequest):
    limit: int = Field(default=200, ge=1, le=1000, strict=True)
    cursor: str | None = Field(default=None, max_length=4096)


_json = answers_from("gatehouse.timers.views")


def _actor() -> str:
    return principal_of(router.current_event.raw_event).principal_id


def _service() -> TimersService:
    from gatehouse.timers.runtime import timers_service

    return timers_service()


def _actions() -> Mapping[str, TimerAction]:
    from gatehouse.timer_actions import timer_actions

    return timer_actions()


def _page(timers: Sequence[Timer], next_cursor: str | None) -> dict[str, Any]:
    from gatehouse.timers.views import TimerPage

    return TimerPage.of(timers, next_cursor).to_public()


def _report(report: RecoveryReport) -> dict[str, Any]:
    from gatehouse.timers.views import RecoveryView

    return RecoveryView.of(report).to_public()


@route(
    router,
    "GET /v1/timers/pending",
    summary="PENDING timers of every owner, soonest first",
    tags=TAGS,
    responses={200: _json("a page of timers", "TimerPage")},
)
def pending_timers(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=4096)] = None,
) -> dict[str, Any]:
    return _page(*_service().pending(limit, cursor))


@route(
    router,
    "GET /v1/timers/overdue",
    summary="PENDING timers due longer ago than the sweep's grace period",
    tags=TAGS,
    responses={200: _json("a page of timers", "TimerPage")},
)
def overdue_timers(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=4096)] = None,
) -> dict[str, Any]:
    return _page(*_service().overdue(limit, cursor))


@route(
    router,
    "POST /v1/timers/process",
    summary="Fire now every PENDING timer already due, soonest first",
    tags=TAGS,
    responses={200: _json("what was fired", "RecoveryView")},
)
def process_timers(request: Annotated[ProcessRequest | None, Body()] = None) -> dict[str, Any]:
    limit = (request or ProcessRequest()).limit
    return _report(_service().process_due(_actions(), limit, _actor()))


@route(
    router,
    "POST /v1/recovery/trigger",
    summary="Reconcile a page of open timers: fire the due, re-create missing schedules, relay the outbox",
    tags=TAGS,
    responses={200: _json("the recovery report", "RecoveryView")},
)
def trigger_recovery(request: Annotated[RecoveryRequest | None, Body()] = None) -> dict[str, Any]:
    body = request or RecoveryRequest()
    return _report(_service().recover(_actions(), body.limit, body.cursor, _actor()))
