"""Breaker routes (admin): list the fleet's breakers, isolate one, reset one (docs/resilience.md#operating-breakers)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from gatehouse.resilience.runtime import breakers_service
from gatehouse.resilience.views import BreakerPageView, BreakerView
from gatehouse.routes.declare import route

router = Router()
TAGS = ["breakers"]
NamePath = Annotated[str, Path(min_length=1, max_length=600)]


def _json(description: str, model: type) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": model}}}


@route(
    router,
    "GET /v1/breakers",
    summary="Every breaker the fleet has used, by name, with its state, window and probes",
    tags=TAGS,
    responses={200: _json("a page of breakers", BreakerPageView)},
)
def list_breakers(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> dict[str, Any]:
    return BreakerPageView.of(breakers_service().list_breakers(limit, cursor)).to_public()


@route(
    router,
    "POST /v1/breakers/{name}/reset",
    summary="Close a breaker now, with an empty window (an isolated one too)",
    tags=TAGS,
    responses={200: _json("the breaker", BreakerView)},
)
def reset_breaker(name: NamePath) -> dict[str, Any]:
    # Powertools hands path parameters over still percent-encoded ("[::1]:443" arrives as %5B...).
    return BreakerView.of(breakers_service().reset(unquote(name))).to_public()


@route(
    router,
    "POST /v1/breakers/{name}/isolate",
    summary="Open a breaker until an operator resets it: no call and no probe reaches its downstream",
    tags=TAGS,
    responses={200: _json("the breaker", BreakerView)},
)
def isolate_breaker(name: NamePath) -> dict[str, Any]:
    return BreakerView.of(breakers_service().isolate(unquote(name))).to_public()
