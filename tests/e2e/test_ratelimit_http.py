"""Rate limiting over real HTTP through the local stack: rate-limit headers, 429s, overrides, usage, the check
API, and Redis stopped mid-run (open policies keep serving on the fallback limiter, closed ones answer 503,
and limiting recovers by itself once Redis is back).

Every test uses fresh subjects (a new JWT `sub`), so tests never share a counter.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
import redis

from gatehouse.ratelimit.decision import scoped_windows
from gatehouse.ratelimit.keys import keys_for
from gatehouse.ratelimit.policies import PolicyRegistry
from gatehouse.ratelimit.redis_engine import RedisEngine
from gatehouse.ratelimit.runtime import ratelimit_service
from gatehouse.resilience.local_breaker import BreakerState, LocalBreaker
from tests.e2e.ratelimit_support import (
    Caller,
    assert_error,
    assert_rate_limited,
    mint_jwt,
    new_subject,
    parse_rfc3339_z,
    rate_limit_headers,
)

FREE_POLICY = '"hour";q=100;w=3600, "second";q=5;w=1'
STARTER_POLICY = '"hour";q=1000;w=3600, "second";q=20;w=1'
CREDENTIALS_POLICY = STARTER_POLICY + ', "credentials";q=5;w=900'
MINUTE_3 = {"name": "minute", "limit": 3, "periodSeconds": 60, "algorithm": "sliding"}
CLOSED_POLICY = "e2e-closed"


@pytest.fixture
def make_caller(local_stack):
    made: list[Caller] = []

    def make(*, scope: str = "", tier: str = "free", sub: str | None = None) -> Caller:
        sub = sub or new_subject()
        token = mint_jwt(local_stack.bootstrap_info["jwt"], sub, scope=scope, tier=tier)
        caller = Caller(local_stack.api_url, token, principal_id=sub)
        made.append(caller)
        return caller

    yield make
    for caller in made:
        caller.close()


@pytest.fixture
def admin(local_stack):
    caller = Caller(local_stack.api_url, local_stack.bootstrap_info["adminKey"], principal_id="admin")
    yield caller
    caller.close()


def _override_path(subject: str) -> str:
    return f"/v1/ratelimit/overrides/{quote(subject, safe='')}"


def _usage_windows(response) -> dict[str, dict]:
    assert response.status_code == 200, response.text
    return {f"{w['policy']}/{w['window']}": w for w in response.json()["windows"]}


# -- 1. headers on 2xx and 429 ----------------------------------------------------------------------------------


def test_a_burst_answers_429_with_headers_and_envelope(make_caller, admin):
    caller = make_caller(tier="free")
    first = caller.get("/v1/me")
    assert first.status_code == 200, first.text
    assert first.json()["principalId"] == caller.principal_id
    assert first.headers["RateLimit-Policy"] == FREE_POLICY
    headers = rate_limit_headers(first)
    assert headers.retry_after is None and "Retry-After" not in first.headers
    # The second window (4/5 left) is closer to its limit than the hour (99/100 left).
    assert (headers.current_name, headers.remaining) == ("second", 4)

    # The free tier's burst drains one request every 200 ms, so whether back-to-back requests reach
    # its sixth depends on this machine's speed. The same shapes with an hour-long drip do not: a
    # GCRA burst of five (one request back every 12 minutes) and a sliding hour of a hundred.
    burst = {"name": "burst", "limit": 5, "periodSeconds": 3600, "algorithm": "gcra"}
    hour = {"name": "hour", "limit": 100, "periodSeconds": 3600, "algorithm": "sliding"}
    policy = '"burst";q=5;w=3600, "hour";q=100;w=3600'
    put = admin.put(_override_path(caller.principal_id), json={"limits": [burst, hour]})
    assert put.status_code == 201, put.text

    # GCRA burst = limit: five back to back are admitted, exactly one less left each time.
    for expected_remaining in (4, 3, 2, 1, 0):
        response = caller.get("/v1/me")
        assert response.status_code == 200, response.text
        assert response.headers["RateLimit-Policy"] == policy
        headers = rate_limit_headers(response)
        assert headers.retry_after is None and "Retry-After" not in response.headers
        assert (headers.current_name, headers.remaining) == ("burst", expected_remaining)

    for _ in range(2):
        refused = caller.get("/v1/me")
        headers = assert_rate_limited(refused)
        assert refused.headers["RateLimit-Policy"] == policy
        assert (headers.current_name, headers.remaining) == ("burst", 0)
        assert 1 <= headers.retry_after <= 720  # the next drip, at most one interval away
        assert refused.json()["error"]["message"] == "Rate limit exceeded."

    # A denied request is not charged: the hour counted the five admitted and neither 429
    # (an administrator's usage read peeks without charging).
    windows = _usage_windows(admin.get(f"/v1/ratelimit/usage/{caller.principal_id}?policy=free"))
    assert windows["override/hour"]["used"] == 5
    assert windows["override/hour"]["remaining"] == 95
    assert windows["override/burst"]["remaining"] == 0


def test_sixth_credential_creation_in_window_is_429_naming_the_credentials_window(make_caller):
    caller = make_caller(tier="starter", scope="keys:write keys:read")
    for i in range(5):
        response = caller.post("/v1/keys", json={"name": f"e2e-{i}", "scopes": ["keys:read"]})
        assert response.status_code == 201, response.text
        assert response.headers["RateLimit-Policy"] == CREDENTIALS_POLICY
        headers = rate_limit_headers(response)
        assert headers.current_name == "credentials"
        assert headers.remaining == headers.x_remaining == 4 - i  # exactly one less per request
        assert headers.x_limit == 5
        assert 0 < headers.reset_seconds <= 2 * 900

    refused = caller.post("/v1/keys", json={"name": "e2e-6", "scopes": ["keys:read"]})
    headers = assert_rate_limited(refused)
    assert refused.headers["RateLimit-Policy"] == CREDENTIALS_POLICY
    assert headers.current_name == "credentials"
    assert headers.remaining == 0 and headers.x_limit == 5
    assert 1 <= headers.retry_after <= 2 * 900

    # Only credential-creating routes are in the group: listing keys still answers, without that window.
    listed = caller.get("/v1/keys")
    assert listed.status_code == 200, listed.text
    assert listed.headers["RateLimit-Policy"] == STARTER_POLICY
    rate_limit_headers(listed)

    # Usage of one's own subject lists the route groups too; the refused sixth was not charged.
    windows = _usage_windows(caller.get(f"/v1/ratelimit/usage/{caller.principal_id}"))
    assert windows["credentials/credentials"]["used"] == 5
    assert windows["credentials/credentials"]["remaining"] == 0
    assert windows["starter/hour"]["used"] == 5 + 1 + 1  # five creates, the list, this usage request


# -- 2. overrides and boosts, without a restart ---------------------------------------------------------------


def test_custom_limits_override_applies_at_once_and_delete_restores_the_default(local_stack, make_caller, admin):
    caller = make_caller(tier="free")
    subject = caller.principal_id
    first = caller.get("/v1/me")  # also caches "no override" for this subject in-process
    cached_at = time.monotonic()
    assert first.status_code == 200
    assert first.headers["RateLimit-Policy"] == FREE_POLICY

    created = admin.put(_override_path(subject), json={"limits": [MINUTE_3], "reason": "e2e"})
    assert created.status_code == 201, created.text
    assert created.json() == {"subject": subject, "limits": [MINUTE_3], "blocked": False, "reason": "e2e"}
    replaced = admin.put(_override_path(subject), json={"limits": [MINUTE_3], "reason": "e2e again"})
    assert replaced.status_code == 200, replaced.text
    fetched = admin.get(_override_path(subject))
    assert fetched.status_code == 200
    assert fetched.json() == {"subject": subject, "limits": [MINUTE_3], "blocked": False, "reason": "e2e again"}

    # The PUT invalidated this instance's override cache, so the change shows at once, well inside
    # RATELIMIT_OVERRIDE_CACHE_SECONDS (5 s) of the cached "no override" answer.
    for expected_remaining in (2, 1, 0):
        response = caller.get("/v1/me")
        assert response.status_code == 200, response.text
        assert response.headers["RateLimit-Policy"] == '"minute";q=3;w=60'
        headers = rate_limit_headers(response)
        assert headers.current_name == "minute"
        assert headers.remaining == expected_remaining
    refused = caller.get("/v1/me")
    assert time.monotonic() - cached_at < float(local_stack.env.get("RATELIMIT_OVERRIDE_CACHE_SECONDS", "5"))
    headers = assert_rate_limited(refused)
    assert refused.headers["RateLimit-Policy"] == '"minute";q=3;w=60'
    assert headers.current_name == "minute" and headers.remaining == 0
    assert 1 <= headers.retry_after <= 120

    deleted = admin.delete(_override_path(subject))
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert_error(admin.get(_override_path(subject)), 404, "NOT_FOUND")
    assert_error(admin.delete(_override_path(subject)), 404, "NOT_FOUND")

    back = caller.get("/v1/me")
    assert back.status_code == 200, back.text
    assert back.headers["RateLimit-Policy"] == FREE_POLICY
    rate_limit_headers(back)


def test_boost_multiplies_the_tier_quota_until_deleted(make_caller, admin):
    caller = make_caller(tier="free")
    subject = caller.principal_id
    assert caller.get("/v1/me").headers["RateLimit-Policy"] == FREE_POLICY

    until = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    created = admin.put(_override_path(subject), json={"boost": 2.0, "boostExpiresAt": until})
    assert created.status_code == 201, created.text
    assert created.json()["boost"] == 2.0
    time.sleep(0.25)  # let the first request's share of the per-second burst drain

    # Doubled: 200/hour and a burst of 10, so ten back to back pass where five did before.
    for _ in range(10):
        response = caller.get("/v1/me")
        assert response.status_code == 200, response.text
        assert response.headers["RateLimit-Policy"] == '"hour";q=200;w=3600, "second";q=10;w=1'
        rate_limit_headers(response)

    assert admin.delete(_override_path(subject)).status_code == 204
    time.sleep(1.1)  # let the burst window drain so the next answer is a 200
    back = caller.get("/v1/me")
    assert back.status_code == 200, back.text
    assert back.headers["RateLimit-Policy"] == FREE_POLICY


def test_blocked_override_refuses_at_once_with_retry_after(make_caller, admin):
    caller = make_caller(tier="free")
    subject = caller.principal_id
    assert caller.get("/v1/me").status_code == 200

    assert admin.put(_override_path(subject), json={"blocked": True, "reason": "abuse"}).status_code == 201
    refused = caller.get("/v1/me")
    headers = assert_rate_limited(refused)
    assert refused.json()["error"]["message"] == "This subject is blocked."
    assert refused.headers["RateLimit-Policy"] == FREE_POLICY
    assert headers.remaining == 0
    assert headers.retry_after == 3600  # a block without an expiry says "an hour"

    # A block with an expiry tells the client exactly how long.
    expires = (datetime.now(UTC) + timedelta(seconds=120)).strftime("%Y-%m-%dT%H:%M:%SZ")
    replaced = admin.put(_override_path(subject), json={"blocked": True, "expiresAt": expires})
    assert replaced.status_code == 200, replaced.text
    headers = assert_rate_limited(caller.get("/v1/me"))
    assert 110 <= headers.retry_after <= 121

    assert admin.delete(_override_path(subject)).status_code == 204
    back = caller.get("/v1/me")
    assert back.status_code == 200, back.text
    rate_limit_headers(back)


def test_override_validation_and_scope(make_caller, admin):
    subject = new_subject()
    bad_window = admin.put(
        _override_path(subject),
        json={"limits": [{"name": "minute", "limit": 0, "periodSeconds": 60, "algorithm": "leaky"}]},
    )
    body = assert_error(bad_window, 400, "VALIDATION_ERROR")
    fields = {d["field"] for d in body["error"]["details"]}
    assert {"limits.0.limit", "limits.0.algorithm"} <= fields, body

    unknown_field = admin.put(_override_path(subject), json={"limits": [MINUTE_3], "boots": 2})
    body = assert_error(unknown_field, 400, "VALIDATION_ERROR")
    assert any(d["field"] == "boots" for d in body["error"]["details"]), body

    boost_without_expiry = admin.put(_override_path(subject), json={"boost": 2.0})
    body = assert_error(boost_without_expiry, 400, "VALIDATION_ERROR")
    assert body["error"]["details"] and all({"field", "message"} <= set(d) for d in body["error"]["details"])

    # Nothing was stored by the refused PUTs.
    assert_error(admin.get(_override_path(subject)), 404, "NOT_FOUND")

    # Overrides need ratelimit:admin (admin implies it); ratelimit:check alone is refused.
    checker = make_caller(tier="starter", scope="ratelimit:check")
    refused = checker.put(_override_path(subject), json={"blocked": True})
    assert_error(refused, 403, "AUTHORIZATION_ERROR")
    rate_limit_headers(refused)  # a 4xx answer still carries the rate-limit headers
    assert_error(checker.get(_override_path(subject)), 403, "AUTHORIZATION_ERROR")
    limiter_admin = make_caller(tier="starter", scope="ratelimit:admin")
    assert_error(limiter_admin.get(_override_path(subject)), 404, "NOT_FOUND")


def test_without_a_caller_request_id_429_and_route_errors_still_match_their_header(make_caller, admin):
    caller = make_caller(tier="starter", scope="ratelimit:check")
    unknown = caller.post(
        "/v1/ratelimit/check", json={"subject": new_subject(), "policy": "no-such-policy"}, request_id=False
    )
    assert_error(unknown, 400, "VALIDATION_ERROR")  # requestId == the generated X-Request-Id
    assert_error(admin.get(_override_path(new_subject()), request_id=False), 404, "NOT_FOUND")

    assert admin.put(_override_path(caller.principal_id), json={"blocked": True}).status_code == 201
    try:
        assert_rate_limited(caller.get("/v1/me", request_id=False))
    finally:
        assert admin.delete(_override_path(caller.principal_id)).status_code == 204


# -- 3. usage -------------------------------------------------------------------------------------------------


def test_usage_reflects_consumption_and_is_private(make_caller, admin):
    caller = make_caller(tier="starter")
    subject = caller.principal_id
    n = 3
    for _ in range(n):
        assert caller.get("/v1/me").status_code == 200

    # The usage request passes the guard, which charges it (cost 1) before the handler peeks:
    # the report includes the usage request itself and charges nothing more.
    response = caller.get(f"/v1/ratelimit/usage/{subject}")
    rate_limit_headers(response)
    body = response.json()
    assert body["subject"] == subject and body["blocked"] is False and body["degraded"] is False
    windows = _usage_windows(response)
    assert set(windows) == {"starter/hour", "starter/second", "credentials/credentials"}
    hour = windows["starter/hour"]
    assert (hour["limit"], hour["windowSeconds"], hour["algorithm"]) == (1000, 3600, "sliding")
    assert hour["used"] == n + 1 and hour["remaining"] == 1000 - n - 1
    second = windows["starter/second"]
    assert (second["limit"], second["windowSeconds"], second["algorithm"]) == (20, 1, "gcra")
    assert 0 <= second["used"] <= n + 1  # GCRA drains continuously
    assert windows["credentials/credentials"]["used"] == 0
    assert windows["credentials/credentials"]["remaining"] == 5
    now = datetime.now(UTC)
    sent = now - response.elapsed  # bracket by when the request left, not when the answer was read
    for window in windows.values():
        reset = parse_rfc3339_z(window["resetAt"])
        assert sent - timedelta(seconds=2) <= reset <= now + timedelta(seconds=2 * window["windowSeconds"] + 2)

    again = _usage_windows(caller.get(f"/v1/ratelimit/usage/{subject}"))
    assert again["starter/hour"]["used"] == n + 2

    # Another subject's usage needs ratelimit:admin.
    other = make_caller(tier="starter", scope="ratelimit:check keys:read")
    refused = other.get(f"/v1/ratelimit/usage/{subject}")
    assert_error(refused, 403, "AUTHORIZATION_ERROR")
    rate_limit_headers(refused)

    # An administrator reads it (naming the policy, since a subject is just a string), without charging it.
    seen = _usage_windows(admin.get(f"/v1/ratelimit/usage/{subject}?policy=starter"))
    assert seen["starter/hour"]["used"] == n + 2
    seen = _usage_windows(admin.get(f"/v1/ratelimit/usage/{subject}?policy=starter"))
    assert seen["starter/hour"]["used"] == n + 2
    assert_error(admin.get(f"/v1/ratelimit/usage/{subject}?policy=nope"), 400, "VALIDATION_ERROR")


# -- 4. the check API -----------------------------------------------------------------------------------------


def test_check_api_named_policy_ad_hoc_limits_and_cost(make_caller):
    caller = make_caller(tier="starter", scope="ratelimit:check")
    subject = new_subject("svc")

    response = caller.post("/v1/ratelimit/check", json={"subject": subject, "policy": "free"})
    assert response.status_code == 200, response.text
    rate_limit_headers(response)  # the caller's own limits, not the subject's
    body = response.json()
    assert set(body) == {"allowed", "limit", "remaining", "resetAt", "policy"}, body
    # The free policy's second window (4 of 5 left) binds over its hour (99 of 100).
    assert body == {**body, "allowed": True, "limit": 5, "remaining": 4, "policy": "free"}
    reset = parse_rfc3339_z(body["resetAt"])
    now = datetime.now(UTC)
    assert now - timedelta(seconds=2) <= reset <= now + timedelta(seconds=3)

    day = {"name": "day", "limit": 10, "periodSeconds": 86400, "algorithm": "sliding"}
    adhoc = new_subject("svc")

    def check(cost: int) -> dict:
        answer = caller.post("/v1/ratelimit/check", json={"subject": adhoc, "limits": [day], "cost": cost})
        assert answer.status_code == 200, answer.text
        return answer.json()

    first = check(3)
    assert (first["allowed"], first["limit"], first["remaining"], first["policy"]) == (True, 10, 7, "custom")
    assert "retryAfter" not in first
    assert check(3)["remaining"] == 4
    denied = check(5)  # more than remains: refused, and charges nothing
    assert denied["allowed"] is False and denied["remaining"] == 4
    assert isinstance(denied["retryAfter"], int) and denied["retryAfter"] >= 1
    parse_rfc3339_z(denied["resetAt"])
    last = check(4)  # exactly what remains: admitted, proving the denied 5 took nothing
    assert last["allowed"] is True and last["remaining"] == 0
    assert check(1)["allowed"] is False
    # A cost that can never fit the window is told to come back after a whole period.
    never = check(11)
    assert never["allowed"] is False and never["retryAfter"] == 86400


def test_check_api_refusals(make_caller):
    caller = make_caller(tier="starter", scope="ratelimit:check")
    subject = new_subject("svc")

    unknown = caller.post("/v1/ratelimit/check", json={"subject": subject, "policy": "no-such-policy"})
    body = assert_error(unknown, 400, "VALIDATION_ERROR")
    assert any(d["field"] == "policy" for d in body["error"]["details"]), body
    rate_limit_headers(unknown)

    both = caller.post("/v1/ratelimit/check", json={"subject": subject, "policy": "free", "limits": [MINUTE_3]})
    body = assert_error(both, 400, "VALIDATION_ERROR")
    assert body["error"]["details"], body

    zero = caller.post("/v1/ratelimit/check", json={"subject": subject, "policy": "free", "cost": 0})
    body = assert_error(zero, 400, "VALIDATION_ERROR")
    assert any(d["field"] == "cost" for d in body["error"]["details"]), body

    no_scope = make_caller(tier="starter", scope="keys:read")
    refused = no_scope.post("/v1/ratelimit/check", json={"subject": subject, "policy": "free"})
    assert_error(refused, 403, "AUTHORIZATION_ERROR")
    rate_limit_headers(refused)


# -- 5. Redis stopped mid-run -----------------------------------------------------------------------------------


@pytest.fixture
def closed_policy(local_stack):
    """Adds a `closed` policy through RATELIMIT_POLICIES (data, no redeploy) for the test's duration."""
    from gatehouse.wiring import reset

    document = {
        "policies": {
            CLOSED_POLICY: {
                "windows": [{"name": "minute", "limit": 100, "periodSeconds": 60, "algorithm": "sliding"}],
                "failureMode": "closed",
            }
        }
    }
    previous = local_stack.env.get("RATELIMIT_POLICIES")
    local_stack.env["RATELIMIT_POLICIES"] = json.dumps(document)
    local_stack.activate()
    reset()
    try:
        yield CLOSED_POLICY
    finally:
        if previous is None:
            local_stack.env.pop("RATELIMIT_POLICIES", None)
            os.environ.pop("RATELIMIT_POLICIES", None)
        else:
            local_stack.env["RATELIMIT_POLICIES"] = previous
        local_stack.activate()
        reset()


