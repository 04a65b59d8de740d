"""Wires readiness for Lambda: which dependencies are probed, and how bad Redis being down is."""

from __future__ import annotations

from gatehouse.health.probes import (
    Probe,
    breakers_probe,
    dead_letter_probe,
    dynamodb_probe,
    redis_probe,
    scheduler_probe,
)
from gatehouse.health.records import Status
from gatehouse.health.service import ReadinessCache
from gatehouse.settings import Settings
from gatehouse.wiring import provided


@provided
def readiness_cache() -> ReadinessCache:
    """The process's last readiness result, kept warm (and forgotten by gatehouse.wiring.reset())."""
    return ReadinessCache()


def redis_down_status() -> Status:
    """Redis down only degrades the service while every rate-limit policy fails open."""
    # The rate-limit and resilience areas load with the first readiness check: liveness, the
    # function's other route, needs neither (docs/metrics.md#cold-start).
    from gatehouse.ratelimit.runtime import policy_registry

    closed = any(p.failure_mode == "closed" for p in policy_registry().policies.values())
    return "fail" if closed else "warn"


def readiness_probes(settings: Settings) -> dict[str, Probe]:
    from gatehouse.resilience.runtime import breakers_service

    probes = {
        "dynamodb": dynamodb_probe(settings),
        "redis": redis_probe(settings, status_when_down=redis_down_status()),
        "scheduler": scheduler_probe(settings),
        "breakers": breakers_probe(breakers_service().count_by_state),
    }
    if settings.scheduler_dlq_url:
        probes["scheduler-dlq"] = dead_letter_probe("scheduler-dlq", settings.scheduler_dlq_url)
    return probes
