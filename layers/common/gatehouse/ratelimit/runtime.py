"""The process's rate limiter, wired to the shared Redis client and the DynamoDB override store."""

from __future__ import annotations

from functools import lru_cache

from gatehouse.ratelimit.override_store import DynamoOverrideStore
from gatehouse.ratelimit.service import RateLimiter, default_rate_limiter


@lru_cache(maxsize=1)
def override_store() -> DynamoOverrideStore:
    return DynamoOverrideStore()


def rate_limiter() -> RateLimiter:
    """Kept warm across invocations; overrides are cached in-process for a few seconds."""
    return default_rate_limiter(override_store())
