"""Redis answering with an error reply is an outage, not a 500: OOM under `noeviction`, READONLY during a
failover, BUSY behind a slow script. Open policies serve on the fallback limiter (degraded), closed ones
answer 503, the local breaker counts the failures, and limiting is back in Redis once the fault is lifted.

The faults are made on a redis-server of this module's own, so no other test sees them; the handlers run
in-process (functions/ratelimit/app.py) against it, with moto's DynamoDB for the override table.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis

from gatehouse.ratelimit.decision import scoped_windows
from gatehouse.ratelimit.errors import LimiterUnavailable
from gatehouse.ratelimit.keys import keys_for
from gatehouse.ratelimit.policies import PolicyRegistry
from gatehouse.ratelimit.redis_engine import RedisEngine
from gatehouse.ratelimit.runtime import ratelimit_service
from gatehouse.resilience.local_breaker import BreakerState
from local.ports import free_port
from local.redis_server import RedisServer
from tests.inprocess import Answer, InProcessApi, inprocess_api

CLOSED = "faults-closed"
CLOSED_GROUP = "faults-closed-group"
# The closed group guards reading an override: that route answers 503 while Redis cannot decide.
CLOSED_ROUTE = "GET /v1/ratelimit/overrides/{subject}"
POLICIES = {
    "policies": {
        CLOSED: {
            "windows": [{"name": "minute", "limit": 100, "periodSeconds": 60, "algorithm": "sliding"}],
            "failureMode": "closed",
        },
        CLOSED_GROUP: {
            "windows": [{"name": "minute", "limit": 100, "periodSeconds": 60, "algorithm": "sliding"}],
            "failureMode": "closed",
            "kind": "group",
        },
    },
    "routeGroups": {CLOSED_ROUTE: CLOSED_GROUP},
}
RATE_LIMIT_HEADERS = (
    "RateLimit-Policy",
    "RateLimit",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
)


@pytest.fixture(scope="module")
def faulty_redis() -> Iterator[RedisServer]:
    """A redis-server for this module alone: the faults below must not reach other tests."""
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def control(faulty_redis) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(faulty_redis.url, socket_timeout=2)
    yield client
    # Whatever a test did, leave the server healthy for the next one.
    client.config_set("maxmemory", 0)
    client.replicaof("NO", "ONE")
    client.close()


@pytest.fixture
def api(faulty_redis) -> Iterator[InProcessApi]:
    with inprocess_api(faulty_redis.url, {"RATELIMIT_POLICIES": json.dumps(POLICIES)}) as api:
        yield api


def _oom(control: redis.Redis) -> Callable[[], None]:
    control.config_set("maxmemory-policy", "noeviction")
    control.config_set("maxmemory", 1)
    return lambda: control.config_set("maxmemory", 0)


def _readonly(control: redis.Redis) -> Callable[[], None]:
    # A replica of a master that is not there: reads answer, every write is refused with READONLY.
    control.replicaof("127.0.0.1", free_port())
    return lambda: control.replicaof("NO", "ONE")


FAULTS = {"oom": _oom, "readonly": _readonly}


def _assert_rate_limit_headers(answer: Answer) -> None:
    missing = [h for h in RATE_LIMIT_HEADERS if h not in answer.headers]
    assert not missing, f"{missing} missing on {answer}"


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_error_replies_are_outages_open_serves_closed_refuses_and_limiting_recovers(api, control, fault):
    me = f"faults-{uuid.uuid4().hex[:12]}"
    subject = f"svc-{uuid.uuid4().hex[:12]}"
    closed_check = {"subject": subject, "policy": CLOSED}
    (counter_key,) = keys_for(
        "check:" + subject, scoped_windows([PolicyRegistry.from_json(json.dumps(POLICIES)).policies[CLOSED]])
    )

    # Given a healthy Redis: the closed policy answers from Redis.
    up = api.check(closed_check, principal=me)
    assert up.status == 200, up
    assert up.body["remaining"] == 99 and "degraded" not in up.body
    assert control.get(counter_key) is not None

    # When Redis answers every write with an error reply,
    lift = FAULTS[fault](control)
    try:
        for _ in range(6):
            # Then open-policy routes answer 200 with the rate-limit headers (the fallback decides),
            policies = api.call("GET", "/v1/ratelimit/policies", principal=me)
            assert policies.status == 200, policies
            _assert_rate_limit_headers(policies)
            degraded = api.check({"subject": subject, "policy": "free"}, principal=me)
            assert degraded.status == 200, degraded
            assert degraded.body["degraded"] is True
            _assert_rate_limit_headers(degraded)

            # And closed-policy routes answer 503, still with the caller's (open) tier headers.
            refused = api.check(closed_check, principal=me)
            assert refused.status == 503, refused
            assert refused.body["error"]["code"] == "SERVICE_UNAVAILABLE"
            _assert_rate_limit_headers(refused)
            group = api.call("GET", f"/v1/ratelimit/overrides/{subject}", principal=me)
            assert group.status == 503, group
            assert group.body["error"]["code"] == "SERVICE_UNAVAILABLE"

        # And the local breaker counted the error replies: it is open, so no request waits on Redis.
        assert ratelimit_service().limiter.breaker.state is not BreakerState.CLOSED
    finally:
        lift()

    # When the fault is lifted, Then the breaker probes again by itself and limiting is back in Redis.
    before = control.get(counter_key)
    deadline = time.monotonic() + 30
    while True:
        back = api.check(closed_check, principal=me)
        if back.status == 200:
            break
        assert back.status == 503, back
        assert time.monotonic() < deadline, "rate limiting did not come back within 30 s of the fault's end"
        time.sleep(0.2)
    assert "degraded" not in back.body
    assert control.get(counter_key) != before
    again = api.check(closed_check, principal=me)
    assert again.status == 200 and again.body["remaining"] == back.body["remaining"] - 1
    policies = api.call("GET", "/v1/ratelimit/policies", principal=me)
    assert policies.status == 200
    _assert_rate_limit_headers(policies)


def test_oom_and_readonly_replies_are_outages_for_the_engine(control, faulty_redis):
    engine = RedisEngine(redis.Redis.from_url(faulty_redis.url, socket_timeout=2))
    windows = scoped_windows([PolicyRegistry().policies["free"]])
    for fault in FAULTS.values():
        lift = fault(control)
        try:
            with pytest.raises(LimiterUnavailable):
                engine.evaluate(f"engine-{uuid.uuid4().hex}", windows, 1)
            # Reads still answer: usage (a peek writes nothing) is decided by Redis.
            assert not engine.evaluate(f"engine-{uuid.uuid4().hex}", windows, 1, peek=True).degraded
        finally:
            lift()
    assert engine.evaluate(f"engine-{uuid.uuid4().hex}", windows, 1).allowed


def test_busy_replies_behind_a_slow_script_are_outages(control, faulty_redis):
    # Given a script that keeps Redis busy past busy-reply-threshold,
    control.config_set("busy-reply-threshold", 20)
    slow = redis.Redis.from_url(faulty_redis.url, socket_timeout=5)
    spin = (
        "local t0 = redis.call('TIME') "
        "repeat local t = redis.call('TIME') until (t[1] - t0[1]) * 1e6 + (t[2] - t0[2]) > 400000"
    )
    worker = threading.Thread(target=lambda: slow.eval(spin, 0))
    engine = RedisEngine(redis.Redis.from_url(faulty_redis.url, socket_timeout=2))
    windows = scoped_windows([PolicyRegistry().policies["free"]])
    try:
        worker.start()
        time.sleep(0.1)
        # When the limiter asks meanwhile, Then Redis's BUSY reply is an outage, not a defect.
        with pytest.raises(LimiterUnavailable):
            engine.evaluate(f"busy-{uuid.uuid4().hex}", windows, 1)
    finally:
        worker.join()
        control.config_set("busy-reply-threshold", 5000)
        slow.close()
