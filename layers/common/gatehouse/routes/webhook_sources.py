"""Webhook-source routes: register or replace, read, list, delete, rotate a secret (never shown again)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import Field, SecretStr

from gatehouse.models import ApiRequest
from gatehouse.routes.declare import route
from gatehouse.webhooks.runtime import webhook_sources_service
from gatehouse.webhooks.views import RotatedSourceView, WebhookSourcePage, WebhookSourceView

router = Router()
TAGS = ["webhook sources"]
SourcePath = Annotated[str, Path(min_length=1, max_length=48, pattern=r"^[a-z0-9][a-z0-9_-]{0,47}$")]
# Secrets arrive as SecretStr: no validation error, repr or log line can show one.
Secret = Annotated[SecretStr, Field(min_length=1, max_length=512)]


def _json(description: str, model: type) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": model}}}


class PutSourceRequest(ApiRequest):
    scheme: Literal["standard", "stripe", "github", "slack", "shopify", "hmac-sha256"]
    secrets: list[Secret] = Field(min_length=1, max_length=5)
    tolerance_seconds: int = Field(default=300, ge=1, le=3600, strict=True)
    max_body_bytes: int = Field(default=262_144, ge=1, le=262_144, strict=True)
    event_type_path: str | None = Field(default=None, max_length=520)
    enabled: bool = Field(default=True, strict=True)


class RotateSecretRequest(ApiRequest):
    # Omitted: Gatehouse generates one where the scheme allows (standard whsec_, hmac-sha256).
    secret: Secret | None = None
    grace_period_seconds: int = Field(default=86_400, ge=0, le=30 * 86_400, strict=True)


@route(
    router,
    "PUT /v1/webhook-sources/{source}",
    summary="Register or replace a webhook source (201 created, 200 replaced); its secrets are never returned",
    tags=TAGS,
    responses={200: _json("replaced", WebhookSourceView), 201: _json("created", WebhookSourceView)},
)
def put_source(source: SourcePath, request: Annotated[PutSourceRequest, Body()]) -> Response[dict[str, Any]]:
    record, created = webhook_sources_service().put_source(
        source,
        scheme=request.scheme,
        secrets=[s.get_secret_value() for s in request.secrets],
        tolerance_seconds=request.tolerance_seconds,
        max_body_bytes=request.max_body_bytes,
        event_type_path=request.event_type_path,
        enabled=request.enabled,
    )
    return Response(
        status_code=201 if created else 200,
        content_type="application/json",
        body=WebhookSourceView.from_record(record).to_public(),
    )


@route(
    router,
    "GET /v1/webhook-sources",
    summary="Every webhook source, by name",
    tags=TAGS,
    responses={200: _json("a page of sources", WebhookSourcePage)},
)
def list_sources(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> dict[str, Any]:
    page = webhook_sources_service().list_sources(limit, cursor)
    return WebhookSourcePage(
        items=[WebhookSourceView.from_record(r) for r in page.items], next_cursor=page.next_cursor
    ).to_public()


@route(
    router,
    "GET /v1/webhook-sources/{source}",
    summary="One webhook source (without its secrets)",
    tags=TAGS,
    responses={200: _json("the source", WebhookSourceView)},
)
def get_source(source: SourcePath) -> dict[str, Any]:
    return WebhookSourceView.from_record(webhook_sources_service().get_source(source)).to_public()


@route(
    router,
    "DELETE /v1/webhook-sources/{source}",
    summary="Delete a webhook source: its deliveries answer 404 from now on (its events stay)",
    tags=TAGS,
    responses={204: {"description": "deleted"}},
)
def delete_source(source: SourcePath) -> Response[str]:
    webhook_sources_service().delete_source(source)
    return Response(status_code=204, body="")


@route(
    router,
    "POST /v1/webhook-sources/{source}/rotate-secret",
    summary="Add a new secret; the current ones keep verifying for the grace period",
    tags=TAGS,
    responses={200: _json("the source (and the generated secret, this once)", RotatedSourceView)},
)
def rotate_secret(source: SourcePath, request: Annotated[RotateSecretRequest | None, Body()] = None) -> dict[str, Any]:
    request = request or RotateSecretRequest()
    record, generated = webhook_sources_service().rotate_secret(
        source,
        request.secret.get_secret_value() if request.secret is not None else None,
        request.grace_period_seconds,
    )
    view = WebhookSourceView.from_record(record)
    return RotatedSourceView(**view.model_dump(), secret=generated).to_public()
