"""Wires the authorizer for Lambda from its environment variables (no pydantic on this path).

Secrets (the key pepper, HS256 issuers' secrets) are read from Secrets Manager by id through
gatehouse/clients/secrets.py, on the first credential that needs them (docs/operations.md#secrets).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gatehouse.auth.env import AuthEnv, load_auth_env
from gatehouse.auth.exceptions import AuthConfigError
from gatehouse.auth.service import Authenticator
from gatehouse.wiring import provided

if TYPE_CHECKING:
    from gatehouse.auth.api_key_auth import ApiKeyAuthenticator
    from gatehouse.auth.jwt_verifier import JwtVerifier

logger = logging.getLogger("gatehouse.auth")


def resolve_issuer_secrets(text: str, read_secret: Callable[[str], str]) -> str:
    """JWT_ISSUERS with each issuer's `secretId` replaced by the secret it names (HS256 issuers).

    Anything that is not a list of objects is passed on unchanged for parse_issuers to refuse."""
    try:
        issuers: Any = json.loads(text or "[]")
    except json.JSONDecodeError:
        return text
    if not isinstance(issuers, list) or not any(isinstance(i, dict) and "secretId" in i for i in issuers):
        return text
    resolved = []
    for raw in issuers:
        issuer = dict(raw) if isinstance(raw, dict) else raw
        if isinstance(issuer, dict) and "secretId" in issuer:
            secret_id = issuer.pop("secretId")
            if not isinstance(secret_id, str) or not secret_id or "secret" in issuer:
                raise AuthConfigError("JWT_ISSUERS: secretId must be a secret's name or ARN, instead of secret")
            issuer["secret"] = read_secret(secret_id)
        resolved.append(issuer)
    return json.dumps(resolved)


def _uses_secret_ids(text: str) -> bool:
    return '"secretId"' in text


def build_authenticator(env: AuthEnv) -> Authenticator:
    """The authenticator for `env`: nothing is built until a credential of each kind arrives."""

    def read_secret(secret_id: str) -> str:
        from gatehouse.clients.secrets import SecretUnavailable, secret_string

        try:
            return secret_string(secret_id, max_age=env.secrets_cache_seconds, timeout=env.aws_timeout_seconds)
        except SecretUnavailable as error:
            raise AuthConfigError(str(error)) from None

    def api_keys() -> ApiKeyAuthenticator:
        from gatehouse.auth.api_key_auth import ApiKeyAuthenticator
        from gatehouse.clients.boto import boto3_client
        from gatehouse.keys.dynamo import DynamoKeyStore

        client = boto3_client("dynamodb", env.aws_timeout_seconds, 2)
        # Read once per process: the pepper never rotates in place (docs/operations.md#secrets).
        pepper = read_secret(env.api_key_pepper_secret_id) if env.api_key_pepper_secret_id else ""
        return ApiKeyAuthenticator(
            DynamoKeyStore(client, env.table_name),
            environment=env.key_environment,
            pepper=pepper,
            cache_seconds=env.api_key_cache_seconds,
        )

    def jwt() -> JwtVerifier:
        from gatehouse.auth.jwt_verifier import JwtVerifier, parse_issuers

        return JwtVerifier(parse_issuers(resolve_issuer_secrets(env.jwt_issuers, read_secret)))

    def config_error(message: str) -> None:
        logger.error(json.dumps({"message": "JWT_ISSUERS is unusable; every JWT will be refused", "error": message}))

    # Issuers whose secret lives in Secrets Manager are rebuilt as often as the secret is re-read,
    # so a rotated HS256 secret reaches warm instances (docs/operations.md#secrets).
    refresh = env.secrets_cache_seconds if _uses_secret_ids(env.jwt_issuers) else None
    return Authenticator(
        cache_ttl=env.authorizer_cache_ttl,
        api_keys=api_keys,
        jwt=jwt,
        on_config_error=config_error,
        jwt_refresh_seconds=refresh,
    )


@provided
def authenticator() -> Authenticator:
    """The process's authenticator, from the environment, kept warm."""
    return build_authenticator(load_auth_env())
