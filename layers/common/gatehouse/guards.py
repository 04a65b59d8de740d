"""Pre-route guards of the edge pipeline: checks that must pass before a body is parsed."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from gatehouse.api import Guard
from gatehouse.errors import (
    AuthenticationError,
    AuthorizationError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
    ValidationError,
)
from gatehouse.observability import metrics
from gatehouse.principal import Principal
from gatehouse.ratelimit.render import rate_limit_error, rate_limit_headers
from gatehouse.ratelimit.runtime import ratelimit_service
from gatehouse.route_rules import required_scope
from gatehouse.scopes import has_scope

_METHODS_WITH_BODY = {"POST", "PUT", "PATCH", "DELETE"}
DEFAULT_MAX_JSON_BYTES = 1_048_576


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


def body_bytes(event: Mapping[str, Any]) -> bytes:
    """The body as the client sent it (API Gateway may have base64-encoded it)."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as error:
            raise ValidationError(details=[{"field": "body", "message": "is not valid base64"}]) from error
    return body.encode("utf-8", errors="surrogatepass")


def json_body_guard(max_bytes: int = DEFAULT_MAX_JSON_BYTES) -> Guard:
    """Refuse a body that is not JSON: too large (413), another media type (415), unparseable (400).

    The body is parsed once here because Python's parser raises more than JSONDecodeError on
    hostile input (RecursionError on deep nesting, ValueError on 5000-digit integers), and
    those must be a 400, not an error inside the resolver.
    """

    def guard(event: Mapping[str, Any]) -> None:
        method = (event.get("requestContext") or {}).get("http", {}).get("method", "GET").upper()
        if method not in _METHODS_WITH_BODY or not event.get("body"):
            return
        raw = body_bytes(event)
        if len(raw) > max_bytes:
            raise PayloadTooLargeError(f"The request body is {len(raw)} bytes; the limit is {max_bytes}.")
        content_type = (event.get("headers") or {}).get("content-type", "")
        if not _is_json(content_type):
            raise UnsupportedMediaTypeError(
                "The request body must be application/json.",
                details=[{"field": "content-type", "message": f"got {content_type or 'nothing'!r}"}],
            )
        try:
            json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as error:
            raise ValidationError(details=[{"field": "body", "message": "The body is not valid JSON."}]) from error

    return guard


# The parsed principal rides on the event, so the guards and the route parse it once per request.
_PRINCIPAL = "gatehouse.principal"


def principal_of(event: Mapping[str, Any]) -> Principal:
    """The caller as the authorizer described it in `requestContext.authorizer.lambda`."""
    cached = event.get(_PRINCIPAL)
    if isinstance(cached, Principal):
        return cached
    context = ((event.get("requestContext") or {}).get("authorizer") or {}).get("lambda")
    if not isinstance(context, Mapping):
        raise AuthenticationError()
    try:
        principal = Principal.from_context(context)
    except ValueError as error:
        raise AuthenticationError() from error
    if isinstance(event, dict):
        event[_PRINCIPAL] = principal
    return principal


def route_scope_guard(event: Mapping[str, Any]) -> None:
    """Check the route's scope in the handler too, so a cached allow can never widen access.

    API Gateway caches an authorizer's decision per Authorization header across routes;
    this check is what keeps a token allowed on one route from opening another.
    """
    require_scope(principal_of(event), required_scope(str(event.get("routeKey", ""))))


def require_scope(principal: Principal, required: str | None) -> None:
    """403 AUTHORIZATION_ERROR unless `principal` holds `required` (admin holds every scope)."""
    if not has_scope(principal.scopes, required):
        raise AuthorizationError(
            "The credentials do not allow this operation.",
            details=[{"field": "scope", "message": f"requires {required}"}],
        )


def rate_limit_guard(event: Mapping[str, Any]) -> dict[str, str]:
    """Charge the request to its principal under its tier's and route's policies.

    Runs before the scope and body checks, so refused and malformed requests count too (a
    refused one in the caller's own windows only, never its owner's shared budget) and every
    answer, 2xx or 4xx, carries the rate-limit headers.
    """
    decision = ratelimit_service().charge_request(principal_of(event), str(event.get("routeKey", "")))
    if decision.degraded:
        # Decided without Redis: the RedisUnreachable alarm watches this (docs/operations.md#alarms).
        metrics.add_metric(name="RateLimitDegraded", unit=MetricUnit.Count, value=1)
    if not decision.allowed:
        raise rate_limit_error(decision)
    return rate_limit_headers(decision)


def protected_route_guards() -> list[Guard]:
    """What every route behind the authorizer runs, in order: limit, scope, body."""
    return [rate_limit_guard, route_scope_guard, json_body_guard()]
