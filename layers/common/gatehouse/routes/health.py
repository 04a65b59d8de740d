"""GET /health (liveness) and GET /health/ready (readiness), public, application/health+json."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from gatehouse.health import records as model
from gatehouse.health.runtime import readiness_cache, readiness_probes
from gatehouse.settings import get_settings

router = Router()

_HEALTH_CONTENT: dict[str, Any] = {
    model.MEDIA_TYPE: {
        "schema": {
            "type": "object",
            "required": ["status"],
            "properties": {
                "status": {"type": "string", "enum": ["pass", "warn", "fail"]},
                "version": {"type": "string"},
                "releaseId": {"type": "string"},
                "checks": {"type": "object", "additionalProperties": {"type": "array"}},
            },
        }
    }
}


def _health_doc(description: str) -> OpenAPIResponse:
    return {"description": description, "content": _HEALTH_CONTENT}


def _health_response(status_code: int, body: dict[str, Any]) -> Response[str]:
    return Response(
        status_code=status_code,
        content_type=model.MEDIA_TYPE,
        body=json.dumps(body),
        headers={"Cache-Control": "no-store"},
    )


@router.get(
    "/health",
    summary="Liveness",
    description="Touches no dependency: answers as long as the function runs.",
    tags=["health"],
    responses={200: _health_doc("alive")},
)
def liveness() -> Response[str]:
    settings = get_settings()
    return _health_response(200, model.document("pass", settings.version, settings.release_id))


@router.get(
    "/health/ready",
    summary="Readiness",
    description=(
        "DynamoDB, Redis, Scheduler and the dead-letter queue, checked concurrently with a timeout and "
        "cached a few seconds, and how many circuit breakers are not closed (`breakers:notClosed`, a `warn` "
        "when any is). pass/warn answer 200, fail answers 503. Redis down is `warn` while "
        "rate limits fail open, and `fail` while it has never answered this instance. "
        "Public: each check names its component and status only; which resource "
        "failed, and why, is in the function's log."
    ),
    tags=["health"],
    responses={200: _health_doc("ready"), 503: _health_doc("not ready")},
)
def readiness() -> Response[str]:
    settings = get_settings()
    ready = readiness_cache().get(
        readiness_probes(settings),
        ttl_seconds=settings.health_cache_seconds,
        timeout_seconds=settings.health_check_timeout_seconds,
    )
    body = model.document(ready.status, settings.version, settings.release_id, ready.results)
    return _health_response(model.http_status(ready.status), body)
