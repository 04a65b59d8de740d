"""fleet_breaker.lua on a real redis-server: the window, minimum calls, slow calls, the streak, the open
period, leased half-open permits, generations, isolate and reset, each transition told to one caller.

An open period (two seconds) and a probe lease are long next to the Redis calls a test makes while it
needs them to last; where a test needs one to have ended it polls the breaker's own snapshot (Redis's
clock) until it has. A sleep only ever waits for a period to pass; nothing here times how long anything took.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from redis.crc import key_slot

from gatehouse.resilience.records import BreakerConfig, FleetState
from gatehouse.resilience.redis_breaker import RedisBreakerStore, breaker_keys
from tests.e2e.tokens import poll


@pytest.fixture
def store(redis_url: str) -> RedisBreakerStore:
    return RedisBreakerStore(redis.Redis.from_url(redis_url))


def fresh() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def config(**overrides) -> BreakerConfig:
    base = {
        "window_ms": 10_000,
        "buckets": 10,
        "minimum_calls": 4,
        "failure_rate_percent": 50,
        "slow_call_ms": 5_000,
        "open_ms": 2_000,
        "half_open_permits": 2,
        "probe_lease_ms": 5_000,
        "consecutive_failures": 0,
    }
    return BreakerConfig(**{**base, **overrides})


def call(store: RedisBreakerStore, name: str, cfg: BreakerConfig, *, success: bool):
    admission = store.acquire(name, cfg)
    assert admission.admitted, admission
    return admission, store.record(name, cfg, admission, success=success)


def open_breaker(store: RedisBreakerStore, name: str, cfg: BreakerConfig) -> None:
    for _ in range(cfg.minimum_calls):
        call(store, name, cfg, success=False)
    assert store.acquire(name, cfg).verdict == "open"


def wait_for_half_open(store: RedisBreakerStore, name: str, cfg: BreakerConfig) -> None:
    """Until the open period has ended on Redis's clock (nothing is left to wait before probes)."""
    # The end of the open period (a generous deadline, not a bound).
    poll(lambda: store.snapshots([name], cfg)[0].retry_after_ms == 0, timeout=30, interval=0.02)


def test_every_key_of_a_breaker_hashes_to_one_cluster_slot():
    assert len({key_slot(k.encode()) for k in breaker_keys("hooks.example.com:443")}) == 1


def test_a_closed_breaker_admits_and_counts_nothing_before_the_minimum_calls(store):
    name, cfg = fresh(), config(minimum_calls=5)
    for _ in range(4):
        _, outcome = call(store, name, cfg, success=False)
        assert outcome.transition is None
    snapshot = store.snapshots([name], cfg)[0]
    assert (snapshot.state, snapshot.calls, snapshot.failures) == (FleetState.CLOSED, 4, 4)


def test_the_failure_rate_opens_it_once_the_minimum_calls_are_in_and_says_so_once(store):
    name, cfg = fresh(), config(minimum_calls=4, failure_rate_percent=50)
    outcomes = [call(store, name, cfg, success=ok)[1] for ok in (True, True, False, False)]
    transitions = [o.transition for o in outcomes if o.transition]
    assert len(transitions) == 1
    t = transitions[0]
    assert (t.from_state, t.to_state, t.reason, t.generation) == (FleetState.CLOSED, FleetState.OPEN, "failure_rate", 1)
    refused = store.acquire(name, cfg)
    assert refused.verdict == "open" and 0 < refused.wait_ms <= cfg.open_ms


def test_a_rate_under_the_threshold_keeps_it_closed(store):
    name, cfg = fresh(), config(minimum_calls=4, failure_rate_percent=50)
    for ok in (True, True, True, False, True, False, True):
        call(store, name, cfg, success=ok)
    assert store.acquire(name, cfg).verdict == "closed"


def test_failures_that_left_the_window_no_longer_count(store):
    name, cfg = fresh(), config(window_ms=300, buckets=3, minimum_calls=3, failure_rate_percent=100)
    call(store, name, cfg, success=False)
    call(store, name, cfg, success=False)
    time.sleep(0.45)  # past the window on Redis's clock
    _, outcome = call(store, name, cfg, success=False)
    assert outcome.transition is None
    assert store.snapshots([name], cfg)[0].failures == 1


def test_a_slow_call_is_a_failure(store):
    name, cfg = fresh(), config(minimum_calls=1, failure_rate_percent=100, slow_call_ms=1)
    admission = store.acquire(name, cfg)
    time.sleep(0.01)
    outcome = store.record(name, cfg, admission, success=True)
    assert outcome.transition is not None and outcome.transition.to_state is FleetState.OPEN