class HeldClock:
    """time.monotonic, except that while held it answers the moment it was held."""

    def __init__(self) -> None:
        self.held_at: float | None = None

    def __call__(self) -> float:
        held_at = self.held_at
        return time.monotonic() if held_at is None else held_at

    def hold(self) -> None:
        self.held_at = time.monotonic()

    def release(self) -> None:
        self.held_at = None


def test_redis_down_open_policies_serve_closed_ones_refuse_and_limiting_recovers(
    local_stack, make_caller, admin, closed_policy, monkeypatch
):
    server = local_stack.redis
    if server is None:
        pytest.skip("the stack uses an external REDIS_URL it cannot stop")
    caller = make_caller(tier="professional", scope="ratelimit:check")
    subject = new_subject("svc")
    closed_check = {"subject": subject, "policy": closed_policy}
    direct = redis.Redis.from_url(local_stack.redis_url, socket_timeout=1, socket_connect_timeout=1)
    closed_windows = scoped_windows(
        [PolicyRegistry.from_json(local_stack.env["RATELIMIT_POLICIES"]).policies[closed_policy]]
    )
    (counter_key,) = keys_for(f"check:{subject}", closed_windows)  # check-API subjects are namespaced

    # Redis up: the closed policy answers, and its counter lives in Redis.
    up = caller.post("/v1/ratelimit/check", json=closed_check)
    assert up.status_code == 200, up.text
    assert up.json()["remaining"] == 99 and up.json()["policy"] == closed_policy
    assert direct.get(counter_key) is not None

    # The limiter's breaker keeps its production settings, on a clock the test holds while Redis is
    # down: once it has opened it stays open (no timed probe), so every request it decides after that
    # must be decided without Redis. Every limiter round trip to Redis is counted.
    limiter = ratelimit_service().limiter
    clock = HeldClock()
    breaker = LocalBreaker(
        failure_threshold=limiter.breaker.failure_threshold,
        base_cooldown=limiter.breaker.base_cooldown,
        max_cooldown=limiter.breaker.max_cooldown,
        clock=clock,
    )
    monkeypatch.setattr(limiter, "breaker", breaker)
    round_trips: list[bytes] = []
    real_call = RedisEngine._call

    def counted_call(pool, request):
        round_trips.append(request)
        return real_call(pool, request)

    monkeypatch.setattr(RedisEngine, "_call", staticmethod(counted_call))
    assert caller.post("/v1/ratelimit/check", json=closed_check).json()["remaining"] == 98
    assert len(round_trips) == 2  # the caller's own tier, then the check: the count sees each one

    # The fallback must limit, not merely admit: a subject whose override allows three a minute.
    free_caller = make_caller(tier="free")
    assert admin.put(_override_path(free_caller.principal_id), json={"limits": [MINUTE_3]}).status_code == 201

    decided = 0
    clock.hold()
    try:
        server.stop()
        round_trips.clear()
        for _ in range(8):
            me = caller.get("/v1/me")
            assert me.status_code == 200, me.text
            rate_limit_headers(me)  # the in-process fallback limiter still speaks

            degraded = caller.post("/v1/ratelimit/check", json={"subject": subject, "policy": "free"})
            assert degraded.status_code == 200, degraded.text
            assert degraded.json()["degraded"] is True
            rate_limit_headers(degraded)

            refused = caller.post("/v1/ratelimit/check", json=closed_check)
            assert_error(refused, 503, "SERVICE_UNAVAILABLE")
            rate_limit_headers(refused)  # the caller's own (open) tier still answered, on the fallback
            decided += 5  # the guard's charge on each of the three, and the two checks

        # Three a minute on the fallback too, however long each request takes: the fourth is a 429.
        for expected_remaining in (2, 1, 0):
            admitted = free_caller.get("/v1/me")
            assert admitted.status_code == 200, admitted.text
            assert rate_limit_headers(admitted).remaining == expected_remaining
        headers = assert_rate_limited(free_caller.get("/v1/me"))
        assert headers.current_name == "minute" and headers.remaining == 0
        decided += 4

        # Usage says it is degraded.
        usage = caller.get(f"/v1/ratelimit/usage/{caller.principal_id}")
        assert usage.status_code == 200 and usage.json()["degraded"] is True
        decided += 2

        # No request waited on the dead Redis once the breaker had opened: of the decisions made while
        # it was down, only those that opened the breaker (its threshold of failures in a row, or
        # one timeout) tried Redis at all.
        assert breaker.state is BreakerState.OPEN
        assert 1 <= len(round_trips) <= breaker.failure_threshold < decided, (len(round_trips), decided)
    finally:
        if not server.running:
            server.start()
        clock.release()  # from here the breaker's cool-down runs on the real clock again

    # Recovery without a restart: the local breaker probes again by itself (well within 30 s).
    restarted = time.monotonic()
    deadline = restarted + 30
    while True:
        back = caller.post("/v1/ratelimit/check", json=closed_check)
        if back.status_code == 200:
            break
        assert_error(back, 503, "SERVICE_UNAVAILABLE")
        assert time.monotonic() < deadline, "rate limiting did not recover within 30 s of Redis answering"
        time.sleep(0.2)
    recovered_after = time.monotonic() - restarted
    assert recovered_after < 30

    # Counters move in Redis again (the restarted server started empty: no persistence).
    assert back.json().get("degraded") is None
    first_remaining = back.json()["remaining"]
    before = direct.get(counter_key)
    assert before is not None
    again = caller.post("/v1/ratelimit/check", json=closed_check)
    assert again.status_code == 200 and again.json()["remaining"] == first_remaining - 1
    assert direct.get(counter_key) != before
    usage = caller.get(f"/v1/ratelimit/usage/{caller.principal_id}")
    assert usage.status_code == 200 and usage.json()["degraded"] is False
    direct.close()


