"""The limiter's use cases with fakes: every limiter error takes the failure mode, and whose override applies."""

from __future__ import annotations

import logging

import pytest

from gatehouse.errors import ServiceUnavailableError, ValidationError
from gatehouse.principal import Principal
from gatehouse.ratelimit.errors import LimiterReplyError, LimiterUnavailable
from gatehouse.ratelimit.fallback import LocalLimiter
from gatehouse.ratelimit.overrides import CachedOverrideSource, InMemoryOverrides, Override
from gatehouse.ratelimit.policies import DEFAULT_POLICIES, Policy, PolicyRegistry, Window
from gatehouse.ratelimit.service import RateLimiter, RateLimitService
from gatehouse.resilience.local_breaker import BreakerState

OPEN = [DEFAULT_POLICIES["free"]]
CLOSED = [Policy(name="closed", failure_mode="closed", windows=(Window(name="minute", limit=5, period_seconds=60),))]
MINUTE_2 = Window(name="minute", limit=2, period_seconds=60, algorithm="sliding")


class FailingEngine:
    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls = 0

    def evaluate(self, subject, windows, cost, *, peek=False):
        self.calls += 1
        raise self.error


class RecordingEngine:
    """Decides like Redis would (the fallback's algorithms) and records which subjects it counted."""

    def __init__(self) -> None:
        self.subjects: list[str] = []
        self._limiter = LocalLimiter()

    def evaluate(self, subject, windows, cost, *, peek=False):
        self.subjects.append(subject)
        return self._limiter.evaluate(subject, windows, cost, peek=peek)._replace(degraded=False)


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


def _service(*overrides: Override) -> tuple[RateLimitService, RecordingEngine]:
    engine = RecordingEngine()
    store = InMemoryOverrides(*overrides)
    cache = CachedOverrideSource(store, ttl_seconds=5)
    return RateLimitService(RateLimiter(lambda: engine, cache), PolicyRegistry(), store, cache), engine


CALLER = Principal(principal_id="svc-1", owner_id="org", auth_type="jwt", tier="enterprise", scopes=frozenset())
ADMIN = Principal(
    principal_id="ops-1", owner_id="org", auth_type="jwt", tier="enterprise", scopes=frozenset({"ratelimit:admin"})
)


def test_an_override_for_a_subject_applies_to_check_api_calls_for_that_subject():
    # Given an operator's override for "partner-42",
    service, engine = _service(Override(subject="partner-42", limits=[MINUTE_2]))

    # When a service checks "partner-42" through the check API,
    first = service.check(CALLER, "partner-42", policy="free")

    # Then the override's windows decide,
    assert first.policy == "override" and first.limit == 2 and first.remaining == 1
    assert service.check(CALLER, "partner-42", policy="free").allowed
    assert not service.check(CALLER, "partner-42", policy="free").allowed
    # And the counters stay apart from the principal "partner-42"'s own.
    assert set(engine.subjects) == {"check:partner-42"}


def test_a_blocked_subject_is_blocked_on_the_check_api_too():
    service, engine = _service(Override(subject="partner-42", blocked=True))
    decision = service.check(CALLER, "partner-42", limits=(MINUTE_2,))
    assert decision.blocked and not decision.allowed
    assert engine.subjects == []  # decided without Redis
    assert service.check(CALLER, "partner-43", limits=(MINUTE_2,)).allowed


def test_usage_of_a_check_api_subject_shows_the_override_that_applies_to_it():
    service, _ = _service(Override(subject="partner-42", limits=[MINUTE_2]))
    service.check(CALLER, "partner-42", policy="free")
    usage = service.usage(ADMIN, "check:partner-42", "free")
    assert [(w.policy, w.name, w.limit, w.remaining) for w in usage.windows] == [("override", "minute", 2, 1)]


@pytest.mark.parametrize("caller", [CALLER, ADMIN], ids=["own subject", "operator"])
@pytest.mark.parametrize("names", [",", " , ,"])
def test_a_policy_list_naming_no_policy_is_a_validation_error(caller, names):
    # `?policy=,` reached the limiter with no policy at all: a 500 for any authenticated caller.
    service, _ = _service()
    with pytest.raises(ValidationError) as invalid:
        service.usage(caller, "svc-1", names)
    assert invalid.value.details[0]["field"] == "policy"
