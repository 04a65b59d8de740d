"""The in-process fallback limiter used while Redis is unavailable (per instance, bounded LRU)."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from gatehouse.ratelimit import algorithms
from gatehouse.ratelimit.decision import Decision, ScopedWindow, WindowResult
from gatehouse.ratelimit.keys import window_names


class LocalLimiter:
    """Same algorithms and all-or-nothing rule as limiter.lua, on this process's clock.

    Each Lambda instance limits on its own, so N instances admit up to N times the limit: a
    degraded mode that keeps a single hot client from running free, not a quota."""

    def __init__(
        self,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        # key -> (state, expires_at_us); the oldest-used entry is evicted first.
        self._entries: OrderedDict[str, tuple[tuple[int, ...], int]] = OrderedDict()

    def evaluate(self, subject: str, windows: list[ScopedWindow], cost: int, *, peek: bool = False) -> Decision:
        keys = window_names(subject, windows)
        with self._lock:
            now = round(self._clock() * 1_000_000)  # round: exact microseconds from a float clock
            verdicts = []
            for key, scoped in zip(keys, windows, strict=True):
                entry = self._entries.get(key)
                state = entry[0] if entry is not None and entry[1] > now else None
                verdicts.append(algorithms.decide(scoped.window, state, now, cost))
            all_allowed = all(v.allowed for v in verdicts)
            charged = not peek and all_allowed and cost > 0
            if charged:
                for key, scoped, verdict in zip(keys, windows, verdicts, strict=True):
                    self._entries[key] = (verdict.new_state, algorithms.expires_at(scoped.window, verdict, now))
                    self._entries.move_to_end(key)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
        results = [_result(scoped, verdict, charged) for scoped, verdict in zip(windows, verdicts, strict=True)]
        return Decision(
            allowed=all_allowed,
            windows=results,
            cost=cost,
            now_ms=now // 1000,
            degraded=True,
            policies=tuple(dict.fromkeys(w.policy for w in windows)),
        )

    def __len__(self) -> int:
        return len(self._entries)


def _ms(us: int) -> int:
    return max(0, math.ceil(us / 1000))


def _result(scoped: ScopedWindow, verdict: algorithms.Verdict, charged: bool) -> WindowResult:
    remaining = verdict.remaining_after if charged else verdict.remaining_before
    reset = verdict.reset_after_us if charged else verdict.reset_before_us
    return WindowResult(
        policy=scoped.policy,
        name=scoped.window.name,
        algorithm=scoped.window.algorithm,
        limit=scoped.window.limit,
        period_seconds=scoped.window.period_seconds,
        allowed=verdict.allowed,
        remaining=max(0, remaining),
        reset_after_ms=_ms(reset),
        retry_after_ms=verdict.retry_us if verdict.retry_us <= 0 else _ms(verdict.retry_us),
    )
