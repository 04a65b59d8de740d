"""Retries: full-jitter backoff, Retry-After within a bound, idempotent work only, never past the deadline."""

from __future__ import annotations

import random
from email.utils import formatdate

import pytest

from gatehouse.resilience.retries import (
    Deadline,
    RetryableFailure,
    RetryPolicy,
    parse_retry_after,
    retry_after_seconds,
    retry_call,
)


def test_full_jitter_stays_under_the_exponential_ceiling_and_spreads():
    policy, rng = RetryPolicy(base_delay_s=0.1, max_delay_s=1.0), random.Random(7)
    for retry, ceiling in ((1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.0), (40, 1.0)):
        waits = [policy.backoff(retry, rng) for _ in range(200)]
        assert all(0 <= w <= ceiling for w in waits)
        assert max(waits) - min(waits) > ceiling / 2  # spread, not a fixed delay


def test_retry_after_is_a_floor_within_its_bound():
    policy, rng = RetryPolicy(base_delay_s=0.1, max_delay_s=1.0, max_retry_after_s=30), random.Random(1)
    assert policy.delay(1, 3.0, rng) == 3.0
    assert policy.delay(1, 31.0, rng) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [("7", 7.0), (" 0 ", 0.0), (None, None), ("soon", None), ("-3", None), ("1.5", None)],
)
def test_retry_after_in_seconds(value, expected):
    assert parse_retry_after(value) == expected


def test_retry_after_as_an_http_date():
    assert parse_retry_after(formatdate(1_000_030, usegmt=True), now=1_000_000) == 30.0
    assert parse_retry_after(formatdate(999_000, usegmt=True), now=1_000_000) == 0.0
    assert retry_after_seconds(formatdate(1_000_030, usegmt=True), now=999_999.5) == 31


def test_a_deadline_from_a_remaining_time_callable_keeps_a_reserve():
    remaining = [3_000.0]
    deadline = Deadline(lambda: remaining[0], reserve_ms=500)
    assert deadline.remaining() == 2.5 and deadline.allows(2.5) and not deadline.allows(2.6)
    remaining[0] = 100.0
    assert deadline.remaining() == 0.0


class Attempts:
    def __init__(self, *results):
        self.results = list(results)
        self.numbers: list[int] = []

    def __call__(self, number: int):
        self.numbers.append(number)
        result = self.results.pop(0)
        if isinstance(result, BaseException):
            raise result
        return result


def run(attempts, *, idempotent=True, deadline=None, policy=None, sleeps=None):
    return retry_call(
        attempts,
        policy=policy or RetryPolicy(max_attempts=3),
        idempotent=idempotent,
        deadline=deadline or Deadline(),
        sleep=(sleeps if sleeps is not None else []).append,
        rng=random.Random(3),
    )


def test_idempotent_work_is_retried_until_it_succeeds():
    attempts = Attempts(RetryableFailure(result="503"), RetryableFailure(result="502"), "200")
    assert run(attempts) == "200" and attempts.numbers == [1, 2, 3]


def test_after_the_last_attempt_the_last_answer_is_returned_or_its_cause_raised():
    assert run(Attempts(*[RetryableFailure(result="503")] * 3)) == "503"
    with pytest.raises(ConnectionError):
        run(Attempts(*[RetryableFailure(cause=ConnectionError("down"))] * 3))


def test_work_that_may_not_run_twice_is_tried_once_unless_nothing_was_sent():
    attempts = Attempts(RetryableFailure(result="503"), "200")
    assert run(attempts, idempotent=False) == "503" and attempts.numbers == [1]
    attempts = Attempts(RetryableFailure(cause=ConnectionRefusedError(), safe=True), "200")
    assert run(attempts, idempotent=False) == "200"


def test_no_retry_waits_past_the_deadline():
    sleeps: list[float] = []
    attempts = Attempts(RetryableFailure(result="429", retry_after=2.0), "200")
    assert run(attempts, deadline=Deadline.after(1.0), sleeps=sleeps) == "429"
    assert sleeps == []


def test_other_exceptions_are_never_retried():
    attempts = Attempts(ValueError("a bug"), "200")
    with pytest.raises(ValueError):
        run(attempts)
    assert attempts.numbers == [1]
