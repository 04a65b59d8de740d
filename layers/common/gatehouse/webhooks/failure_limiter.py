"""Failed verifications per (source, client IP), limited through the rate limiter's use case.

Only failures are charged, so a valid delivery costs no Redis round trip. Once a pair is over
its limit (default 100 a minute) its failures answer 429 with Retry-After, and this instance
refuses the pair outright, before any lookup or verification, until that wait is over
(docs/webhooks.md#failed-verifications). Redis unreachable: the limiter's fallback decides.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from gatehouse.ttl_cache import MISSING, TtlCache

if TYPE_CHECKING:
    from gatehouse.ratelimit.decision import Decision
    from gatehouse.ratelimit.policies import Policy

    Check = Callable[[str, list[Policy]], Decision]

# The pair's subject in the limiter: a namespace no principal or check-API subject can take.
SUBJECT_PREFIX = "webhook:"


def failure_policy(limit: int, period_seconds: int) -> Policy:
    # The rate-limit policies (pydantic models) load with the first failure: a genuine delivery
    # never needs them (docs/metrics.md#cold-start).
    from gatehouse.ratelimit.policies import Policy, Window

    return Policy(
        name="webhook-failures",
        kind="group",
        windows=(Window(name="failures", limit=limit, period_seconds=period_seconds, algorithm="sliding"),),
    )


class RateLimitedFailures:
    def __init__(self, check: Check, policy: Callable[[], Policy], clock: Callable[[], float] = time.monotonic) -> None:
        # `policy` gives the failures' policy when the first failure is charged.
        self._check = check
        self._policy = policy
        self._clock = clock
        self._blocked: TtlCache[float] = TtlCache(ttl=3600, max_entries=10_000, clock=clock)

    @staticmethod
    def subject(source: str, client_ip: str) -> str:
        return f"{SUBJECT_PREFIX}{source}|{client_ip}"

    def blocked_for(self, source: str, client_ip: str) -> int | None:
        until = self._blocked.get(self.subject(source, client_ip))
        if until is MISSING or until is None:
            return None
        remaining = float(until) - self._clock()  # type: ignore[arg-type]
        return math.ceil(remaining) if remaining > 0 else None

    def record_failure(self, source: str, client_ip: str) -> int | None:
        subject = self.subject(source, client_ip)
        decision = self._check(subject, [self._policy()])
        if decision.allowed:
            return None
        wait = max(1, decision.retry_after or 1)
        self._blocked.put(subject, self._clock() + wait)
        return wait
