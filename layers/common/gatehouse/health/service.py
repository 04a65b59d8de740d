"""Readiness: probes run concurrently under one timeout, the result cached a few seconds."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from gatehouse.health.records import CheckResult, Probe, Status, overall_status

logger = logging.getLogger(__name__)

# Probes block on sockets, so threads give real concurrency; kept for warm invocations.
_executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="health")


@dataclass(frozen=True)
class Readiness:
    status: Status
    results: list[CheckResult]
    checked_at: float


# A probe still running from an earlier round is not started again: a black-holed dependency
# must not fill the pool with dead probes and keep readiness failing after it recovers.
_in_flight: dict[str, Future[CheckResult]] = {}
_in_flight_lock = threading.Lock()


def run_probes(probes: dict[str, Probe], timeout_seconds: float) -> list[CheckResult]:
    """Run every probe at once; one that has not answered within the timeout fails."""
    futures: dict[str, Future[CheckResult]] = {}
    with _in_flight_lock:
        for name, probe in probes.items():
            previous = _in_flight.get(name)
            futures[name] = previous if previous is not None and not previous.done() else _executor.submit(probe)
            _in_flight[name] = futures[name]
    wait(futures.values(), timeout=timeout_seconds)
    results = []
    for name, future in futures.items():
        if future.done() and future.exception() is None:
            results.append(future.result())
        else:
            # The exception is for the log only: readiness is public (see probes.py).
            error = future.exception() if future.done() else None
            logger.warning(
                "readiness probe gave no result",
                extra={"component": name, "errorType": type(error).__name__ if error else "timeout"},
            )
            output = f"no answer within {timeout_seconds:g}s" if not future.done() else "probe error"
            results.append(CheckResult(name, "responseTime", "component", "fail", output=output))
    return results


class ReadinessCache:
    """Answers from a result younger than `ttl_seconds`, so the endpoint cannot amplify load."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: Readiness | None = None

    def get(self, probes: dict[str, Probe], ttl_seconds: float, timeout_seconds: float) -> Readiness:
        with self._lock:
            now = time.monotonic()
            if self._last is not None and now - self._last.checked_at < ttl_seconds:
                return self._last
            results = run_probes(probes, timeout_seconds)
            self._last = Readiness(overall_status(results), results, time.monotonic())
            return self._last
