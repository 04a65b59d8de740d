"""The limiter with fakes: every limiter error takes the failure mode, never an exception."""

from __future__ import annotations

import logging

import pytest

from gatehouse.errors import ServiceUnavailableError
from gatehouse.ratelimit.errors import LimiterReplyError, LimiterUnavailable
from gatehouse.ratelimit.policies import DEFAULT_POLICIES, Policy, Window
from gatehouse.ratelimit.service import RateLimiter
from gatehouse.resilience.local_breaker import BreakerState

OPEN = [DEFAULT_POLICIES["free"]]
CLOSED = [Policy(name="closed", failure_mode="closed", windows=(Window(name="minute", limit=5, period_seconds=60),))]


class FailingEngine:
    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls = 0

    def evaluate(self, subject, windows, cost, *, peek=False):
        self.calls += 1
        raise self.error


@pytest.fixture
def service_log():
    """Records what the service logs (its logger may not propagate to the root once Powertools is set up)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(level=logging.DEBUG)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("gatehouse.ratelimit.service")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


@pytest.mark.parametrize(
    "error",
    [
        LimiterReplyError("user_script:12: attempt to compare nil with number"),  # a Lua runtime error
        ValueError("unexpected limiter reply of 3 fields for 2 windows"),  # an unparseable reply
        RuntimeError("a defect in the adapter"),
    ],
    ids=["lua-error", "unparseable-reply", "adapter-defect"],
)
def test_any_other_limiter_error_takes_the_failure_mode_and_is_logged_loudly(error, service_log):
    # Given an engine that fails with something other than an outage,
    engine = FailingEngine(error)
    limiter = RateLimiter(lambda: engine)

    # When an open policy is checked, Then the fallback decides (degraded), never an exception
    decision = limiter.check("s", OPEN)
    assert decision.allowed and decision.degraded
    # And the failure is logged at error level
    assert any(r.levelno >= logging.ERROR for r in service_log), [r.getMessage() for r in service_log]

    # When a closed policy is checked, Then 503
    with pytest.raises(ServiceUnavailableError):
        limiter.check("s", CLOSED)
    # And usage degrades the same way
    assert limiter.usage("s", OPEN).degraded


def test_a_script_error_does_not_open_the_breaker_for_every_subject():
    # Redis answered: one subject's failing check must not take every other subject off Redis.
    engine = FailingEngine(LimiterReplyError("user_script:12: boom"))
    limiter = RateLimiter(lambda: engine)
    for _ in range(10):
        assert limiter.check("s", OPEN).degraded
    assert limiter.breaker.state is BreakerState.CLOSED
    assert engine.calls == 10


def test_outages_open_the_breaker():
    engine = FailingEngine(LimiterUnavailable("OOM"))
    limiter = RateLimiter(lambda: engine)
    for _ in range(5):
        assert limiter.check("s", OPEN).degraded
    assert limiter.breaker.state is BreakerState.OPEN
    assert engine.calls == limiter.breaker.failure_threshold