def test_a_failure_streak_opens_it_after_a_healthy_history(store):
    # A hundred successes in the window would need a hundred failures at 50 %: the streak opens it sooner.
    name, cfg = fresh(), config(minimum_calls=5, consecutive_failures=5)
    for _ in range(100):
        call(store, name, cfg, success=True)
    transitions = [call(store, name, cfg, success=False)[1].transition for _ in range(5)]
    assert [t.reason for t in transitions if t] == ["failure_streak"]
    assert transitions[-1] is not None


def test_a_late_success_of_an_older_call_does_not_break_the_streak(store):
    name, cfg = fresh(), config(minimum_calls=100, consecutive_failures=3)
    old = store.acquire(name, cfg)  # admitted before the failures, answered after them
    call(store, name, cfg, success=False)
    call(store, name, cfg, success=False)
    store.record(name, cfg, old, success=True)
    _, outcome = call(store, name, cfg, success=False)
    assert outcome.transition is not None and outcome.transition.reason == "failure_streak"


def test_a_newer_success_breaks_the_streak(store):
    name, cfg = fresh(), config(minimum_calls=100, consecutive_failures=3)
    call(store, name, cfg, success=False)
    call(store, name, cfg, success=False)
    call(store, name, cfg, success=True)
    call(store, name, cfg, success=False)
    _, outcome = call(store, name, cfg, success=False)
    assert outcome.transition is None


def test_after_the_open_period_exactly_the_permitted_probes_are_admitted(store):
    name, cfg = fresh(), config(half_open_permits=3)
    open_breaker(store, name, cfg)
    wait_for_half_open(store, name, cfg)
    answers = [store.acquire(name, cfg) for _ in range(6)]
    assert [a.verdict for a in answers] == ["probe"] * 3 + ["half_open"] * 3
    moved = [a.transition for a in answers if a.transition]
    assert len(moved) == 1 and (moved[0].from_state, moved[0].to_state) == (FleetState.OPEN, FleetState.HALF_OPEN)
    assert len({a.permit for a in answers[:3]}) == 3


def test_concurrent_callers_get_exactly_the_permitted_probes(store, redis_url):
    name, cfg = fresh(), config(half_open_permits=4)
    open_breaker(store, name, cfg)
    wait_for_half_open(store, name, cfg)
    stores = [RedisBreakerStore(redis.Redis.from_url(redis_url)) for _ in range(16)]
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda s: s.acquire(name, cfg), stores))
    assert sum(a.verdict == "probe" for a in answers) == 4
    assert sum(a.transition is not None for a in answers) == 1


def test_probes_that_pass_close_it_and_a_new_generation_starts_empty(store):
    name, cfg = fresh(), config(half_open_permits=3)  # 50 % of 3: two failed probes reopen, two passed close
    open_breaker(store, name, cfg)
    wait_for_half_open(store, name, cfg)
    probes = [store.acquire(name, cfg) for _ in range(3)]
    assert store.record(name, cfg, probes[0], success=True).transition is None
    closed = store.record(name, cfg, probes[1], success=True).transition
    assert closed is not None and (closed.to_state, closed.reason) == (FleetState.CLOSED, "probes_passed")
    snapshot = store.snapshots([name], cfg)[0]
    assert (snapshot.state, snapshot.calls, snapshot.generation) == (FleetState.CLOSED, 0, closed.generation)
    # The third probe answers late: its generation is over.
    assert store.record(name, cfg, probes[2], success=False).recorded == "stale_generation"
    assert store.acquire(name, cfg).verdict == "closed"


def test_probes_that_fail_reopen_it_for_another_open_period(store):
    name, cfg = fresh(), config(half_open_permits=1)
    open_breaker(store, name, cfg)
    wait_for_half_open(store, name, cfg)
    probe = store.acquire(name, cfg)
    reopened = store.record(name, cfg, probe, success=False).transition
    assert reopened is not None and (reopened.to_state, reopened.reason) == (FleetState.OPEN, "probes_failed")
    assert store.acquire(name, cfg).verdict == "open"


