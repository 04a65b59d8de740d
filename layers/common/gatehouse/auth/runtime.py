"""Wires the authorizer for Lambda from its environment variables (no pydantic on this path)."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from gatehouse.auth.env import AuthEnv, load_auth_env
from gatehouse.auth.service import Authenticator
from gatehouse.wiring import provided

if TYPE_CHECKING:
    from gatehouse.auth.api_key_auth import ApiKeyAuthenticator
    from gatehouse.auth.jwt_verifier import JwtVerifier

logger = logging.getLogger("gatehouse.auth")


def build_authenticator(env: AuthEnv) -> Authenticator:
    """The authenticator for `env`: nothing is built until a credential of each kind arrives."""

    def api_keys() -> ApiKeyAuthenticator:
        from gatehouse.auth.api_key_auth import ApiKeyAuthenticator
        from gatehouse.clients.boto import boto3_client
        from gatehouse.keys.dynamo import DynamoKeyStore

        client = boto3_client("dynamodb", env.aws_timeout_seconds, 2)
        return ApiKeyAuthenticator(
            DynamoKeyStore(client, env.table_name),
            environment=env.key_environment,
            pepper=env.api_key_pepper,
            cache_seconds=env.api_key_cache_seconds,
        )

    def jwt() -> JwtVerifier:
        from gatehouse.auth.jwt_verifier import JwtVerifier, parse_issuers

        return JwtVerifier(parse_issuers(env.jwt_issuers))

    def config_error(message: str) -> None:
        logger.error(json.dumps({"message": "JWT_ISSUERS is unusable; every JWT will be refused", "error": message}))

    return Authenticator(cache_ttl=env.authorizer_cache_ttl, api_keys=api_keys, jwt=jwt, on_config_error=config_error)


@provided
def authenticator() -> Authenticator:
    """The process's authenticator, from the environment, kept warm."""
    return build_authenticator(load_auth_env())
