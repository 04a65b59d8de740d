"""The Redis adapter: one client per process with short timeouts, reused across warm invocations.

Timeouts are deliberately small (connect 50 ms, read 100 ms by default): a dead Redis must
cost a request milliseconds, never seconds. Callers that need more protection (the rate
limiter) wrap calls in a local breaker. REDIS_CLUSTER=true selects the cluster client, which
ElastiCache Serverless requires.
"""

from __future__ import annotations

from typing import Any

from gatehouse.settings import get_settings
from gatehouse.wiring import provided


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
    }
    if settings.redis_cluster:
        return redis.RedisCluster.from_url(settings.redis_url.get_secret_value(), **options)
    return redis.Redis.from_url(settings.redis_url.get_secret_value(), **options)
