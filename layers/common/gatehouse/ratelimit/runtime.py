"""The process's rate limiter, wired to the shared Redis client and the DynamoDB override store."""

from __future__ import annotations

from functools import lru_cache

from gatehouse.ratelimit.override_store import DynamoOverrideStore
from gatehouse.ratelimit.overrides import CachedOverrideSource
from gatehouse.ratelimit.service import RateLimiter
from gatehouse.stores.redis_client import redis_client


@lru_cache(maxsize=1)
def override_store() -> DynamoOverrideStore:
    return DynamoOverrideStore()


@lru_cache(maxsize=1)
def override_cache() -> CachedOverrideSource:
    """Overrides as the limiter reads them: cached in-process for RATELIMIT_OVERRIDE_CACHE_SECONDS."""
    return CachedOverrideSource(override_store())


@lru_cache(maxsize=1)
def rate_limiter() -> RateLimiter:
    """Kept warm across invocations, with its breaker and fallback limiter."""
    return RateLimiter(redis_client, override_cache())
