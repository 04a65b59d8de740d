"""The local breaker: opening, cool-down doubling, one half-open probe, thread safety."""

from __future__ import annotations

import threading

from gatehouse.resilience.local_breaker import BreakerState, LocalBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_consecutive_failures_only():
    breaker = LocalBreaker(failure_threshold=3, clock=Clock())
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()  # a success in between resets the count
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.acquire()


def test_a_timeout_opens_at_once():
    breaker = LocalBreaker(clock=Clock())
    breaker.record_failure(timeout=True)
    assert breaker.state is BreakerState.OPEN


def test_cooldown_doubles_to_a_cap_and_resets_on_success():
    clock = Clock()
    breaker = LocalBreaker(failure_threshold=1, base_cooldown=1, max_cooldown=4, clock=clock)
    breaker.record_failure()
    waits = []
    for _ in range(4):
        start = clock.now
        while not breaker.acquire():
            clock.now += 0.25
        waits.append(clock.now - start)
        breaker.record_failure()  # the probe fails
    assert waits == [1, 2, 4, 4]
    while not breaker.acquire():
        clock.now += 0.25
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure()
    start = clock.now
    while not breaker.acquire():
        clock.now += 0.25
    assert clock.now - start == 1


def test_half_open_admits_exactly_one_probe_across_threads():
    clock = Clock()
    breaker = LocalBreaker(failure_threshold=1, base_cooldown=1, clock=clock)
    breaker.record_failure()
    clock.now = 5
    barrier = threading.Barrier(16)
    granted = []

    def try_acquire():
        barrier.wait()
        granted.append(breaker.acquire())

    threads = [threading.Thread(target=try_acquire) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert granted.count(True) == 1
    breaker.record_success()
    assert breaker.acquire()
