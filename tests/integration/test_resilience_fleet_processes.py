"""The fleet test, counts only: eight worker processes share one breaker on the real Redis while their
downstream fails and recovers (the bench prints the same run's times beside Powertools': make bench).

Machine-independent assertions only: how many failing calls got through before every worker stopped,
how many probes were ever in flight at once, that every worker calls again, and a probe holder that
dies mid-probe (a killed process) loses its lease to another. No timing is asserted.
"""

from __future__ import annotations

import multiprocessing as mp
import time
import uuid

import redis

from bench.fleet import Breaker, Scenario, run_fleet
from gatehouse.resilience.records import BreakerConfig
from gatehouse.resilience.redis_breaker import RedisBreakerStore

SETTINGS = {
    "window_ms": 10_000,
    "buckets": 10,
    "minimum_calls": 10,
    "failure_rate_percent": 50,
    "slow_call_ms": 2_000,
    "open_ms": 500,
    "half_open_permits": 3,
    "probe_lease_ms": 3_000,
}
# A slow downstream (100 ms a call) keeps the three probes of a half-open period in flight together
# even on a loaded machine; the counts below do not depend on it.
SCENARIO = Scenario(workers=8, healthy_s=0.3, failing_s=1.6, latency_s=0.1, recovery_timeout_s=30)


def test_eight_processes_stop_within_the_bound_probe_exactly_the_permits_and_all_close_again(redis_url):
    result = run_fleet(Breaker("gatehouse", f"fleet-{uuid.uuid4().hex[:8]}", SETTINGS, redis_url=redis_url), SCENARIO)
    assert result.failing_calls is not None, "some worker never stopped calling the failing downstream"
    assert result.failing_calls <= SETTINGS["minimum_calls"] + SCENARIO.workers, result
    assert result.most_probes_in_flight == SETTINGS["half_open_permits"], result
    assert result.recovery_s is not None, "some worker never called again"
    assert result.transitions[0] == "closed>open" and result.transitions[-1] == "half_open>closed"
    # Each transition was reported once, by the one worker whose call made it: they alternate.
    for before, after in zip(result.transitions, result.transitions[1:], strict=False):
        assert before.split(">")[1] == after.split(">")[0], result.transitions


def _take_a_probe_and_die(redis_url: str, name: str, settings: dict, taken: mp.synchronize.Event) -> None:
    store = RedisBreakerStore(redis.Redis.from_url(redis_url))
    admission = store.acquire(name, BreakerConfig(**settings))
    assert admission.verdict == "probe"
    taken.set()
    time.sleep(3600)  # killed while "calling": never reports


def test_a_killed_probe_holder_loses_its_lease_and_another_process_probes(redis_url):
    settings = {**SETTINGS, "half_open_permits": 1, "probe_lease_ms": 300, "minimum_calls": 2}
    config = BreakerConfig(**settings)
    name = f"dies-{uuid.uuid4().hex[:8]}"
    store = RedisBreakerStore(redis.Redis.from_url(redis_url))
    for _ in range(2):
        store.record(name, config, store.acquire(name, config), success=False)
    time.sleep(config.open_ms / 1000 + 0.05)
    ctx = mp.get_context("spawn")
    taken = ctx.Event()
    holder = ctx.Process(target=_take_a_probe_and_die, args=(redis_url, name, settings, taken), daemon=True)
    holder.start()
    try:
        assert taken.wait(60)
        assert store.acquire(name, config).verdict == "half_open"  # its permit is held
    finally:
        holder.kill()
        holder.join(10)
    time.sleep(config.probe_lease_ms / 1000 + 0.05)
    probe = store.acquire(name, config)
    assert probe.verdict == "probe"
    assert store.record(name, config, probe, success=True).transition is not None
    assert store.acquire(name, config).verdict == "closed"
