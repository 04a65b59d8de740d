"""Readiness probes, the health area's adapters: one cheap data-plane call per dependency, timed in ms.

Readiness is public, so a probe's result names its component and its status only. The physical
resource it probed (table, schedule group, queue) and why it failed (exception type and message)
go to the log, never into the document (README.md, API at a glance: health).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable

from gatehouse.clients.aws import fail_fast_client
from gatehouse.clients.redis_client import redis_client
from gatehouse.health.records import CheckResult, Probe, Status, redis_down_status
from gatehouse.resilience.records import FleetState
from gatehouse.settings import Settings
from gatehouse.wiring import on_reset

logger = logging.getLogger(__name__)

# The one public word for any failure: which call failed, and how, is in the log.
UNAVAILABLE = "unavailable"


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _failure(
    component: str, measurement: str, component_type: str, *, resource: str, error: Exception, status: Status
) -> CheckResult:
    # Messages can carry hosts, account ids or ARNs: fine for the log, never for the public answer.
    logger.warning(
        "readiness probe failed",
        extra={
            "component": component,
            "resource": resource,
            "errorType": type(error).__name__,
            "error": str(error)[:500],
        },
    )
    return CheckResult(component, measurement, component_type, status, output=UNAVAILABLE)


def dynamodb_probe(settings: Settings) -> Probe:
    """A GetItem on a key that never exists: proves the table answers reads (no control plane)."""

    def probe() -> CheckResult:
        started = time.perf_counter()
        try:
            fail_fast_client("dynamodb").get_item(
                TableName=settings.table_name, Key={"pk": {"S": "HEALTH#probe"}, "sk": {"S": "HEALTH"}}
            )
        except Exception as error:
            return _failure(
                "dynamodb", "responseTime", "datastore", resource=settings.table_name, error=error, status="fail"
            )
        return CheckResult("dynamodb", "responseTime", "datastore", "pass", _elapsed_ms(started), "ms")

    return probe


class RedisReachability:
    """Whether this instance has ever had an answer from Redis since it started.

    A deploy whose functions cannot reach Redis (no route, a wrong security group, a wrong password)
    never has: readiness then says `fail`, whatever the failure policy, so it cannot look healthy."""

    def __init__(self) -> None:
        self.reached = False


redis_reachability = RedisReachability()
# A reset (the local stack, tests) is a new instance as far as readiness is concerned.
on_reset(lambda: setattr(redis_reachability, "reached", False))


def redis_probe(
    settings: Settings, status_when_down: Status, reachability: RedisReachability = redis_reachability
) -> Probe:
    """PING on the shared client. Down is `status_when_down` once Redis has answered this instance
    (`warn` while rate limits fail open), and `fail` while it never has."""

    def probe() -> CheckResult:
        started = time.perf_counter()
        try:
            redis_client().ping()
        except Exception as error:
            # Not the URL, which may hold a password; the error message names the host.
            status = redis_down_status(status_when_down, reached_before=reachability.reached)
            return _failure("redis", "responseTime", "datastore", resource="redis", error=error, status=status)
        reachability.reached = True
        return CheckResult("redis", "responseTime", "datastore", "pass", _elapsed_ms(started), "ms")

    return probe


def scheduler_probe(settings: Settings) -> Probe:
    """GetScheduleGroup: the timers' schedule group exists and Scheduler answers."""

    def probe() -> CheckResult:
        started = time.perf_counter()
        try:
            fail_fast_client("scheduler").get_schedule_group(Name=settings.schedule_group)
        except Exception as error:
            return _failure(
                "scheduler", "responseTime", "component", resource=settings.schedule_group, error=error, status="fail"
            )
        return CheckResult("scheduler", "responseTime", "component", "pass", _elapsed_ms(started), "ms")

    return probe


def dead_letter_probe(name: str, queue_url: str) -> Probe:
    """Messages waiting in a dead-letter queue: any is a `warn` (something needs a look)."""

    def probe() -> CheckResult:
        try:
            attributes = fail_fast_client("sqs").get_queue_attributes(
                QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
        except Exception as error:
            return _failure(name, "messages", "queue", resource=queue_url, error=error, status="fail")
        depth = int(attributes.get("ApproximateNumberOfMessages", 0))
        return CheckResult(name, "messages", "queue", "warn" if depth else "pass", depth, "messages")

    return probe


def breakers_probe(count_by_state: Callable[[], tuple[Counter[FleetState], bool]]) -> Probe:
    """The fleet's breakers that are not closed. Any is a `warn`: a downstream is cut off, Gatehouse
    itself still serves. Counts only: breaker names are destinations, never public."""

    def probe() -> CheckResult:
        try:
            counts, _more = count_by_state()
        except Exception as error:
            return _failure("breakers", "notClosed", "component", resource="redis", error=error, status="warn")
        states = (FleetState.OPEN, FleetState.HALF_OPEN, FleetState.ISOLATED)
        not_closed = sum(counts[s] for s in states)
        output = ", ".join(f"{s.value} {counts[s]}" for s in states)
        status: Status = "warn" if not_closed else "pass"
        return CheckResult("breakers", "notClosed", "component", status, not_closed, "breakers", output)

    return probe