def test_check_api_subjects_cannot_drain_a_principals_own_buckets(make_caller):
    # Given a victim principal and a service holding ratelimit:check,
    victim = make_caller(tier="free")
    service = make_caller(tier="enterprise", scope="ratelimit:check")
    # When the service charges the victim's principal id under the credentials policy,
    drained = service.post(
        "/v1/ratelimit/check", json={"subject": victim.principal_id, "policy": "credentials", "cost": 5}
    )
    assert drained.status_code == 200
    # Then the victim's own credentials window is untouched: the check API counts `check:<subject>`.
    usage = victim.get(f"/v1/ratelimit/usage/{victim.principal_id}").json()
    credentials = next(w for w in usage["windows"] if w["policy"] == "credentials")
    assert credentials["used"] == 0


def test_subjects_with_reserved_url_characters_work_for_overrides_and_usage(make_caller, admin):
    # Auth0-style subjects (`auth0|…`) arrive percent-encoded in the path.
    subject = f"auth0|{new_subject('pipe')}"
    put = admin.put(_override_path(subject), json={"blocked": True, "reason": "abuse"})
    assert put.status_code == 201, put.text
    assert put.json()["subject"] == subject
    assert admin.get(_override_path(subject)).json()["subject"] == subject
    assert admin.delete(_override_path(subject)).status_code == 204


