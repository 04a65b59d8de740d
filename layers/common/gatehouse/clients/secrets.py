"""Secrets from AWS Secrets Manager, through Powertools parameters with its per-process cache.

Settings-free (callers pass the cache age and timeouts), so the lean authorizer reads its pepper
and HS256 secrets here too: Powertools parameters loads boto3, never pydantic. The endpoint comes
from the standard AWS_ENDPOINT_URL variables (moto's Secrets Manager in the local stack).
How each secret is created and rotated: docs/operations.md#secrets.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any, Final

from gatehouse.clients.boto import boto3_client
from gatehouse.wiring import on_reset

DEFAULT_MAX_AGE_SECONDS: Final = 300.0


class SecretUnavailable(RuntimeError):
    """A secret could not be read or is not what it should be. The message names the secret, never its value."""


@cache
def _provider(timeout: float) -> Any:
    # Imported on first use: a function that reads no secret never loads boto3 for it.
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto3_client=boto3_client("secretsmanager", timeout, 2))


def secret_string(secret_id: str, *, max_age: float = DEFAULT_MAX_AGE_SECONDS, timeout: float = 2.0) -> str:
    """The secret's current string value, fetched at most once per `max_age` seconds per process."""
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    try:
        value = _provider(timeout).get(secret_id, max_age=int(max_age))
    except GetParameterError as error:
        # Powertools puts the SDK's message in; it names the secret and the failure, not the value.
        raise SecretUnavailable(f"secret {secret_id!r} could not be read: {error}") from None
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="strict")
    if not isinstance(value, str) or not value:
        raise SecretUnavailable(f"secret {secret_id!r} has no string value")
    return value


def secret_json(secret_id: str, *, max_age: float = DEFAULT_MAX_AGE_SECONDS, timeout: float = 2.0) -> dict[str, Any]:
    """The secret's value parsed as a JSON object (e.g. {"username", "password"})."""
    try:
        value = json.loads(secret_string(secret_id, max_age=max_age, timeout=timeout))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise SecretUnavailable(f"secret {secret_id!r} is not JSON") from None
    if not isinstance(value, dict):
        raise SecretUnavailable(f"secret {secret_id!r} is not a JSON object")
    return value


# Endpoints, credentials and cached values come from the environment: reset() forgets them all.
on_reset(_provider.cache_clear)
