"""The metrics adapter: a minute's counters in one Redis hash and its principals in one small sorted set.

Both keys of a minute share a hash tag, so a request's write is one pipeline to one node even in
cluster mode, and both expire on their own a little after the longest window (docs/metrics.md).
Redis errors become the area's `MetricsUnavailable`.
"""

from __future__ import annotations

from typing import Any

from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeout

from gatehouse.metrics.records import (
    LATENCY_BOUNDS_MS,
    LATENESS_BOUNDS_MS,
    PRINCIPALS_KEPT_PER_MINUTE,
    UNRECORDED,
    MetricsUnavailable,
    MinuteBucket,
    RequestSample,
    Tally,
    bucket_index,
    label,
)

# 24 h (the longest window) plus a margin for the minute being written and clock skew.
TTL_SECONDS = 24 * 3600 + 600
PREFIX = "gh:metrics"
LATENESS_MAX = "timers.lateness"


def keys_for(minute: int) -> tuple[str, str, str]:
    tag = f"{PREFIX}:{{{minute}}}"
    return f"{tag}:c", f"{tag}:p", f"{tag}:x"


class RedisMetricsStore:
    def __init__(self, client: Any, *, principals_kept: int = PRINCIPALS_KEPT_PER_MINUTE) -> None:
        self._client = client
        self._kept = principals_kept

    def write(self, minute: int, sample: RequestSample | None, tally: Tally, unrecorded: int) -> None:
        counters, principals, extremes = keys_for(minute)
        pipe = self._client.pipeline(transaction=False)
        if sample is not None:
            series = f"r|{label(sample.route)}|{sample.status}"
            pipe.hincrby(counters, f"{series}|n", 1)
            pipe.hincrby(counters, f"{series}|s", round(sample.latency_ms * 1000))
            pipe.hincrby(counters, f"{series}|b{bucket_index(sample.latency_ms, LATENCY_BOUNDS_MS)}", 1)
            pipe.zincrby(principals, 1, label(sample.principal))
            # Only the busiest names stay; the trimmed ones are counted as "other" when read.
            pipe.zremrangebyrank(principals, 0, -(self._kept + 1))
            pipe.expire(principals, TTL_SECONDS)
        for name, amount in tally.counts.items():
            pipe.hincrby(counters, f"c|{name}", amount)
        if unrecorded:
            pipe.hincrby(counters, f"c|{UNRECORDED}", unrecorded)
        if tally.lateness_ms:
            for ms in tally.lateness_ms:
                pipe.hincrby(counters, f"l|{bucket_index(ms, LATENESS_BOUNDS_MS)}", 1)
            pipe.hincrby(counters, "l|sum", round(sum(tally.lateness_ms)))
            pipe.zadd(extremes, {LATENESS_MAX: max(tally.lateness_ms)}, gt=True)
            pipe.expire(extremes, TTL_SECONDS)
        pipe.expire(counters, TTL_SECONDS)
        try:
            pipe.execute()
        except RedisError as error:
            raise MetricsUnavailable(str(error), timeout=isinstance(error, RedisTimeout)) from error

    def read(self, minutes: list[int]) -> list[MinuteBucket]:
        pipe = self._client.pipeline(transaction=False)
        for minute in minutes:
            counters, principals, extremes = keys_for(minute)
            pipe.hgetall(counters)
            pipe.zrange(principals, 0, -1, withscores=True)
            pipe.zscore(extremes, LATENESS_MAX)
        try:
            replies = pipe.execute()
        except RedisError as error:
            raise MetricsUnavailable(str(error), timeout=isinstance(error, RedisTimeout)) from error
        buckets = []
        for index in range(0, len(replies), 3):
            fields, members, lateness_max = replies[index : index + 3]
            buckets.append(
                MinuteBucket(
                    fields={_text(k): int(v) for k, v in (fields or {}).items()},
                    principals={_text(m): int(score) for m, score in (members or [])},
                    lateness_max_ms=float(lateness_max or 0.0),
                )
            )
        return buckets


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value
