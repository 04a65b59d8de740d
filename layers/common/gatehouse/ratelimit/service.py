"""The rate limiter façade: overrides, then Redis behind a local breaker, else the failure mode."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gatehouse.errors import ServiceUnavailableError
from gatehouse.ratelimit.breaker import LocalBreaker
from gatehouse.ratelimit.decision import Decision, ScopedWindow, WindowResult, scoped_windows
from gatehouse.ratelimit.engine import RedisEngine
from gatehouse.ratelimit.fallback import LocalLimiter
from gatehouse.ratelimit.overrides import (
    Blocked,
    NoOverrides,
    OverrideSource,
    apply_override,
)
from gatehouse.ratelimit.policies import Policy

logger = logging.getLogger(__name__)

# Far above any real request weight; a bigger cost is a caller's mistake, not a request.
MAX_COST = 1_000_000
_TIMEOUTS = (RedisTimeoutError, socket.timeout, TimeoutError)


class RateLimiter:
    """`check()` charges a request against its policies; `usage()` reports without charging.

    Redis is reached only through the breaker. When it fails or the breaker is open, a policy
    set containing any `closed` policy raises ServiceUnavailableError (503); otherwise the
    in-process fallback decides and the Decision says `degraded=True`."""

    def __init__(
        self,
        redis_client_factory: Callable[[], Any],
        override_source: OverrideSource | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        breaker: LocalBreaker | None = None,
        fallback: LocalLimiter | None = None,
    ) -> None:
        self._redis_client_factory = redis_client_factory
        self._engine: RedisEngine | None = None
        self.overrides = override_source or NoOverrides()
        self._wall_clock = wall_clock
        self.breaker = breaker or LocalBreaker(clock=clock)
        self.fallback = fallback or LocalLimiter(clock=wall_clock)

    def check(self, subject: str, policies: list[Policy], cost: int = 1) -> Decision:
        """Decide and (when every window admits) charge one request of weight `cost` >= 1."""
        if not isinstance(cost, int) or isinstance(cost, bool) or not 1 <= cost <= MAX_COST:
            raise ValueError(f"cost must be an integer from 1 to {MAX_COST}")
        return self._decide(subject, policies, cost, peek=False)

    def usage(self, subject: str, policies: list[Policy]) -> Decision:
        """Each window's current use without charging (`allowed` says whether cost 1 would pass)."""
        return self._decide(subject, policies, 1, peek=True)

    def _decide(self, subject: str, policies: list[Policy], cost: int, *, peek: bool) -> Decision:
        if not policies:
            raise ValueError("a check needs at least one policy")
        effective = apply_override(policies, self.overrides.get(subject), self._wall_clock())
        if isinstance(effective, Blocked):
            return self._blocked(policies, effective, cost)
        windows = scoped_windows(effective)
        decision = self._on_redis(subject, windows, cost, peek=peek)
        if decision is not None:
            return decision
        if any(p.failure_mode == "closed" for p in [*policies, *effective]):
            raise ServiceUnavailableError("Rate limiting is temporarily unavailable.")
        return self.fallback.evaluate(subject, windows, cost, peek=peek)

    def _on_redis(self, subject: str, windows: list[ScopedWindow], cost: int, *, peek: bool) -> Decision | None:
        """The Redis decision, or None when Redis is unavailable (failed now, or breaker open)."""
        if not self.breaker.acquire():
            return None
        try:
            if self._engine is None:
                self._engine = RedisEngine(self._redis_client_factory())
            decision = self._engine.evaluate(subject, windows, cost, peek=peek)
        except ResponseError:
            # Redis answered: an error reply is a bad request of ours, not an outage.
            self.breaker.record_success()
            raise
        except (RedisError, OSError) as exc:
            self.breaker.record_failure(timeout=isinstance(exc, _TIMEOUTS))
            logger.warning("rate-limit Redis call failed: %s", type(exc).__name__)
            return None
        except BaseException:
            # A bug is not an outage: release a half-open probe permit and let it propagate.
            self.breaker.record_failure()
            raise
        self.breaker.record_success()
        return decision

    def _blocked(self, policies: list[Policy], blocked: Blocked, cost: int) -> Decision:
        wait_ms = blocked.retry_after * 1000
        windows = [
            WindowResult(
                policy=s.policy,
                name=s.window.name,
                algorithm=s.window.algorithm,
                limit=s.window.limit,
                period_seconds=s.window.period_seconds,
                allowed=False,
                remaining=0,
                reset_after_ms=wait_ms,
                retry_after_ms=wait_ms,
            )
            for s in scoped_windows(policies)
        ]
        return Decision(
            allowed=False,
            windows=windows,
            cost=cost,
            now_ms=int(self._wall_clock() * 1000),
            blocked=True,
            block_retry_after=blocked.retry_after,
            policies=tuple(p.name for p in policies),
        )
