"""Header and body rendering of decisions (draft-ietf-httpapi-ratelimit-headers-11)."""

from __future__ import annotations

from gatehouse.errors import RateLimitExceededError
from gatehouse.ratelimit.decision import Decision, WindowResult
from gatehouse.ratelimit.render import check_body, rate_limit_error, rate_limit_headers, usage_body

NOW_MS = 1_795_000_000_250


def window(name, limit, period, remaining, reset_ms, *, policy="starter", allowed=True, retry_ms=0):
    return WindowResult(policy, name, "gcra", limit, period, allowed, remaining, reset_ms, retry_ms)


def test_admitted_request_names_the_window_closest_to_its_limit():
    decision = Decision(
        allowed=True,
        # 998/1000 left is closer to its limit than a full 20/20 second window.
        windows=[window("hour", 1000, 3600, 998, 3_411_200), window("second", 20, 1, 20, 0)],
        cost=1,
        now_ms=NOW_MS,
    )
    headers = rate_limit_headers(decision)
    assert headers == {
        "RateLimit-Policy": '"hour";q=1000;w=3600, "second";q=20;w=1',
        "RateLimit": '"hour";r=998;t=3412',
        "X-RateLimit-Limit": "1000",
        "X-RateLimit-Remaining": "998",
        "X-RateLimit-Reset": str(-(-(NOW_MS + 3_411_200) // 1000)),  # epoch seconds
    }


def test_denied_request_adds_retry_after_from_the_longest_wait():
    decision = Decision(
        allowed=False,
        windows=[
            window("hour", 1000, 3600, 10, 3_000_000),
            window("second", 20, 1, 0, 1000, allowed=False, retry_ms=49),
            window("credentials", 5, 900, 0, 900_000, policy="credentials", allowed=False, retry_ms=120_001),
        ],
        cost=1,
        now_ms=NOW_MS,
    )
    headers = rate_limit_headers(decision)
    assert headers["RateLimit"] == '"credentials";r=0;t=900'
    assert headers["Retry-After"] == "121"
    assert decision.policy == "credentials"
    error = rate_limit_error(decision)
    assert isinstance(error, RateLimitExceededError)
    assert error.status == 429
    assert error.headers["Retry-After"] == "121"


def test_retry_after_is_at_least_one_second():
    decision = Decision(
        allowed=False, windows=[window("second", 20, 1, 0, 5, allowed=False, retry_ms=1)], cost=1, now_ms=NOW_MS
    )
    assert rate_limit_headers(decision)["Retry-After"] == "1"


def test_a_cost_that_never_fits_retries_after_the_period():
    decision = Decision(
        allowed=False, windows=[window("hour", 10, 3600, 10, 0, allowed=False, retry_ms=-1)], cost=11, now_ms=NOW_MS
    )
    assert decision.retry_after == 3600


def test_shared_window_names_are_prefixed_with_their_policy():
    decision = Decision(
        allowed=True,
        windows=[window("hour", 1000, 3600, 500, 0), window("hour", 5, 3600, 4, 0, policy="credentials")],
        cost=1,
        now_ms=NOW_MS,
    )
    headers = rate_limit_headers(decision)
    assert headers["RateLimit-Policy"] == '"starter.hour";q=1000;w=3600, "credentials.hour";q=5;w=3600'
    assert headers["RateLimit"].startswith('"starter.hour";r=500')  # 0.5 < 0.8


def test_blocked_decision_uses_the_block_retry_after():
    decision = Decision(
        allowed=False,
        windows=[window("hour", 1000, 3600, 0, 3_600_000, allowed=False, retry_ms=3_600_000)],
        cost=1,
        now_ms=NOW_MS,
        blocked=True,
        block_retry_after=3600,
    )
    assert rate_limit_headers(decision)["Retry-After"] == "3600"
    assert rate_limit_error(decision).message == "This subject is blocked."


def test_check_and_usage_bodies():
    decision = Decision(
        allowed=True,
        windows=[window("hour", 1000, 3600, 998, 3_600_000), window("second", 20, 1, 20, 0)],
        cost=2,
        now_ms=1_795_000_000_000,
        degraded=True,
    )
    assert check_body(decision) == {
        "allowed": True,
        "limit": 1000,
        "remaining": 998,
        "resetAt": "2026-11-18T12:06:40Z",
        "policy": "starter",
        "degraded": True,
    }
    usage = usage_body("p1", decision)
    assert usage["windows"][0] == {
        "policy": "starter",
        "window": "hour",
        "algorithm": "gcra",
        "limit": 1000,
        "windowSeconds": 3600,
        "used": 2,
        "remaining": 998,
        "resetAt": "2026-11-18T12:06:40Z",
    }
