"""The metrics use cases: record one invocation (never failing it) and read a window back."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from gatehouse.metrics import prometheus
from gatehouse.metrics.records import (
    Merged,
    MetricsStore,
    MetricsUnavailable,
    RequestSample,
    Tally,
    parse_window,
    summary,
)
from gatehouse.resilience.local_breaker import LocalBreaker

log = logging.getLogger(__name__)


class MetricsRecorder:
    """Writes a request's sample and its tally in one round trip, behind a local breaker.

    A failed or skipped write is never the request's problem: it is counted here and added to
    the next write that succeeds, so the metrics say how many requests went unrecorded.
    """

    def __init__(
        self,
        store_factory: Callable[[], MetricsStore],
        *,
        breaker: LocalBreaker | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store_factory = store_factory
        self._store: MetricsStore | None = None
        self.breaker = breaker or LocalBreaker()
        self._clock = clock
        self.unrecorded = 0

    def record(self, sample: RequestSample | None, tally: Tally) -> bool:
        if sample is None and not tally:
            return True
        if not self.breaker.acquire():
            self.unrecorded += sample is not None
            return False
        unrecorded = self.unrecorded
        try:
            if self._store is None:
                self._store = self._store_factory()
            self._store.write(int(self._clock() // 60), sample, tally, unrecorded)
        except Exception as error:
            self.breaker.record_failure(timeout=isinstance(error, MetricsUnavailable) and error.timeout)
            self.unrecorded += sample is not None
            log.warning("metrics not recorded", extra={"error_type": type(error).__name__})
            return False
        self.breaker.record_success()
        self.unrecorded -= unrecorded
        return True


class MetricsService:
    """GET /v1/metrics and /v1/metrics/prometheus: a window of minute buckets, merged."""

    def __init__(
        self,
        store: MetricsStore,
        breakers: Callable[[], Mapping[str, str]],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._breakers = breakers
        self._clock = clock

    def _merged(self, minutes: int) -> Merged:
        now = int(self._clock() // 60)
        return Merged.of(self._store.read(list(range(now - minutes + 1, now + 1))))

    def summary(self, window: str | None) -> dict[str, object]:
        """ValueError for a window other than 5m, 1h, 24h; MetricsUnavailable when Redis cannot answer."""
        name, minutes = parse_window(window)
        return summary(name, minutes, self._merged(minutes), self._breakers())

    def prometheus(self, window: str | None) -> str:
        _, minutes = parse_window(window or "24h")
        return prometheus.render(self._merged(minutes), self._breakers())


__all__ = ["MetricsRecorder", "MetricsService", "MetricsUnavailable"]
