"""The few environment variables the authorizer reads, without pydantic (cold start)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from gatehouse.auth.exceptions import AuthConfigError

# Defaults mirror gatehouse.settings.Settings so that both paths agree on an unset variable.
_DEFAULTS = {
    "GATEHOUSE_KEY_ENV": "test",
    "AUTHORIZER_CACHE_TTL": "60",
    "JWT_ISSUERS": "[]",
    "API_KEY_PEPPER_SECRET_ID": "",
    "SECRETS_CACHE_SECONDS": "300",
    "API_KEY_CACHE_SECONDS": "10",
    "TABLE_NAME": "gatehouse",
    "AWS_CLIENT_TIMEOUT_SECONDS": "2",
}


@dataclass(frozen=True, slots=True)
class AuthEnv:
    key_environment: str
    authorizer_cache_ttl: int
    jwt_issuers: str
    api_key_pepper_secret_id: str  # the pepper itself is read from Secrets Manager (auth/runtime.py)
    secrets_cache_seconds: float
    api_key_cache_seconds: float
    table_name: str
    aws_timeout_seconds: float


def _get(environ: Mapping[str, str], name: str) -> str:
    return environ.get(name, _DEFAULTS[name])


def _number(environ: Mapping[str, str], name: str, kind: type[int] | type[float]) -> int | float:
    raw = _get(environ, name)
    try:
        value = kind(raw)
    except ValueError:
        raise AuthConfigError(f"{name} must be a {kind.__name__}, got {raw!r}") from None
    if value < 0:
        raise AuthConfigError(f"{name} must not be negative")
    return value


def load_auth_env(environ: Mapping[str, str] | None = None) -> AuthEnv:
    """Read and check the authorizer's variables; a bad value is a configuration error."""
    environ = os.environ if environ is None else environ
    key_environment = _get(environ, "GATEHOUSE_KEY_ENV")
    if key_environment not in ("live", "test"):
        raise AuthConfigError("GATEHOUSE_KEY_ENV must be 'live' or 'test'")
    return AuthEnv(
        key_environment=key_environment,
        authorizer_cache_ttl=int(_number(environ, "AUTHORIZER_CACHE_TTL", int)),
        jwt_issuers=_get(environ, "JWT_ISSUERS"),
        api_key_pepper_secret_id=_get(environ, "API_KEY_PEPPER_SECRET_ID"),
        secrets_cache_seconds=float(_number(environ, "SECRETS_CACHE_SECONDS", float)),
        api_key_cache_seconds=float(_number(environ, "API_KEY_CACHE_SECONDS", float)),
        table_name=_get(environ, "TABLE_NAME"),
        aws_timeout_seconds=float(_number(environ, "AWS_CLIENT_TIMEOUT_SECONDS", float)),
    )
