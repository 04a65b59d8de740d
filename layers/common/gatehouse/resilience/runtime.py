"""Wires the resilience area for Lambda: the fleet breakers on Redis, their reporting, the outbound client."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from gatehouse.clients.aws import fail_fast_client
from gatehouse.clients.redis_client import redis_client
from gatehouse.resilience.eventbridge import EventBridgeSink
from gatehouse.resilience.fleet import FleetBreaker
from gatehouse.resilience.records import BreakerConfig, TransitionSink
from gatehouse.resilience.reporting import LogAndMetricSink, Sinks
from gatehouse.resilience.service import BreakersService
from gatehouse.settings import get_settings
from gatehouse.wiring import provided

if TYPE_CHECKING:
    from gatehouse.resilience.http_client import OutboundClient
    from gatehouse.resilience.redis_breaker import RedisBreakerStore


@provided
def breaker_config() -> BreakerConfig:
    """Every breaker's settings, from the environment (docs/reference.md#configuration)."""
    s = get_settings()
    return BreakerConfig(
        window_ms=s.breaker_window_seconds * 1000,
        buckets=s.breaker_buckets,
        minimum_calls=s.breaker_minimum_calls,
        failure_rate_percent=s.breaker_failure_rate_percent,
        slow_call_ms=s.breaker_slow_call_ms,
        open_ms=s.breaker_open_seconds * 1000,
        half_open_permits=s.breaker_half_open_permits,
        # A probe's lease outlives the longest call the outbound client can make.
        probe_lease_ms=s.outbound_connect_timeout_ms + s.outbound_read_timeout_ms + 1000,
    )


@provided
def transition_sink() -> TransitionSink:
    """The log and an EMF metric, then the event bus (best effort)."""
    namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Gatehouse")
    bus = EventBridgeSink(lambda: fail_fast_client("events"), get_settings().event_bus_name)
    return Sinks([LogAndMetricSink(namespace), bus])


@provided
def breaker_store() -> RedisBreakerStore:
    """The breakers' Redis adapter; redis is imported on first use (cold start: docs/metrics.md)."""
    from gatehouse.resilience.redis_breaker import RedisBreakerStore

    return RedisBreakerStore(redis_client())


@provided
def fleet_breaker() -> FleetBreaker:
    """Kept warm: its in-process breakers (around Redis, and per downstream while Redis is down) live here."""
    return FleetBreaker(breaker_store, transition_sink(), default_config=breaker_config())


@provided
def breakers_service() -> BreakersService:
    return BreakersService(breaker_store, transition_sink(), fleet_breaker().config_for)


@provided
def outbound_client() -> OutboundClient:
    """The client for callbacks and integrations; urllib3 is imported on first use only."""
    from gatehouse.resilience.http_client import OutboundClient
    from gatehouse.resilience.retries import RetryPolicy
    from gatehouse.resilience.ssrf import AddressPolicy

    s = get_settings()
    return OutboundClient(
        fleet_breaker(),
        AddressPolicy.from_setting(s.outbound_allowed_networks),
        connect_timeout_s=s.outbound_connect_timeout_ms / 1000,
        read_timeout_s=s.outbound_read_timeout_ms / 1000,
        retry=RetryPolicy(max_attempts=s.outbound_max_attempts),
        user_agent=f"Gatehouse/{s.version}",
    )