def test_duplicate_window_names_are_refused_not_stored(admin):
    subject = new_subject("dup")
    windows = [{"name": "a", "limit": 1, "periodSeconds": 60}, {"name": "a", "limit": 2, "periodSeconds": 60}]
    response = admin.put(_override_path(subject), json={"limits": windows})
    assert_error(response, 400, "VALIDATION_ERROR")
    assert admin.get(_override_path(subject)).status_code == 404
    check = admin.post("/v1/ratelimit/check", json={"subject": subject, "limits": windows})
    assert_error(check, 400, "VALIDATION_ERROR")


def test_an_override_for_a_subject_applies_to_check_api_calls_for_that_subject(make_caller, admin):
    # Given an operator's override for "partner-…" (the subject as the check API's callers name it),
    checker = make_caller(tier="enterprise", scope="ratelimit:check")
    subject = new_subject("partner")
    created = admin.put(_override_path(subject), json={"limits": [MINUTE_3], "reason": "e2e"})
    assert created.status_code == 201, created.text

    # When a service checks that subject, Then the override's window decides,
    for expected_remaining in (2, 1, 0):
        answer = checker.post("/v1/ratelimit/check", json={"subject": subject, "policy": "free"})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["allowed"], body["policy"], body["limit"], body["remaining"]) == (
            True,
            "override",
            3,
            expected_remaining,
        )
    denied = checker.post("/v1/ratelimit/check", json={"subject": subject, "policy": "free"}).json()
    assert denied["allowed"] is False and denied["policy"] == "override"

    # And the counters are the check API's own (`check:<subject>`), shown with the override by usage.
    usage = _usage_windows(admin.get(f"/v1/ratelimit/usage/{quote('check:' + subject, safe='')}?policy=free"))
    assert usage["override/minute"]["used"] == 3

    # When the override is deleted, Then the named policy decides again.
    assert admin.delete(_override_path(subject)).status_code == 204
    back = checker.post("/v1/ratelimit/check", json={"subject": subject, "policy": "free"})
    assert back.status_code == 200 and back.json()["policy"] == "free", back.text


