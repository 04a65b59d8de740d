"""Readiness probes, the health area's adapters: one cheap data-plane call per dependency, timed in ms."""

from __future__ import annotations

import time

from gatehouse.clients.aws import fail_fast_client
from gatehouse.clients.redis_client import redis_client
from gatehouse.health.records import CheckResult, Probe, Status
from gatehouse.settings import Settings


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _failure(component: str, component_type: str, component_id: str, error: Exception, status: Status) -> CheckResult:
    # Only the exception's type reaches the document: messages can carry hosts or ARNs.
    return CheckResult(
        component,
        "responseTime",
        component_type,
        status,
        component_id=component_id,
        output=f"{type(error).__name__}: unreachable or refused",
    )


def dynamodb_probe(settings: Settings) -> Probe:
    """A GetItem on a key that never exists: proves the table answers reads (no control plane)."""

    def probe() -> CheckResult:
        started = time.perf_counter()
        try:
            fail_fast_client("dynamodb").get_item(
                TableName=settings.table_name, Key={"pk": {"S": "HEALTH#probe"}, "sk": {"S": "HEALTH"}}
            )
        except Exception as error:
            return _failure("dynamodb", "datastore", settings.table_name, error, "fail")
        return CheckResult(
            "dynamodb", "responseTime", "datastore", "pass", _elapsed_ms(started), "ms", settings.table_name
        )

    return probe


def redis_probe(settings: Settings, status_when_down: Status) -> Probe:
    """PING on the shared client. Down is `warn` while rate limits fail open, else `fail`."""

    def probe() -> CheckResult:
        started = time.perf_counter()
        try:
            redis_client().ping()
        except Exception as error:
            return _failure("redis", "datastore", "redis", error, status_when_down)
        return CheckResult("redis", "responseTime", "datastore", "pass", _elapsed_ms(started), "ms", "redis")

    return probe


def scheduler_probe(settings: Settings) -> Probe:
    """GetScheduleGroup: the timers' schedule group exists and Scheduler answers."""

    def probe() -> CheckResult:
        started = time.perf_counter()
        try:
            fail_fast_client("scheduler").get_schedule_group(Name=settings.schedule_group)
        except Exception as error:
            return _failure("scheduler", "component", settings.schedule_group, error, "fail")
        return CheckResult(
            "scheduler", "responseTime", "component", "pass", _elapsed_ms(started), "ms", settings.schedule_group
        )

    return probe


def dead_letter_probe(name: str, queue_url: str) -> Probe:
    """Messages waiting in a dead-letter queue: any is a `warn` (something needs a look)."""

    def probe() -> CheckResult:
        try:
            attributes = fail_fast_client("sqs").get_queue_attributes(
                QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
        except Exception as error:
            return CheckResult(
                name,
                "messages",
                "queue",
                "fail",
                component_id=name,
                output=f"{type(error).__name__}: unreachable or refused",
            )
        depth = int(attributes.get("ApproximateNumberOfMessages", 0))
        return CheckResult(name, "messages", "queue", "warn" if depth else "pass", depth, "messages", name)

    return probe
