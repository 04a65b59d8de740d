"""Rate-limit section: Gatehouse's one-script check against PING and the `limits` library."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

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

    # limits types its storage options as scalars; redis-py takes the connection class through them.
    storage = storage_from_string(redis_url, connection_class=CountingConnection)  # type: ignore[arg-type]
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
    server_time = server_time_per_check(client, {k: v for k, v in cases.items() if k != PING}, min(n, 2000))
    checks = {k: cases[k] for k in (CHECK, "limits fixed window, 2 windows")}
    parts = script_parts(client, subject, checks, min(n, 2000))

    measurements = Table(
        f"Rate-limit check, sequential, interleaved, n={n:,} per case (loopback redis-server)",
        ["case", "p50 µs", "p99 µs", "ops/s", "round trips/check"],
        [[s.name, s.p50_us, s.p99_us, s.ops_per_s, s.round_trips] for s in samples],
    )
    return [measurements, server_time, parts, comparisons(samples, server_time)]


_COMMAND = re.compile(rb"\*\d+\r\n\$\d+\r\n([A-Za-z|]+)\r\n")


def server_time_per_check(
    client: redis.Redis,
    cases: dict[str, Callable[[], object]],
    n: int,
    chunk: int = 100,
    title: str = "Redis server time per check (INFO commandstats, commands sent), interleaved",
) -> Table:
    """Redis's own time per check from `INFO commandstats`, read around chunks of one case at a time
    (`CONFIG RESETSTAT` before each), the cases interleaved so load elsewhere falls on all alike.

    Only the commands a client sent count (a script's usec already holds the commands it ran):
    their names are read off the socket, so `EVALSHA` is counted and the `MGET` inside it is not."""
    real_send = CountingConnection.send_packed_command
    sent: dict[str, set[str]] = {name: set() for name in cases}
    usec: dict[str, float] = dict.fromkeys(cases, 0.0)
    calls: dict[str, int] = dict.fromkeys(cases, 0)
    done = 0
    while done < n:
        size = min(chunk, n - done)
        for name, op in cases.items():
            names = sent[name]

            def recording_send(self: Any, command: Any, check_health: bool = True, names: set[str] = names) -> None:
                chunks = [command] if isinstance(command, bytes | str) else list(command)
                for part in chunks:
                    data = part.encode() if isinstance(part, str) else bytes(part)
                    names.update(m.decode().lower() for m in _COMMAND.findall(data))
                real_send(self, command, check_health)

            client.config_resetstat()
            CountingConnection.send_packed_command = recording_send  # type: ignore[method-assign]
            try:
                for _ in range(size):
                    op()
            finally:
                CountingConnection.send_packed_command = real_send  # type: ignore[method-assign]
            stats = client.info("commandstats")
            for key, value in stats.items():
                if key.removeprefix("cmdstat_") in names:
                    usec[name] += value["usec"]
                    calls[name] += value["calls"]
        done += size
    rows: list[list[object]] = [
        [name, usec[name] / n, calls[name] / n, ", ".join(sorted(sent[name]))] for name in cases
    ]
    return Table(
        f"{title}, n={n:,}",
        ["case", "server µs/check", "commands/check", "commands"],
        rows,
    )


# Scripts with the Redis calls of a check and nothing else, on keys of the bench's subject: what
# a script that reads Redis time and its state, and writes it back, pays before it computes
# anything (docs/rate-limits.md#what-a-check-costs-redis).
_PROBES = {
    "script returning a constant (EVALSHA itself)": ("return 0", 1),
    "+ TIME": ("redis.call('TIME') return 0", 1),
    "+ TIME, GET": ("redis.call('TIME') redis.call('GET', KEYS[1]) return 0", 1),
    "+ TIME, GET, SETRANGE (the check's calls: a key per policy)": (
        "redis.call('TIME') redis.call('GET', KEYS[1]) redis.call('SETRANGE', KEYS[1], 0, '1700000000000000') return 0",
        1,
    ),
    "+ TIME, MGET, 2 SETRANGE (the earlier layout: a key per window)": (
        "redis.call('TIME') redis.call('MGET', KEYS[1], KEYS[2]) "
        "redis.call('SETRANGE', KEYS[1], 0, '1700000000000000') "
        "redis.call('SETRANGE', KEYS[2], 0, '1700000000000000') return 0",
        2,
    ),
}


def script_parts(client: redis.Redis, subject: str, checks: dict[str, Callable[[], object]], n: int) -> Table:
    """Server time of scripts making only a check's Redis calls, beside the check and `limits`' two
    hits: how much of a check is the calls and how much is its own computation."""
    keys = [f"bench:probe:{{{subject}}}:{i}" for i in (1, 2)]
    cases: dict[str, Callable[[], object]] = {}
    for name, (source, numkeys) in _PROBES.items():
        cases[name] = _probe(client, client.script_load(source), keys[:numkeys])
    cases.update(checks)
    try:
        return server_time_per_check(client, cases, n, title="Where a check's Redis server time goes")
    finally:
        client.delete(*keys)


def _probe(client: redis.Redis, sha: str, keys: list[str]) -> Callable[[], object]:
    def call() -> object:
        return client.evalsha(sha, len(keys), *keys, "1", "x")

    return call


def comparisons(samples: list[Sample], server_time: Table) -> Table:
    by_name = {s.name: s for s in samples}
    server_us = {str(row[0]): float(row[1]) for row in server_time.rows}  # type: ignore[arg-type]
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
    fixed = server_us["limits fixed window, 2 windows"]
    server_ratio = server_us[CHECK] / fixed if fixed else float("inf")
    rows.append(
        ["server µs / limits fixed window, 2 windows", f"{server_ratio:.2f}x", "<= 1.5x", _ok(server_ratio <= 1.5)]
    )
    return Table(
        "Rate-limit targets (docs/reference.md#performance-targets)",
        ["comparison", "measured", "target", "result"],
        rows,
    )


def _ok(passed: bool) -> str:
    return "pass" if passed else "FAIL"
