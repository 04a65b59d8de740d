"""The HTTP API Lambda authorizer (payload 2.0, simple responses): bearer JWT or API key -> allow/deny."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerEventV2,
    APIGatewayAuthorizerResponseV2,
)

from gatehouse.auth import api_key_format
from gatehouse.auth.env import AuthEnv, load_auth_env
from gatehouse.auth.exceptions import AuthConfigError, InvalidToken
from gatehouse.auth.principal import MAX_TOKEN_LENGTH, Principal
from gatehouse.auth.scopes import has_scope, required_scope

if TYPE_CHECKING:
    from gatehouse.auth.api_key_auth import ApiKeyAuthenticator
    from gatehouse.auth.jwt_verifier import JwtVerifier

logger = logging.getLogger("gatehouse.auth")

DENY: Final[dict[str, Any]] = APIGatewayAuthorizerResponseV2(authorize=False).asdict()


class Authenticator:
    """Everything one authorizer instance needs, built once per process and kept warm.

    Each credential path is built on its first use, with its imports: a JWT never pays for
    boto3 (~150 ms of imports plus the client) and an API key never pays for pyjwt and
    cryptography (~85 ms). An instance serving one kind of credential starts that much faster.
    """

    def __init__(
        self,
        env: AuthEnv,
        *,
        jwt: JwtVerifier | None = None,
        api_keys: ApiKeyAuthenticator | None = None,
    ) -> None:
        self.env = env
        self.cache_ttl = env.authorizer_cache_ttl
        self._jwt = jwt
        self._api_keys = api_keys
        self._jwt_error: str | None = None
        self._lock = threading.Lock()

    def authenticate(self, token: str) -> Principal:
        if api_key_format.looks_like_api_key(token):
            return (self._api_keys or self._build_api_keys()).authenticate(token)
        verifier = self._jwt or self._build_jwt()
        if verifier is None:
            raise InvalidToken(f"no usable JWT issuers ({self._jwt_error})")
        return verifier.verify(token)

    def _build_api_keys(self) -> ApiKeyAuthenticator:
        from gatehouse.auth.api_key_auth import ApiKeyAuthenticator
        from gatehouse.auth.key_store import DynamoKeyStore

        with self._lock:
            if self._api_keys is None:
                store = DynamoKeyStore(_dynamodb_client(self.env), self.env.table_name)
                self._api_keys = ApiKeyAuthenticator(
                    store,
                    environment=self.env.key_environment,
                    pepper=self.env.api_key_pepper,
                    cache_seconds=self.env.api_key_cache_seconds,
                )
            return self._api_keys

    def _build_jwt(self) -> JwtVerifier | None:
        from gatehouse.auth.jwt_verifier import JwtVerifier, parse_issuers

        with self._lock:
            if self._jwt is None and self._jwt_error is None:
                try:
                    self._jwt = JwtVerifier(parse_issuers(self.env.jwt_issuers))
                except AuthConfigError as exc:
                    # Fail closed for JWTs but keep API keys working; logged once here and
                    # as the reason of every JWT refusal after.
                    self._jwt_error = str(exc)
                    _log(logging.ERROR, "JWT_ISSUERS is unusable; every JWT will be refused", error=str(exc))
            return self._jwt


def _dynamodb_client(env: AuthEnv) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=env.aws_timeout_seconds,
        read_timeout=env.aws_timeout_seconds,
        retries={"max_attempts": 2, "mode": "standard"},
        tcp_keepalive=True,
    )
    return boto3.client("dynamodb", config=config)


def build_authenticator(env: AuthEnv | None = None) -> Authenticator:
    """The authenticator for `env` (default: the process environment). Nothing is built yet."""
    return Authenticator(env if env is not None else load_auth_env())


_default: Authenticator | None = None
_default_lock = threading.Lock()


def default_authenticator() -> Authenticator:
    global _default  # noqa: PLW0603 - one per process, reused by warm invocations
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = build_authenticator()
    return _default


def reset_default_authenticator() -> None:
    """Forget the process's authenticator (tests that change the environment call this)."""
    global _default  # noqa: PLW0603
    _default = None


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


def authorize(event: Mapping[str, Any], authenticator: Authenticator | None = None) -> dict[str, Any]:
    """The simple response for one authorizer event: `{"isAuthorized": bool, "context": {...}}`."""
    auth = authenticator if authenticator is not None else default_authenticator()
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
    # scope itself (SPEC §6), which is correct with or without the cache.
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
    _log(logging.DEBUG, "authorizer allowed", route=route_key, principalId=principal.principal_id)
    return APIGatewayAuthorizerResponseV2(authorize=True, context=principal.to_context()).asdict()
