"""The HTTP API Lambda authorizer (payload 2.0, simple responses): bearer JWT or API key -> allow/deny."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, Final

from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerEventV2,
    APIGatewayAuthorizerResponseV2,
)

from gatehouse.auth.exceptions import InvalidToken
from gatehouse.auth.runtime import authenticator
from gatehouse.auth.service import Authenticator
from gatehouse.principal import MAX_TOKEN_LENGTH
from gatehouse.route_rules import required_scope
from gatehouse.scopes import has_scope

logger = logging.getLogger("gatehouse.auth")

DENY: Final[dict[str, Any]] = APIGatewayAuthorizerResponseV2(authorize=False).asdict()


def _log(level: int, message: str, **fields: Any) -> None:
    # One JSON line, and only the fields given: callers pass identifiers (key prefix, kid, iss),
    # never a token, a key or a hash.
    if logger.isEnabledFor(level):
        logger.log(level, json.dumps({"message": message, **fields}, default=str))


def authorization_value(event: APIGatewayAuthorizerEventV2) -> str | None:
    """The Authorization header of a v2 REQUEST authorizer event (or its identitySource entry)."""
    # Powertools' headers are case-insensitive: API Gateway lowercases names, hand-written events may not.
    headers = event.get("headers")
    value = event.headers.get("authorization") if isinstance(headers, Mapping) else None
    if not isinstance(value, str):
        sources = event.get("identitySource")
        value = sources[0] if isinstance(sources, list) and sources and isinstance(sources[0], str) else None
    return value


def bearer_token(value: str | None) -> str | None:
    """The token of `Bearer <token>` (scheme case-insensitive), or None for anything else."""
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_LENGTH or any(c.isspace() for c in token):
        return None
    return token


def authorize(event: Mapping[str, Any], auth: Authenticator | None = None) -> dict[str, Any]:
    """The simple response for one authorizer event: `{"isAuthorized": bool, "context": {...}}`."""
    auth = auth if auth is not None else authenticator()
    if not isinstance(event, APIGatewayAuthorizerEventV2):
        event = APIGatewayAuthorizerEventV2(dict(event))
    raw_route = event.get("routeKey")
    route_key = raw_route if isinstance(raw_route, str) else ""
    token = bearer_token(authorization_value(event))
    if token is None:
        _log(logging.INFO, "authorizer refused", reason="missing or malformed Authorization header", route=route_key)
        return dict(DENY)
    # Only InvalidToken becomes a deny. A store outage propagates as an invocation error, which
    # API Gateway answers 500 and does NOT cache, where a deny would be cached for the TTL.
    try:
        principal = auth.authenticate(token)
    except InvalidToken as refused:
        _log(logging.INFO, "authorizer refused", reason=refused.reason, route=route_key, **refused.log_fields)
        return dict(DENY)
    # Route scopes are enforced here only when API Gateway does not cache decisions. With a
    # cache TTL > 0 the decision is cached per Authorization header *across routes*, so a
    # refusal on one route would be replayed on every other route for the TTL (and an allow
    # likewise): the authorizer then only authenticates, and every handler checks its route's
    # scope itself (docs/reference.md#scopes), which is correct with or without the cache.
    if auth.cache_ttl == 0:
        needed = required_scope(route_key)
        if not has_scope(principal.scopes, needed):
            _log(
                logging.INFO,
                "authorizer refused",
                reason=f"missing scope {needed}",
                route=route_key,
                principalId=principal.principal_id,
            )
            return dict(DENY)
    try:
        context = principal.to_context()
    except ValueError:
        # Both credential paths refuse scopes that are not RFC 6749 tokens already; this keeps any
        # future path from handing the handlers a context whose scopes a split could widen.
        _log(logging.WARNING, "authorizer refused", reason="unrepresentable scopes", route=route_key)
        return dict(DENY)
    _log(logging.DEBUG, "authorizer allowed", route=route_key, principalId=principal.principal_id)
    return APIGatewayAuthorizerResponseV2(authorize=True, context=context).asdict()
