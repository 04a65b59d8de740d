"""Campaign routes: create, list, read, change, cancel, engage; a campaign's lifecycle and timers.

The area's use cases, records, views and adapters are imported by the first request (`_service`),
and the answers name their views (`JsonAnswer`): the function's import holds the request
models and the routes only (docs/metrics.md#cold-start).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from gatehouse.campaigns.requests import (
    CancelCampaignRequest,
    CancelTimerRequest,
    CreateCampaignRequest,
    EngagementRequest,
    UpdateCampaignRequest,
)
from gatehouse.guards import principal_of
from gatehouse.principal import Principal
from gatehouse.routes.declare import answers_from, route

if TYPE_CHECKING:
    from gatehouse.campaigns.service import CampaignsService

router = Router()
TAGS = ["campaigns"]
# Shapes only (a malformed id is a 400); an id that is not the caller's answers 404 like a missing one.
CampaignIdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
TimerIdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
TimerStatus = Literal["PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"]
TimerType = Annotated[str, Query(min_length=1, max_length=32, pattern=r"^[A-Z][A-Z0-9_]*$")]


_json = answers_from("gatehouse.campaigns.views")
_timer_json = answers_from("gatehouse.timers.views")


def _caller() -> Principal:
    return principal_of(router.current_event.raw_event)


def _service() -> CampaignsService:
    from gatehouse.campaigns.runtime import campaigns_service

    return campaigns_service()


@route(
    router,
    "POST /v1/campaigns",
    status_code=201,
    summary="Create a campaign: SCHEDULED, with a START and an END timer (and optional REMINDER timers)",
    tags=TAGS,
    responses={201: _json("created", "CreatedCampaignView")},
)
def create_campaign(request: Annotated[CreateCampaignRequest, Body()]) -> dict[str, Any]:
    return _service().create(_caller(), request).to_public()


@route(
    router,
    "GET /v1/campaigns",
    summary="The caller's campaigns, newest first (every campaign for admin)",
    tags=TAGS,
    responses={200: _json("a page of campaigns", "CampaignPageView")},
)
def list_campaigns(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> dict[str, Any]:
    return _service().list_campaigns(_caller(), limit, cursor).to_public()


@route(
    router,
    "GET /v1/campaigns/{campaignId}",
    summary="One campaign",
    tags=TAGS,
    responses={200: _json("the campaign", "CampaignView")},
)
def get_campaign(campaignId: CampaignIdPath) -> dict[str, Any]:
    return _service().get(_caller(), campaignId).to_public()


@route(
    router,
    "PATCH /v1/campaigns/{campaignId}",
    summary="Change a campaign; new times move its PENDING timers",
    tags=TAGS,
    responses={200: _json("the campaign (callbackSecret: with its first callbackUrl)", "UpdatedCampaignView")},
)
def update_campaign(campaignId: CampaignIdPath, request: Annotated[UpdateCampaignRequest, Body()]) -> dict[str, Any]:
    return _service().update(_caller(), campaignId, request).to_public()


@route(
    router,
    "POST /v1/campaigns/{campaignId}/cancel",
    summary="Cancel a SCHEDULED or RUNNING campaign with its pending timers",
    tags=TAGS,
    responses={200: _json("the cancelled campaign", "CampaignView")},
)
def cancel_campaign(
    campaignId: CampaignIdPath, request: Annotated[CancelCampaignRequest | None, Body()] = None
) -> dict[str, Any]:
    reason = request.reason if request else None
    return _service().cancel(_caller(), campaignId, reason).to_public()


@route(
    router,
    "POST /v1/campaigns/{campaignId}/engagements",
    summary="Record an engagement (once per user and type); reaching the target may complete the campaign",
    tags=TAGS,
    responses={201: _json("counted", "EngagementView"), 200: _json("already counted", "EngagementView")},
)
def record_engagement(
    campaignId: CampaignIdPath, request: Annotated[EngagementRequest, Body()]
) -> Response[dict[str, Any]]:
    outcome = _service().engage(_caller(), campaignId, request)
    return Response(
        status_code=201 if outcome.created else 200, content_type="application/json", body=outcome.view.to_public()
    )


@route(
    router,
    "GET /v1/campaigns/{campaignId}/lifecycle",
    summary="The campaign, its timers, metrics, state history and next five events",
    tags=TAGS,
    responses={200: _json("the lifecycle", "LifecycleView")},
)
def campaign_lifecycle(campaignId: CampaignIdPath) -> dict[str, Any]:
    return _service().lifecycle(_caller(), campaignId).to_public()


@route(
    router,
    "GET /v1/campaigns/{campaignId}/timers",
    summary="A campaign's timers, soonest first",
    tags=TAGS,
    responses={200: _timer_json("a page of timers", "TimerPage")},
)
def campaign_timers(
    campaignId: CampaignIdPath,
    status: Annotated[TimerStatus | None, Query()] = None,
    type: TimerType | None = None,  # the query parameter's public name
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    page = _service().timers(_caller(), campaignId, status=status, timer_type=type, limit=limit, cursor=cursor)
    return page.to_public()


@route(
    router,
    "POST /v1/campaigns/{campaignId}/timers/{timerId}/execute",
    summary="Fire a PENDING timer now (409 for any other state)",
    tags=TAGS,
    responses={200: _timer_json("the fired timer", "TimerView")},
)
def execute_timer(campaignId: CampaignIdPath, timerId: TimerIdPath) -> dict[str, Any]:
    return _service().execute_timer(_caller(), campaignId, timerId).to_public()


@route(
    router,
    "DELETE /v1/campaigns/{campaignId}/timers/{timerId}",
    summary="Cancel a PENDING or FAILED timer and its schedule (409 otherwise)",
    tags=TAGS,
    responses={200: _timer_json("the cancelled timer", "TimerView")},
)
def cancel_timer(
    campaignId: CampaignIdPath, timerId: TimerIdPath, request: Annotated[CancelTimerRequest | None, Body()] = None
) -> dict[str, Any]:
    reason = request.reason if request else None
    return _service().cancel_timer(_caller(), campaignId, timerId, reason).to_public()
