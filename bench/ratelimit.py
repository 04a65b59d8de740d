"""Rate-limit section: Gatehouse's one-script check against PING and the `limits` library."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import redis
from limits import RateLimitItemPerHour, RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import (
    FixedWindowRateLimiter,
    MovingWindowRateLimiter,
    SlidingWindowCounterRateLimiter,
)

from bench.measure import CountingConnection, Sample, compare
from bench.table import Table
from gatehouse.ratelimit.decision import scoped_windows
from gatehouse.ratelimit.policies import Policy, Window
from gatehouse.ratelimit.redis_engine import RedisEngine
from gatehouse.ratelimit.service import RateLimiter

# Limits high enough that every check in the run is admitted: the hot path, not the 429 path.
HOUR = 10_000_000
SECOND = 1_000_000
POLICY = Policy(
    name="bench",
    windows=(
        Window(name="hour", limit=HOUR, period_seconds=3600, algorithm="sliding"),
        Window(name="second", limit=SECOND, period_seconds=1, algorithm="gcra"),
    ),
)


PING = "redis-py PING (same connection)"
CHECK = "gatehouse RateLimiter.check, 2 windows"


def run(redis_url: str, n: int) -> list[Table]:
    client = redis.Redis.from_url(redis_url, connection_class=CountingConnection)
    subject = f"bench:{uuid.uuid4()}"
    engine = RedisEngine(client)
    limiter = RateLimiter(lambda: engine)
    policies = [POLICY]
    windows = scoped_windows(policies)
    cases: dict[str, Callable[[], object]] = {
        PING: client.ping,
        CHECK: lambda: limiter.check(subject, policies),
        "gatehouse engine only, 2 windows": lambda: engine.evaluate(subject, windows, 1),
    }

    storage = storage_from_string(redis_url, connection_class=CountingConnection)
    items = (RateLimitItemPerHour(HOUR), RateLimitItemPerSecond(SECOND))
    for label, strategy in (
        ("moving window", MovingWindowRateLimiter),
        ("sliding window counter", SlidingWindowCounterRateLimiter),
        ("fixed window", FixedWindowRateLimiter),
    ):
        lib = strategy(storage)
        key = f"bench:{uuid.uuid4()}"

        def hit_both(lib=lib, key=key) -> bool:
            # Both windows, as a caller of `limits` must: one hit per window.
            return lib.hit(items[0], key) and lib.hit(items[1], key)

        cases[f"limits {label}, 2 windows"] = hit_both

    samples = compare(cases, n)

    measurements = Table(
        f"Rate-limit check, sequential, interleaved, n={n:,} per case (loopback redis-server)",
        ["case", "p50 µs", "p99 µs", "ops/s", "round trips/check"],
        [[s.name, s.p50_us, s.p99_us, s.ops_per_s, s.round_trips] for s in samples],
    )
    return [measurements, comparisons(samples)]


def comparisons(samples: list[Sample]) -> Table:
    by_name = {s.name: s for s in samples}
    ping = by_name[PING]
    check = by_name[CHECK]
    latency_ratio = check.p50_us / ping.p50_us
    rows: list[list[object]] = [
        ["check p50 / PING p50", f"{latency_ratio:.2f}x", "<= 1.3x", _ok(latency_ratio <= 1.3)],
        ["check p99", f"{check.p99_us:.0f} µs", "< 1000 µs", _ok(check.p99_us < 1000)],
        ["round trips per check", f"{check.round_trips:g}", "1", _ok(check.round_trips == 1)],
    ]
    for s in samples:
        if s.name.startswith("limits "):
            ratio = check.ops_per_s / s.ops_per_s
            rows.append([f"check ops / {s.name}", f"{ratio:.2f}x", ">= 2x", _ok(ratio >= 2)])
    return Table(
        "Rate-limit targets (docs/reference.md#performance-targets)",
        ["comparison", "measured", "target", "result"],
        rows,
    )


def _ok(passed: bool) -> str:
    return "pass" if passed else "FAIL"
