"""GET /v1/metrics (a window's summary, JSON) and GET /v1/metrics/prometheus (the same counters as text)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from gatehouse.errors import ServiceUnavailableError
from gatehouse.metrics.prometheus import CONTENT_TYPE
from gatehouse.metrics.records import MetricsUnavailable
from gatehouse.metrics.runtime import metrics_service
from gatehouse.routes.declare import route

router = Router()
TAGS = ["metrics"]
# A window other than these is a 400 VALIDATION_ERROR from the resolver's validation (docs/metrics.md).
Window = Annotated[Literal["5m", "1h", "24h"], Query(description="How far back: 5m, 1h or 24h.")]


@route(
    router,
    "GET /v1/metrics",
    summary="Requests, rate limiting, webhooks, timers and breakers over a window",
    tags=TAGS,
)
def get_metrics(window: Window = "5m") -> dict[str, Any]:
    try:
        return metrics_service().summary(window)
    except MetricsUnavailable as error:
        raise ServiceUnavailableError("The metrics store is unavailable; try again shortly.") from error


@route(
    router,
    "GET /v1/metrics/prometheus",
    summary="The same counters in the Prometheus text format (OpenTelemetry names)",
    tags=TAGS,
    # Not JSON: the text exposition format, so a scraper (and the OpenAPI document) know what comes.
    responses={200: {"description": "the exposition text", "content": {CONTENT_TYPE: {"schema": {"type": "string"}}}}},
)
def get_prometheus(window: Window = "24h") -> Response[str]:
    try:
        text = metrics_service().prometheus(window)
    except MetricsUnavailable as error:
        raise ServiceUnavailableError("The metrics store is unavailable; try again shortly.") from error
    return Response(status_code=200, content_type=CONTENT_TYPE, body=text)
