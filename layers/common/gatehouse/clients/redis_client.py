"""The Redis adapter: one client per process with short timeouts, reused across warm invocations.

Timeouts are deliberately small (connect 50 ms, read 100 ms by default): a dead Redis must
cost a request milliseconds, never seconds. Callers that need more protection (the rate
limiter) wrap calls in a local breaker. REDIS_CLUSTER=true selects the cluster client, which
ElastiCache Serverless requires. With REDIS_AUTH_SECRET_ID, every new connection authenticates with
the secret's current username and password (cached SECRETS_CACHE_SECONDS), so a rotated password
reaches warm instances without a redeploy (docs/operations.md#secrets).
"""

from __future__ import annotations

from typing import Any

from gatehouse.clients.secrets import SecretUnavailable, secret_json
from gatehouse.settings import Settings, get_settings
from gatehouse.wiring import provided


class SecretCredentials:
    """A redis-py credential provider (duck-typed): asked for each new connection, answers the secret's
    username and password. A secret that cannot be read is a failed connection, so callers treat it
    like any Redis outage (the limiter's failure mode), never as a 500."""

    def __init__(self, secret_id: str, max_age: float, timeout: float) -> None:
        self.secret_id = secret_id
        self.max_age = max_age
        self.timeout = timeout

    def get_credentials(self) -> tuple[str] | tuple[str, str]:
        from redis.exceptions import ConnectionError as RedisConnectionError

        try:
            value = secret_json(self.secret_id, max_age=self.max_age, timeout=self.timeout)
        except SecretUnavailable as error:
            raise RedisConnectionError(str(error)) from None
        password = value.get("password")
        if not isinstance(password, str) or not password:
            raise RedisConnectionError(f"secret {self.secret_id!r} has no password")
        username = value.get("username")
        return (username, password) if isinstance(username, str) and username else (password,)


def _credentials(settings: Settings) -> dict[str, Any]:
    if not settings.redis_auth_secret_id:
        return {}
    provider = SecretCredentials(
        settings.redis_auth_secret_id, settings.secrets_cache_seconds, settings.aws_timeout_seconds
    )
    return {"credential_provider": provider}


@provided
def redis_client() -> Any:
    """The process's Redis client (redis.Redis, or redis.RedisCluster in cluster mode)."""
    import redis  # on first use: liveness and docs never need it
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    settings = get_settings()
    options: dict[str, Any] = {
        "socket_connect_timeout": settings.redis_connect_timeout_ms / 1000,
        "socket_timeout": settings.redis_read_timeout_ms / 1000,
        # One immediate retry covers a connection the server closed while we were idle;
        # more would multiply the timeout budget on a dead server.
        "retry": Retry(NoBackoff(), retries=1),
        "health_check_interval": 30,
        **_credentials(settings),
    }
    if settings.redis_cluster:
        return redis.RedisCluster.from_url(settings.redis_url.get_secret_value(), **options)
    return redis.Redis.from_url(settings.redis_url.get_secret_value(), **options)
