"""A local (in-process) circuit breaker around the rate limiter's Redis call."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class BreakerOpenError(Exception):
    """The breaker refused the call without touching the downstream."""


class LocalBreaker:
    """Opens after `failure_threshold` consecutive failures, or at once on a timeout (each one
    already cost a request the whole read timeout). While open nothing reaches Redis; after the
    cool-down exactly one caller probes. A failed probe doubles the cool-down up to `max_cooldown`
    (10 s by default, so limiting is back well within 30 s of Redis answering); a success closes
    the breaker and resets the cool-down."""

    def __init__(
        self,
        failure_threshold: int = 3,
        base_cooldown: float = 1.0,
        max_cooldown: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.base_cooldown = base_cooldown
        self.max_cooldown = max_cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._cooldown = base_cooldown
        self._opened_at = 0.0
        self._probe_in_flight = False

    @property
    def state(self) -> BreakerState:
        with self._lock:
            if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self._cooldown:
                return BreakerState.HALF_OPEN
            return self._state

    def acquire(self) -> bool:
        """Whether this caller may call Redis now (closed, or the one half-open probe)."""
        # Closed needs no lock (one attribute read): the same answer as a caller that took the
        # lock just before another opened the breaker. Every other state decides under it.
        if self._state is BreakerState.CLOSED:
            return True
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return True
            if self._probe_in_flight or self._clock() - self._opened_at < self._cooldown:
                return False
            self._state = BreakerState.HALF_OPEN
            self._probe_in_flight = True
            return True

    def record_success(self) -> None:
        # Nothing to reset (the common case): no lock, as if this success came just before any
        # failure being recorded now. A probe in flight or a count to reset takes the lock.
        if self._state is BreakerState.CLOSED and not self._failures and not self._probe_in_flight:
            return
        with self._lock:
            self._state = BreakerState.CLOSED
            self._failures = 0
            self._cooldown = self.base_cooldown
            self._probe_in_flight = False

    def record_failure(self, *, timeout: bool = False) -> None:
        with self._lock:
            self._failures += 1
            if self._state is BreakerState.HALF_OPEN:
                self._cooldown = min(self._cooldown * 2, self.max_cooldown)
                self._open()
            elif timeout or self._failures >= self.failure_threshold:
                self._open()

    def _open(self) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = self._clock()
        self._probe_in_flight = False
