"""Health over HTTP through the local stack: liveness, readiness, and Redis going down and back."""

from __future__ import annotations

import json
import time
import uuid

import redis
import requests

from gatehouse.resilience.records import BreakerConfig
from gatehouse.resilience.redis_breaker import RedisBreakerStore

HEALTH_JSON = "application/health+json"


def wait_for_check(api_url: str, key: str, expected: str, timeout: float = 15.0) -> dict:
    """Poll readiness until the check `key` reports `expected` (the result is cached about a second)."""
    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        body = requests.get(f"{api_url}/health/ready", timeout=5).json()
        if body["checks"][key][0]["status"] == expected:
            return body
        time.sleep(0.3)
    raise AssertionError(f"{key} never reported {expected!r}; last answer {body}")


def wait_for_redis_status(api_url: str, expected: str, timeout: float = 15.0) -> dict:
    return wait_for_check(api_url, "redis:responseTime", expected, timeout)


def test_liveness_is_health_json(local_stack):
    response = requests.get(f"{local_stack.api_url}/health", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == HEALTH_JSON
    body = response.json()
    assert body["status"] == "pass"
    assert {"version", "releaseId"} <= body.keys()
    assert response.headers["X-Request-Id"]


def test_readiness_checks_every_dependency(local_stack):
    response = requests.get(f"{local_stack.api_url}/health/ready", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == HEALTH_JSON
    body = response.json()
    assert body["status"] == "pass", body
    for key in ("dynamodb:responseTime", "redis:responseTime", "scheduler:responseTime"):
        (check,) = body["checks"][key]
        assert check["status"] == "pass"
        assert check["observedUnit"] == "ms"
        assert check["observedValue"] >= 0
        assert check["time"].endswith("Z")
    assert body["checks"]["scheduler-dlq:messages"][0]["observedValue"] == 0
    assert body["checks"]["breakers:notClosed"][0]["observedValue"] == 0


def test_a_breaker_not_closed_is_a_warn_that_names_no_breaker(local_stack):
    # Given an operator isolating a downstream (straight on the stack's Redis), Then readiness warns with
    # the count only: breaker names are destinations, never public.
    store = RedisBreakerStore(redis.Redis.from_url(local_stack.redis_url))
    name = f"ready-{uuid.uuid4().hex[:8]}.internal.example:443"
    store.isolate(name, BreakerConfig())
    try:
        body = wait_for_check(local_stack.api_url, "breakers:notClosed", "warn")
        (check,) = body["checks"]["breakers:notClosed"]
        assert check["observedValue"] >= 1 and check["observedUnit"] == "breakers"
        assert body["status"] == "warn" and name not in json.dumps(body) and "internal.example" not in json.dumps(body)
    finally:
        store.reset(name, BreakerConfig())
    assert wait_for_check(local_stack.api_url, "breakers:notClosed", "pass")["status"] == "pass"


def test_public_readiness_shows_no_resource_names(local_stack):
    # The physical names the stack gave its table, schedule group and queue are for the log only.
    text = requests.get(f"{local_stack.api_url}/health/ready", timeout=5).text
    for name in ("TABLE_NAME", "SCHEDULE_GROUP", "SCHEDULER_DLQ_URL"):
        assert local_stack.env[name] not in text, name
    components = {check["componentId"] for checks in json.loads(text)["checks"].values() for check in checks}
    assert components == {"dynamodb", "redis", "scheduler", "scheduler-dlq", "breakers"}


def test_redis_down_is_warn_and_recovers_without_restart(local_stack):
    # Given a healthy stack whose Redis has answered, When its Redis stops, Then readiness says warn
    # (limits fail open) with 200
    wait_for_redis_status(local_stack.api_url, "pass")
    local_stack.redis.stop()
    try:
        body = wait_for_redis_status(local_stack.api_url, "warn")
        assert body["status"] == "warn"
        response = requests.get(f"{local_stack.api_url}/health/ready", timeout=5)
        assert response.status_code == 200
        assert "redis://" not in response.text  # no endpoint or secret leaks into the document
    finally:
        # When Redis comes back on the same port, Then readiness recovers with no restart of the stack
        local_stack.redis.start()
    body = wait_for_redis_status(local_stack.api_url, "pass")
    assert body["status"] == "pass"


def test_redis_never_reached_since_the_instance_started_is_fail(local_stack):
    # Given Redis is down before the health function's instance ever reached it (a deploy whose
    # functions cannot reach the cache), When readiness is asked, Then it fails with 503.
    local_stack.redis.stop()
    try:
        local_stack.activate()  # forgets every wired object: as a new instance would start
        body = wait_for_redis_status(local_stack.api_url, "fail")
        assert body["status"] == "fail"
        assert requests.get(f"{local_stack.api_url}/health/ready", timeout=5).status_code == 503
    finally:
        local_stack.redis.start()
    # And once it answers, readiness passes, and a later outage is only a warning.
    assert wait_for_redis_status(local_stack.api_url, "pass")["status"] == "pass"