def test_a_dead_probe_holders_lease_lapses_and_another_caller_probes(store):
    # The lease is a per-acquire argument: the dead holder's is short enough to wait out, the live
    # probe's long enough to outlast the rest of the test.
    name, cfg = fresh(), config(half_open_permits=1, probe_lease_ms=5_000)
    live_cfg = config(half_open_permits=1, probe_lease_ms=600_000)
    open_breaker(store, name, cfg)
    wait_for_half_open(store, name, cfg)
    dead = store.acquire(name, cfg)  # its holder never reports
    assert dead.verdict == "probe"
    assert store.acquire(name, live_cfg).verdict == "half_open"  # the permit is taken while the lease lives
    poll(lambda: store.snapshots([name], cfg)[0].probes_in_flight == 0, timeout=30, interval=0.02)  # the lease lapses
    other = store.acquire(name, live_cfg)
    assert other.verdict == "probe" and other.permit != dead.permit and other.generation == dead.generation
    # The dead holder's late answer changes nothing; the live probe decides.
    assert store.record(name, cfg, dead, success=False).recorded == "lease_lapsed"
    assert store.snapshots([name], cfg)[0].state is FleetState.HALF_OPEN
    closed = store.record(name, cfg, other, success=True).transition
    assert closed is not None and closed.to_state is FleetState.CLOSED


def test_late_results_of_an_earlier_generation_change_nothing(store):
    name, cfg = fresh(), config(minimum_calls=3, failure_rate_percent=100)
    late = [store.acquire(name, cfg) for _ in range(5)]  # admitted while closed, answered after it opened
    for admission in late[:3]:
        store.record(name, cfg, admission, success=False)
    before = store.snapshots([name], cfg)[0]
    assert before.state is FleetState.OPEN

    def counts(snapshot):  # everything but the time left in the open period, which runs down meanwhile
        return (snapshot.state, snapshot.generation, snapshot.calls, snapshot.failures, snapshot.probes_passed)

    outcomes = [store.record(name, cfg, a, success=ok) for a, ok in ((late[3], True), (late[4], False))]
    assert {o.recorded for o in outcomes} == {"stale_generation"}
    assert all(o.transition is None for o in outcomes)
    assert counts(store.snapshots([name], cfg)[0]) == counts(before)
    # ... and in half-open too: a closed-generation success does not count as a probe.
    wait_for_half_open(store, name, cfg)
    store.acquire(name, cfg)
    assert store.record(name, cfg, late[3], success=True).recorded == "stale_generation"
    assert store.snapshots([name], cfg)[0].probes_passed == 0


def test_isolate_refuses_without_probing_until_reset(store):
    # A short open period: an isolated breaker has none to wait out, and this shows it does not.
    name, cfg = fresh(), config(open_ms=200)
    snapshot, moved = store.isolate(name, cfg)
    assert snapshot.state is FleetState.ISOLATED and moved is not None and moved.reason == "isolated"
    assert store.isolate(name, cfg)[1] is None  # isolating twice is one transition
    time.sleep(cfg.open_ms / 1000 + 0.02)
    assert store.acquire(name, cfg).verdict == "isolated"
    assert redis.Redis(connection_pool=store.client.connection_pool).pttl(breaker_keys(name)[0]) == -1
    snapshot, moved = store.reset(name, cfg)
    assert snapshot.state is FleetState.CLOSED and moved is not None and moved.from_state is FleetState.ISOLATED
    assert store.acquire(name, cfg).verdict == "closed"


def test_resetting_a_closed_breaker_forgets_its_window_without_a_transition(store):
    name, cfg = fresh(), config(minimum_calls=4)
    for _ in range(3):
        call(store, name, cfg, success=False)
    snapshot, moved = store.reset(name, cfg)
    assert moved is None and snapshot.calls == 0
    _, outcome = call(store, name, cfg, success=False)
    assert outcome.transition is None


def test_names_are_listed_in_order_with_a_cursor(store):
    prefix = f"list-{uuid.uuid4().hex[:8]}"
    for suffix in ("c", "a", "b"):
        store.isolate(f"{prefix}-{suffix}", config())
    names, _ = store.names(1000, f"{prefix}-")
    mine = [n for n in names if n.startswith(prefix)]
    assert mine == [f"{prefix}-a", f"{prefix}-b", f"{prefix}-c"]
    page, more = store.names(1, f"{prefix}-a")
    assert page == [f"{prefix}-b"] and more
    assert store.is_known(f"{prefix}-a") and not store.is_known(f"{prefix}-zzz")


def test_after_a_script_flush_the_script_is_sent_again(store):
    name, cfg = fresh(), config()
    store.client.script_flush()
    assert store.acquire(name, cfg).verdict == "closed"
    store.client.script_flush()
    call(store, name, cfg, success=True)
