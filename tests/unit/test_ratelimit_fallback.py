"""The in-process fallback limiter and the Python mirror of the limiter's algorithms."""

from __future__ import annotations

import threading

from gatehouse.ratelimit import algorithms
from gatehouse.ratelimit.decision import ScopedWindow
from gatehouse.ratelimit.fallback import LocalLimiter
from gatehouse.ratelimit.policies import Window

SECOND = ScopedWindow("p", Window(name="second", limit=5, period_seconds=1, algorithm="gcra"))
HOUR = ScopedWindow("p", Window(name="hour", limit=8, period_seconds=3600, algorithm="sliding"))


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_gcra_bursts_then_refills_one_per_interval():
    clock = Clock()
    limiter = LocalLimiter(clock=clock)
    results = [limiter.evaluate("s", [SECOND], 1) for _ in range(6)]
    assert [d.allowed for d in results] == [True] * 5 + [False]
    assert [d.windows[0].remaining for d in results] == [4, 3, 2, 1, 0, 0]
    assert results[-1].windows[0].retry_after_ms == 200
    clock.now += 0.2
    assert limiter.evaluate("s", [SECOND], 1).allowed


def test_all_or_nothing_and_cost():
    limiter = LocalLimiter(clock=Clock())
    assert limiter.evaluate("s", [SECOND, HOUR], 3).allowed
    denied = limiter.evaluate("s", [SECOND, HOUR], 3)  # the second window has 2 left
    assert not denied.allowed
    assert [w.allowed for w in denied.windows] == [False, True]
    assert [w.remaining for w in denied.windows] == [2, 5]  # nothing was charged
    peek = limiter.evaluate("s", [SECOND, HOUR], 1, peek=True)
    assert [w.remaining for w in peek.windows] == [2, 5]
    assert peek.degraded


def test_exact_under_threads():
    limiter = LocalLimiter(clock=Clock())
    admitted = []

    def worker():
        for _ in range(20):
            admitted.append(limiter.evaluate("s", [HOUR], 1).allowed)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert admitted.count(True) == 8


def test_entries_are_bounded():
    limiter = LocalLimiter(max_entries=10, clock=Clock())
    for i in range(100):
        limiter.evaluate(f"s{i}", [SECOND, HOUR], 1)
    assert len(limiter) == 10


def test_sliding_counter_weights_the_previous_bucket():
    window = HOUR.window
    period = 3600 * algorithms.US
    start = 500 * period
    state = (499, 8, 0)  # eight used in the previous bucket
    quarter_in = algorithms.sliding(window, state, start + period // 4, 1)
    # 8 * 0.75 = 6 still count, so 2 are left and one more is admitted.
    assert quarter_in.allowed
    assert quarter_in.remaining_before == 2
    full = algorithms.sliding(window, (500, 2, 8), start + period // 4, 1)
    assert not full.allowed
    # 6 + 2 + 1 > 8 by one unit, which the previous bucket sheds in 1/8 of the period.
    assert full.retry_us == period // 8


def test_costs_above_the_limit_never_fit():
    assert algorithms.gcra(SECOND.window, None, 0, 6).retry_us == -1
    assert algorithms.sliding(HOUR.window, None, 0, 9).retry_us == -1
