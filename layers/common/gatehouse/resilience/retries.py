"""Retries: exponential backoff with full jitter, only for work that may run twice, never past the deadline.

Standard library only. The rules (docs/resilience.md#retries):

- only idempotent work is retried (GET, PUT, DELETE, ..., or a request carrying an idempotency key
  such as a callback's `webhook-id`), except a failure that proves nothing was sent (the
  connection was never made), which is safe to retry for anything;
- the n-th retry waits a random time in [0, min(max_delay, base_delay * 2^(n-1))] (AWS's "full
  jitter": the least contention when many callers retry at once), or what `Retry-After` asks,
  if it asks for no more than `max_retry_after_s` (else no retry);
- a retry happens only if its wait, plus the time an attempt needs, ends before the deadline (a
  Lambda's remaining time, less a reserve for answering).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

T = TypeVar("T")


class Deadline:
    """When the work must be over. Built from a remaining-time callable (pass a Lambda context's
    `get_remaining_time_in_millis`, not the context), from a span, or unbounded."""

    def __init__(self, remaining_ms: Callable[[], float] | None = None, *, reserve_ms: float = 500.0) -> None:
        self._remaining_ms = remaining_ms
        self.reserve_ms = reserve_ms

    @classmethod
    def after(cls, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> Deadline:
        end = clock() + seconds
        return cls(lambda: (end - clock()) * 1000, reserve_ms=0.0)

    def remaining(self) -> float:
        """Seconds left for work (never negative); infinity when unbounded."""
        if self._remaining_ms is None:
            return math.inf
        return max(0.0, (self._remaining_ms() - self.reserve_ms) / 1000)

    def allows(self, seconds: float) -> bool:
        return seconds <= self.remaining()


UNBOUNDED = Deadline()


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 3
    base_delay_s: float = 0.2
    max_delay_s: float = 5.0
    max_retry_after_s: float = 30.0

    def __post_init__(self) -> None:
        if not 1 <= self.max_attempts <= 20 or self.base_delay_s < 0 or self.max_delay_s < self.base_delay_s:
            raise ValueError("retry policy out of range")

    def backoff(self, retry: int, rng: random.Random) -> float:
        """Full jitter for the `retry`-th retry (1 for the first)."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** min(retry - 1, 30))
        return rng.uniform(0.0, ceiling)

    def delay(self, retry: int, retry_after: float | None, rng: random.Random) -> float | None:
        """How long to wait before the `retry`-th retry; None when the other side asks for longer than
        we are willing to wait."""
        if retry_after is None:
            return self.backoff(retry, rng)
        if retry_after > self.max_retry_after_s:
            return None
        return max(retry_after, self.backoff(retry, rng))


_NO_RESULT: Any = object()


class RetryableFailure(Exception):
    """Raised by an attempt that may be tried again.

    `retry_after`: seconds the other side asked for; `result`: what to return when no retry follows
    (the last HTTP answer), else `cause` is raised; `safe`: nothing was sent, so even
    non-idempotent work may be retried."""

    def __init__(
        self,
        *,
        retry_after: float | None = None,
        result: Any = _NO_RESULT,
        cause: BaseException | None = None,
        safe: bool = False,
    ) -> None:
        super().__init__(str(cause) if cause else "retryable failure")
        self.retry_after = retry_after
        self.result = result
        self.cause = cause
        self.safe = safe

    def give_up(self) -> Any:
        if self.result is not _NO_RESULT:
            return self.result
        raise self.cause or self


def retry_call(
    attempt: Callable[[int], T],
    *,
    policy: RetryPolicy,
    idempotent: bool,
    deadline: Deadline = UNBOUNDED,
    attempt_needs_s: float = 0.0,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> T:
    """`attempt(n)` for n = 1, 2, ... until it returns, raises anything but RetryableFailure, or no
    retry is allowed (then the failure's result is returned or its cause raised)."""
    rng = rng or random.Random()  # noqa: S311 (jitter, not secrecy)
    number = 1
    while True:
        try:
            return attempt(number)
        except RetryableFailure as failure:
            if number >= policy.max_attempts or not (idempotent or failure.safe):
                return failure.give_up()
            wait = policy.delay(number, failure.retry_after, rng)
            if wait is None or not deadline.allows(wait + attempt_needs_s):
                return failure.give_up()
            sleep(wait)
            number += 1


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` in seconds: delta-seconds or an HTTP date (RFC 9110); None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        # isdigit() admits "²" and other Unicode digits, and a receiver may send thousands of them:
        # unreadable, never an exception (a hostile callback receiver must not crash delivery).
        if not value.isascii() or len(value) > 12:
            return None
        return float(int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def retry_after_seconds(value: str | None, now: float | None = None) -> int | None:
    """`Retry-After` as whole seconds (rounded up), None when absent or unreadable."""
    seconds = parse_retry_after(value, now)
    return None if seconds is None else math.ceil(seconds)
