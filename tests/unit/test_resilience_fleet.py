"""FleetBreaker's own rules over a fake store: refusals, the in-process stand-in while the store is down,
the guard around the store, and transitions reported once (the store itself is tested on Redis)."""

from __future__ import annotations

import pytest

from gatehouse.resilience.errors import BreakerOpenError
from gatehouse.resilience.fleet import FleetBreaker
from gatehouse.resilience.local_breaker import BreakerState
from gatehouse.resilience.records import (
    Admission,
    BreakerConfig,
    BreakerStoreUnavailable,
    FleetState,
    Outcome,
    Transition,
)
from gatehouse.resilience.reporting import RecordingSink, Sinks


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeStore:
    """Answers what it is told to; raises BreakerStoreUnavailable while `down`."""

    def __init__(self) -> None:
        self.down = False
        self.timeout = False
        self.admission = Admission("closed", 1, 10)
        self.outcome = Outcome("counted", 1)
        self.calls = 0
        self.recorded: list[bool] = []

    def acquire(self, name, config):
        self.calls += 1
        if self.down:
            raise BreakerStoreUnavailable("ConnectionError", timeout=self.timeout)
        return self.admission

    def record(self, name, config, admission, *, success):
        self.calls += 1
        if self.down:
            raise BreakerStoreUnavailable("ConnectionError")
        self.recorded.append(success)
        return self.outcome


CONFIG = BreakerConfig(open_ms=2_000, local_failures=2, slow_call_ms=1_000)


def breaker(store: FakeStore, sink=None, clock: Clock | None = None) -> FleetBreaker:
    return FleetBreaker(lambda: store, sink or RecordingSink(), default_config=CONFIG, clock=clock or Clock())


def test_an_admitted_call_is_recorded_on_the_store():
    store = FakeStore()
    fleet = breaker(store)
    assert fleet.call("api.example.com:443", lambda: "ok") == "ok"
    with pytest.raises(RuntimeError):
        fleet.call("api.example.com:443", lambda: (_ for _ in ()).throw(RuntimeError("boom")))
    assert fleet.call("api.example.com:443", lambda: 503, failed=lambda status: status >= 500) == 503
    assert store.recorded == [True, False, False]


@pytest.mark.parametrize(
    ("verdict", "wait_ms", "retry_after"), [("open", 2_500, 3), ("half_open", 0, 1), ("isolated", 0, 2)]
)
def test_a_refusal_raises_with_when_to_come_back(verdict, wait_ms, retry_after):
    store = FakeStore()
    store.admission = Admission(verdict, 2, 10, wait_ms=wait_ms)
    with pytest.raises(BreakerOpenError) as refused:
        breaker(store).acquire("api.example.com:443")
    assert (refused.value.state, refused.value.retry_after_seconds) == (verdict, retry_after)


def test_a_name_that_is_not_a_breaker_name_is_refused_before_the_store():
    store = FakeStore()
    with pytest.raises(ValueError):
        breaker(store).acquire("{slot}/path")
    assert store.calls == 0


def test_transitions_from_the_store_are_reported_once_and_a_failing_sink_fails_nothing():
    moved = Transition("d", FleetState.CLOSED, FleetState.OPEN, 2, "failure_rate", 0)
    store = FakeStore()
    store.outcome = Outcome("counted", 2, moved)
    recording = RecordingSink()

    class Broken:
        def report(self, transition):
            raise RuntimeError("the bus is down")

    fleet = breaker(store, Sinks([Broken(), recording]))
    fleet.call("d", lambda: None)
    store.outcome = Outcome("counted", 2)
    fleet.call("d", lambda: None)
    assert recording.transitions == [moved]


def test_while_the_store_is_down_the_in_process_breaker_decides_and_opens_on_its_own():
    store, clock = FakeStore(), Clock()
    store.down = True
    fleet = breaker(store, clock=clock)
    for _ in range(CONFIG.local_failures):
        with pytest.raises(RuntimeError):
            fleet.call("d", lambda: (_ for _ in ()).throw(RuntimeError("downstream down")))
    with pytest.raises(BreakerOpenError):
        fleet.acquire("d")
    assert not fleet.store_reachable
    # After its open period, one probe; its success closes it.
    clock.now += CONFIG.open_ms / 1000
    fleet.call("d", lambda: None)
    fleet.call("d", lambda: None)


def test_a_slow_call_decided_in_process_is_a_failure():
    store, clock = FakeStore(), Clock()
    store.down = True
    fleet = breaker(store, clock=clock)
    for _ in range(CONFIG.local_failures):
        permit = fleet.acquire("d")
        clock.now += 2.0  # slower than slow_call_ms
        fleet.record(permit, success=True)
    with pytest.raises(BreakerOpenError):
        fleet.acquire("d")


def test_one_store_timeout_stops_every_call_from_waiting_on_it_until_the_guard_probes():
    store, clock = FakeStore(), Clock()
    store.down, store.timeout = True, True
    fleet = breaker(store, clock=clock)
    fleet.call("d", lambda: None)
    assert fleet.store_guard.state is BreakerState.OPEN
    calls = store.calls
    for _ in range(5):
        fleet.call("d", lambda: None)
    assert store.calls == calls  # nobody waited on the dead store
    store.down = False
    clock.now += 1.0  # the guard's first cool-down
    fleet.call("d", lambda: None)
    assert fleet.store_reachable and store.calls > calls
