"""Pure-Python GCRA and sliding-window counter, mirroring limiter.lua, for the in-process fallback."""

from __future__ import annotations

import math
from dataclasses import dataclass

from gatehouse.ratelimit.policies import Window

US = 1_000_000


@dataclass(slots=True)
class Verdict:
    """One window's answer before and after charging, and how to charge it."""

    allowed: bool
    remaining_before: int
    remaining_after: int
    reset_before_us: int
    reset_after_us: int
    retry_us: int  # 0 when allowed, -1 when the cost can never fit
    new_state: tuple[int, ...]


def gcra(window: Window, state: tuple[int, ...] | None, now: int, cost: int) -> Verdict:
    """State is (tat,) in integer microseconds; see limiter.lua for the reasoning."""
    interval = math.ceil(window.period_seconds * US / window.limit)
    tolerance = interval * window.effective_burst
    tat = max(state[0] if state else 0, now)
    new_tat = tat + cost * interval
    wait = new_tat - tolerance - now
    allowed = wait <= 0
    if allowed:
        retry = 0
    elif cost * interval > tolerance:
        retry = -1
    else:
        retry = wait
    return Verdict(
        allowed=allowed,
        remaining_before=(tolerance - (tat - now)) // interval,
        remaining_after=(tolerance - (new_tat - now)) // interval,
        reset_before_us=tat - now,
        reset_after_us=new_tat - now,
        retry_us=retry,
        new_state=(new_tat,),
    )


def _sliding_wait(limit: int, cost: int, cur: int, prev: int, *, period: int, elapsed: int) -> int:
    if cost > limit:
        return -1
    left = period - elapsed
    excess = prev * left / period + cur + cost - limit
    if excess <= 0:
        return 0
    if prev > 0 and cur + cost <= limit:
        return math.ceil(excess * period / prev)
    room = limit - cost
    if cur <= room:
        return left
    return left + math.ceil((1 - room / cur) * period)


def sliding(window: Window, state: tuple[int, ...] | None, now: int, cost: int) -> Verdict:
    """State is (bucket index, current count, previous count)."""
    period = window.period_seconds * US
    idx, start = now // period, (now // period) * period
    elapsed = now - start
    cur = prev = 0
    if state is not None:
        bucket, stored_cur, stored_prev = state
        if bucket == idx:
            cur, prev = stored_cur, stored_prev
        elif bucket == idx - 1:
            prev = stored_cur
    used = prev * (period - elapsed) / period + cur

    def full_reset(count: int) -> int:
        if count > 0:
            return start + 2 * period - now
        return start + period - now if prev > 0 else 0

    allowed = used + cost <= window.limit
    return Verdict(
        allowed=allowed,
        remaining_before=math.floor(window.limit - used),
        remaining_after=math.floor(window.limit - used - cost),
        reset_before_us=full_reset(cur),
        reset_after_us=full_reset(cur + cost),
        retry_us=0 if allowed else _sliding_wait(window.limit, cost, cur, prev, period=period, elapsed=elapsed),
        new_state=(idx, cur + cost, prev),
    )


def decide(window: Window, state: tuple[int, ...] | None, now: int, cost: int) -> Verdict:
    return (gcra if window.algorithm == "gcra" else sliding)(window, state, now, cost)


def expires_at(window: Window, verdict: Verdict, now: int) -> int:
    """When a window's state stops mattering (the Lua PEXPIRE), in microseconds."""
    if window.algorithm == "gcra":
        return verdict.new_state[0]
    period = window.period_seconds * US
    return (now // period) * period + 2 * period
