"""The fleet breaker's use case: "may I call `name`?" and "here is how it went", for every caller.

Decisions and outcomes are made by the shared store (Redis, fleet_breaker.lua). The store itself
sits behind an in-process breaker, so a dead Redis costs a call milliseconds once and nothing
after; while it is unreachable, an in-process breaker per downstream decides instead (each
instance on its own). Transitions come back from the store to the one caller whose call made
them, which reports them to the sink (log, metric, event): docs/resilience.md.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from gatehouse.resilience.errors import BreakerOpenError
from gatehouse.resilience.local_breaker import BreakerState, LocalBreaker
from gatehouse.resilience.records import (
    Admission,
    BreakerConfig,
    BreakerStore,
    BreakerStoreUnavailable,
    Transition,
    TransitionSink,
    valid_breaker_name,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(slots=True)
class Permit:
    """One admitted call. Hand it back to `record()` exactly once."""

    name: str
    config: BreakerConfig
    admission: Admission | None  # None: decided by the in-process breaker
    started: float  # monotonic, for a slow call decided locally

    @property
    def probe(self) -> bool:
        return self.admission is not None and self.admission.verdict == "probe"


class FleetBreaker:
    """Breakers shared by every Lambda instance, by downstream name."""

    def __init__(
        self,
        store_factory: Callable[[], BreakerStore],
        sink: TransitionSink,
        *,
        default_config: BreakerConfig | None = None,
        configs: Mapping[str, BreakerConfig] | None = None,
        store_guard: LocalBreaker | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # Built on first use: nothing connects until a call is made.
        self._store_factory = store_factory
        self._store: BreakerStore | None = None
        self.sink = sink
        self.default_config = default_config or BreakerConfig()
        self._configs = dict(configs or {})
        # Around Redis itself: opens after three failures in a row or one timeout, probes within 10 s.
        self.store_guard = store_guard or LocalBreaker(clock=clock)
        self._clock = clock
        self._local: dict[str, LocalBreaker] = {}
        self._local_lock = threading.Lock()

    def config_for(self, name: str) -> BreakerConfig:
        return self._configs.get(name, self.default_config)

    @property
    def store_reachable(self) -> bool:
        """False while the store is considered down (the in-process breakers decide)."""
        return self.store_guard.state is BreakerState.CLOSED

    # -- the two calls of every protected call -----------------------------------------------------------
    def acquire(self, name: str) -> Permit:
        """A permit to call `name` now, or BreakerOpenError (nothing reached the downstream)."""
        if not valid_breaker_name(name):
            raise ValueError("not a breaker name")
        config = self.config_for(name)
        admission = self._on_store(lambda store: store.acquire(name, config))
        if admission is None:
            return self._acquire_locally(name, config)
        self._report(admission.transition)
        if not admission.admitted:
            raise BreakerOpenError(name, admission.verdict, _retry_after_seconds(admission, config))
        return Permit(name, config, admission, self._clock())

    def record(self, permit: Permit, *, success: bool) -> None:
        """How the admitted call went (a call slower than the config's slow_call_ms is a failure).

        An outcome the store cannot take (down, or OOM: reads answer while writes fail) goes to the
        in-process breaker instead, and the guard opens at once: a store that cannot count outcomes
        cannot open a breaker, so it must not decide either."""
        admission = permit.admission
        if admission is not None:
            outcome = self._on_store(
                lambda store: store.record(permit.name, permit.config, admission, success=success), writes=True
            )
            if outcome is not None:
                self._report(outcome.transition)
                return
        local = self._local_breaker(permit.name, permit.config)
        slow = (self._clock() - permit.started) * 1000 > permit.config.slow_call_ms
        if success and not slow:
            local.record_success()
        else:
            local.record_failure()

    @contextmanager
    def guard(self, name: str) -> Iterator[Permit]:
        """`with breaker.guard(name):` the block is the call; an exception is a failure."""
        permit = self.acquire(name)
        try:
            yield permit
        except BaseException:
            self.record(permit, success=False)
            raise
        self.record(permit, success=True)

    def call(self, name: str, fn: Callable[[], T], *, failed: Callable[[T], bool] = lambda _result: False) -> T:
        """`fn()` through the breaker; an exception, or a result `failed` says is one, is a failure."""
        permit = self.acquire(name)
        try:
            result = fn()
        except BaseException:
            self.record(permit, success=False)
            raise
        self.record(permit, success=not failed(result))
        return result

    # -- the store, and what stands in for it ---------------------------------------------------------------
    def _on_store(self, op: Callable[[BreakerStore], T], *, writes: bool = False) -> T | None:
        """The store's answer, or None when it cannot give one (down now, or considered down). A
        failed write opens the guard at once."""
        if not self.store_guard.acquire():
            return None
        try:
            if self._store is None:
                self._store = self._store_factory()
            result = op(self._store)
        except BreakerStoreUnavailable as exc:
            self.store_guard.record_failure(timeout=exc.timeout or writes)
            logger.warning("breaker store unavailable; deciding in-process: %s", exc.reason)
            return None
        except Exception:
            # A defect (a script error, an unreadable reply): never a failed call of the caller's,
            # never quiet. Counted like an outage, which also releases the guard's probe.
            self.store_guard.record_failure()
            logger.exception("breaker store failed; deciding in-process")
            return None
        except BaseException:
            self.store_guard.record_failure()
            raise
        self.store_guard.record_success()
        return result

    def _acquire_locally(self, name: str, config: BreakerConfig) -> Permit:
        local = self._local_breaker(name, config)
        if not local.acquire():
            raise BreakerOpenError(name, local.state.value, -(-config.open_ms // 1000))
        return Permit(name, config, None, self._clock())

    def _local_breaker(self, name: str, config: BreakerConfig) -> LocalBreaker:
        local = self._local.get(name)
        if local is None:
            with self._local_lock:
                local = self._local.setdefault(
                    name,
                    LocalBreaker(
                        failure_threshold=config.local_failures,
                        base_cooldown=config.open_ms / 1000,
                        max_cooldown=4 * config.open_ms / 1000,
                        clock=self._clock,
                    ),
                )
        return local

    def _report(self, transition: Transition | None) -> None:
        if transition is None:
            return
        try:
            self.sink.report(transition)
        except Exception:
            logger.exception("reporting a breaker transition failed")


def _retry_after_seconds(admission: Admission, config: BreakerConfig) -> int:
    """When a refused caller may try again: the rest of the open period; about a second while the
    probes are out (they answer or their leases lapse); an open period while isolated."""
    if admission.verdict == "open":
        return -(-admission.wait_ms // 1000)
    if admission.verdict == "isolated":
        return -(-config.open_ms // 1000)
    return 1