YEAR = 366 * 86400


def test_inputs_that_ended_in_a_500_or_poisoned_a_counter_answer_4xx_and_leave_the_name_usable(make_caller, admin):
    # A key that would expire in the year 10000 in UTC.
    minter = make_caller(tier="starter", scope="keys:write keys:read")
    far = minter.post(
        "/v1/keys", json={"name": "far", "scopes": ["keys:read"], "expiresAt": "9999-12-31T23:59:59-23:59"}
    )
    body = assert_error(far, 400, "VALIDATION_ERROR")
    assert any(d["field"] == "expiresAt" for d in body["error"]["details"]), body

    # Override times beyond any date a timestamp can hold.
    subject = new_subject("bounds")
    for value in (1e20, -1e20, 10**30):
        for field, extra in (("expiresAt", {"blocked": True}), ("boostExpiresAt", {"boost": 2})):
            answer = admin.put(_override_path(subject), json={**extra, field: value})
            body = assert_error(answer, 400, "VALIDATION_ERROR")
            assert any(d["field"] == field for d in body["error"]["details"]), body
    assert_error(admin.get(_override_path(subject)), 404, "NOT_FOUND")

    # A year-long GCRA window with a burst of 10,000 and a cost of 10,000 (a TAT 10,000 years ahead),
    # and one whose burst x interval overflowed int64 in limiter.lua.
    checker = make_caller(tier="enterprise", scope="ratelimit:check")
    poison = {"name": "w", "limit": 1, "periodSeconds": YEAR, "algorithm": "gcra", "burst": 10_000}
    overflow = {"name": "w", "limit": 1, "periodSeconds": YEAR, "algorithm": "gcra", "burst": 1_000_000_000}
    for window, cost in ((poison, 10_000), (overflow, 1_000_000), (overflow, 1)):
        answer = checker.post("/v1/ratelimit/check", json={"subject": subject, "limits": [window], "cost": cost})
        assert_error(answer, 400, "VALIDATION_ERROR")
        rate_limit_headers(answer)

    # A slow window that validation accepts, spent: its counter is its own.
    slow = {"name": "w", "limit": 1, "periodSeconds": YEAR, "algorithm": "gcra"}
    spent = checker.post("/v1/ratelimit/check", json={"subject": subject, "limits": [slow]})
    assert spent.status_code == 200 and spent.json()["allowed"] is True, spent.text
    refused = checker.post("/v1/ratelimit/check", json={"subject": subject, "limits": [slow]})
    assert refused.status_code == 200 and refused.json()["allowed"] is False, refused.text
    parse_rfc3339_z(refused.json()["resetAt"])

    # Then an ordinary window of the same name, on the same subject, still answers and admits.
    ordinary = {"name": "w", "limit": 10, "periodSeconds": 60, "algorithm": "gcra"}
    after = checker.post("/v1/ratelimit/check", json={"subject": subject, "limits": [ordinary]})
    assert after.status_code == 200, after.text
    assert after.json()["allowed"] is True and after.json()["remaining"] == 9, after.json()
