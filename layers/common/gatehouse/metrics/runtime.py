"""Wires the metrics area for Lambda: the recorder the pipelines write through, the service the routes read."""

from __future__ import annotations

from gatehouse.clients.redis_client import redis_client
from gatehouse.metrics.records import MetricsStore
from gatehouse.metrics.service import MetricsRecorder, MetricsService
from gatehouse.wiring import provided


def _store() -> MetricsStore:
    # Imported on first write: redis costs cold start, and the first request is answered before it.
    from gatehouse.metrics.redis_store import RedisMetricsStore

    return RedisMetricsStore(redis_client())


@provided
def recorder() -> MetricsRecorder:
    """One per process, with its own local breaker: a dead Redis costs a request nothing (docs/metrics.md)."""
    return MetricsRecorder(_store)


def breaker_states() -> dict[str, str]:
    """The in-process breakers this function has, as its use cases report them."""
    from gatehouse.ratelimit.runtime import ratelimit_service

    return {
        "metrics.redis": recorder().breaker.state.value,
        "ratelimit.redis": ratelimit_service().limiter.breaker.state.value,
    }


@provided
def metrics_service() -> MetricsService:
    return MetricsService(_store(), breaker_states)
