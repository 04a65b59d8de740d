"""API-key routes: create (secret shown once), list, get, rotate with grace, revoke."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import Field

from gatehouse.guards import principal_of
from gatehouse.keys.runtime import keys_service
from gatehouse.keys.views import ApiKeyPage, ApiKeyView, CreatedApiKey
from gatehouse.models import ApiRequest, RequestTime
from gatehouse.principal import Principal
from gatehouse.routes.declare import route

router = Router()
TAGS = ["api keys"]
KeyIdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


def _json(description: str, model: type) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": model}}}


class CreateKeyRequest(ApiRequest):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(min_length=1, max_length=20)
    tier: Literal["free", "starter", "professional", "enterprise"] | None = None
    expires_at: RequestTime | None = None
    owner_id: str | None = Field(default=None, min_length=1, max_length=256)


class RotateKeyRequest(ApiRequest):
    # Strict: `true`, `"60"` and `60.0` are refused, not read as 1, 60 and 60 seconds.
    grace_period_seconds: int = Field(default=86_400, ge=0, le=30 * 86_400, strict=True)


def _caller() -> Principal:
    return principal_of(router.current_event.raw_event)


@route(
    router,
    "POST /v1/keys",
    status_code=201,
    summary="Create an API key (the secret `key` is shown in this answer only)",
    tags=TAGS,
    responses={201: _json("created", CreatedApiKey)},
)
def create_key(request: Annotated[CreateKeyRequest, Body()]) -> dict[str, Any]:
    view, secret = keys_service().create_key(
        _caller(),
        request.name,
        request.scopes,
        tier=request.tier,
        expires_at=request.expires_at,
        owner_id=request.owner_id,
    )
    return CreatedApiKey.of(view, secret).to_public()


@route(
    router,
    "GET /v1/keys",
    summary="The caller's keys (every key for admin), never a secret",
    tags=TAGS,
    responses={200: _json("a page of keys", ApiKeyPage)},
)
def list_keys(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> dict[str, Any]:
    return keys_service().list_keys(_caller(), limit, cursor).to_public()


@route(
    router,
    "GET /v1/keys/{keyId}",
    summary="One key",
    tags=TAGS,
    responses={200: _json("the key", ApiKeyView)},
)
def get_key(keyId: KeyIdPath) -> dict[str, Any]:
    return keys_service().get_key(_caller(), keyId).to_public()


@route(
    router,
    "POST /v1/keys/{keyId}/rotate",
    status_code=201,
    summary="Rotate: a new key now, the old one keeps working for the grace period",
    tags=TAGS,
    responses={201: _json("the new key", CreatedApiKey)},
)
def rotate_key(
    keyId: KeyIdPath,
    request: Annotated[RotateKeyRequest | None, Body()] = None,
) -> dict[str, Any]:
    grace = (request or RotateKeyRequest()).grace_period_seconds
    view, secret = keys_service().rotate_key(_caller(), keyId, grace)
    return CreatedApiKey.of(view, secret).to_public()


@route(
    router,
    "DELETE /v1/keys/{keyId}",
    summary="Revoke: refused by the authorizer from now on (within its cache TTLs)",
    tags=TAGS,
    responses={200: _json("the revoked key", ApiKeyView)},
)
def revoke_key(keyId: KeyIdPath) -> dict[str, Any]:
    return keys_service().revoke_key(_caller(), keyId).to_public()
