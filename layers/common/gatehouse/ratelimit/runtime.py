"""Wires the rate-limit area for Lambda: policies from the settings, Redis, the override table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gatehouse.clients.dynamo import dynamodb_client, table_name
from gatehouse.clients.redis_client import redis_client
from gatehouse.ratelimit.dynamo import DynamoOverrideStore
from gatehouse.ratelimit.overrides import CachedOverrideSource
from gatehouse.ratelimit.policies import PolicyRegistry
from gatehouse.ratelimit.service import RateLimiter, RateLimitService
from gatehouse.settings import get_settings
from gatehouse.wiring import provided

if TYPE_CHECKING:
    from gatehouse.ratelimit.redis_engine import RedisEngine


@provided
def policy_registry() -> PolicyRegistry:
    """The defaults overlaid with the RATELIMIT_POLICIES document."""
    return PolicyRegistry.from_json(get_settings().ratelimit_policies)


def _redis_engine() -> RedisEngine:
    # redis is imported when the limiter first needs it, not with the function (docs/metrics.md#cold-start).
    from gatehouse.ratelimit.redis_engine import RedisEngine

    return RedisEngine(redis_client())


@provided
def ratelimit_service() -> RateLimitService:
    """Kept warm across invocations, with the limiter's breaker, fallback and override cache."""
    store = DynamoOverrideStore(dynamodb_client(), table_name())
    cache = CachedOverrideSource(store, get_settings().ratelimit_override_cache_seconds)
    limiter = RateLimiter(_redis_engine, cache)
    return RateLimitService(limiter, policy_registry(), store, cache)
