"""The rate-limit engine against a real redis-server: exactness, atomicity, one round trip, outages."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import redis
from redis.crc import key_slot

from gatehouse import wiring
from gatehouse.clients.redis_client import redis_client
from gatehouse.errors import ServiceUnavailableError
from gatehouse.ratelimit.decision import scoped_windows
from gatehouse.ratelimit.keys import keys_for
from gatehouse.ratelimit.policies import DEFAULT_POLICIES, Policy, Window
from gatehouse.ratelimit.redis_engine import RedisEngine
from gatehouse.ratelimit.service import RateLimiter
from gatehouse.resilience.local_breaker import BreakerState, LocalBreaker
from tests import stack_runs

pytestmark = pytest.mark.integration


class CountingConnection(redis.Connection):
    """Counts round trips: every request written to the socket (a pipeline would be one)."""

    sent = 0

    def send_packed_command(self, command, check_health=True):
        CountingConnection.sent += 1
        return super().send_packed_command(command, check_health)


@pytest.fixture
def client(redis_url):
    c = redis.Redis.from_url(redis_url, connection_class=CountingConnection, socket_timeout=5)
    yield c
    c.close()


@pytest.fixture
def engine(client):
    return RedisEngine(client)


@pytest.fixture
def subject():
    return f"test:{uuid.uuid4()}"


def one(name, limit, period, algorithm, burst=None, policy="p"):
    return scoped_windows(
        [
            Policy(
                name=policy,
                windows=(Window(name=name, limit=limit, period_seconds=period, algorithm=algorithm, burst=burst),),
            )
        ]
    )


# Long periods keep refill (GCRA) and bucket rollover (sliding, 1e6 s buckets) out of a test run.
EXACT = {
    "gcra": one("w", 50, 3600, "gcra"),
    "sliding": one("w", 50, 1_000_000, "sliding"),
}


@pytest.mark.parametrize("algorithm", ["gcra", "sliding"])
def test_concurrent_checks_admit_exactly_the_limit(engine, subject, algorithm):
    windows = EXACT[algorithm]
    admitted = []
    barrier = threading.Barrier(16)

    def worker():
        barrier.wait()
        for _ in range(10):
            admitted.append(engine.evaluate(subject, windows, 1).allowed)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(admitted) == 160
    assert admitted.count(True) == 50
    assert engine.evaluate(subject, windows, 1, peek=True).windows[0].remaining == 0


def test_concurrent_two_window_checks_never_exceed_either_window(engine, subject):
    windows = scoped_windows(
        [
            Policy(name="a", windows=(Window(name="w", limit=40, period_seconds=3600),)),
            Policy(name="b", windows=(Window(name="w", limit=25, period_seconds=1_000_000, algorithm="sliding"),)),
        ]
    )
    admitted = []

    def worker():
        for _ in range(10):
            admitted.append(engine.evaluate(subject, windows, 1).allowed)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert admitted.count(True) == 25
    # The looser window was charged only for admitted requests.
    assert [w.remaining for w in engine.evaluate(subject, windows, 1, peek=True).windows] == [15, 0]


def raw_state(client, keys):
    return [(client.type(k), client.get(k) if client.type(k) == b"string" else client.hgetall(k)) for k in keys]


def test_denied_request_charges_nothing(engine, client, subject):
    windows = scoped_windows(
        [
            Policy(name="tier", windows=(Window(name="hour", limit=10, period_seconds=3600),)),
            Policy(name="group", windows=(Window(name="q", limit=3, period_seconds=1_000_000, algorithm="sliding"),)),
        ]
    )
    for _ in range(3):
        assert engine.evaluate(subject, windows, 1).allowed
    keys = keys_for(subject, windows)
    before_raw = raw_state(client, keys)
    before = engine.evaluate(subject, windows, 1, peek=True)
    denied = engine.evaluate(subject, windows, 1)
    after = engine.evaluate(subject, windows, 1, peek=True)
    assert not denied.allowed
    assert [w.allowed for w in denied.windows] == [True, False]
    assert [w.remaining for w in before.windows] == [w.remaining for w in after.windows] == [7, 0]
    assert raw_state(client, keys) == before_raw


@pytest.mark.parametrize("algorithm", ["gcra", "sliding"])
def test_cost_is_charged_whole_or_not_at_all(engine, subject, algorithm):
    windows = one("w", 10, 3600 if algorithm == "gcra" else 1_000_000, algorithm)
    remaining = [engine.evaluate(subject, windows, 3).windows[0].remaining for _ in range(3)]
    assert remaining == [7, 4, 1]
    too_big = engine.evaluate(subject, windows, 3)
    assert not too_big.allowed
    assert too_big.windows[0].remaining == 1
    assert too_big.windows[0].retry_after_ms > 0
    assert engine.evaluate(subject, windows, 1).windows[0].remaining == 0
    never = engine.evaluate(f"{subject}:other", windows, 11)
    assert not never.allowed
    assert never.windows[0].retry_after_ms == -1


@pytest.mark.parametrize("algorithm", ["gcra", "sliding"])
def test_windows_roll_over_on_redis_time(engine, subject, algorithm):
    windows = one("w", 2, 1, algorithm)
    assert engine.evaluate(subject, windows, 1).allowed
    assert engine.evaluate(subject, windows, 1).allowed
    denied = engine.evaluate(subject, windows, 1)
    assert not denied.allowed
    wait_ms = denied.windows[0].retry_after_ms
    assert 0 < wait_ms <= 2000
    assert denied.retry_after >= 1
    time.sleep(wait_ms / 1000 + 0.02)
    assert engine.evaluate(subject, windows, 1).allowed


def test_every_key_the_script_touches_is_declared_and_in_one_slot(engine, client, subject):
    windows = scoped_windows([DEFAULT_POLICIES["starter"], DEFAULT_POLICIES["credentials"]])
    odd_subject = f"{subject}}}{{weird"
    engine.evaluate(odd_subject, windows, 1)
    declared = keys_for(odd_subject, windows)
    touched = sorted(k.decode() for k in client.scan_iter(match=f"*{subject}*", count=1000))
    assert touched == sorted(declared)
    assert len({key_slot(k.encode()) for k in touched}) == 1
    # Idle subjects vanish: every key has a TTL no longer than its window needs.
    ttls = [client.pttl(k) for k in declared]
    assert all(0 < ttl <= 2 * 3600 * 1000 + 1000 for ttl in ttls)


@pytest.mark.parametrize("algorithm", ["gcra", "sliding"])
def test_expiry_always_covers_the_state_it_guards(engine, client, subject, algorithm):
    # Most charges rewrite a key with KEEPTTL; its deadline must still never fall before the
    # state matters no more (the GCRA TAT; the end of the sliding counter's next bucket).
    windows = one("w", 1000, 1, algorithm)
    key = keys_for(subject, windows)[0]
    for _ in range(300):  # GCRA: the TAT moves 900 ms, most likely across a period boundary
        decision = engine.evaluate(subject, windows, 3)
        assert decision.allowed
        # Absolute times on Redis's own clock (PEXPIRETIME, the decision's TIME), so how long
        # this process takes between the two calls cannot matter. 1 ms of rounding either way.
        expires_at_ms = client.pexpiretime(key)
        state_matters_until_ms = decision.now_ms + decision.windows[0].reset_after_ms
        assert state_matters_until_ms - 1 <= expires_at_ms <= decision.now_ms + 2 * 1000 + 1, (
            state_matters_until_ms,
            expires_at_ms,
        )


def command_calls(client):
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): value["calls"] for name, value in stats.items()}


def test_one_round_trip_per_check(engine, client, subject):
    windows = scoped_windows([DEFAULT_POLICIES["starter"], DEFAULT_POLICIES["credentials"]])
    engine.evaluate(subject, windows, 1)  # connection handshake and script cache warm
    client.config_resetstat()
    CountingConnection.sent = 0
    for _ in range(10):
        engine.evaluate(subject, windows, 1)
    assert CountingConnection.sent == 10
    calls = command_calls(client)
    assert calls.pop("evalsha") == 10
    # commandstats also counts the commands the script runs inside Redis; nothing else came
    # from the client (no EVAL, SCRIPT LOAD, or separate reads).
    inside_script = {"time", "get", "mget", "set", "setrange", "hmget", "hset", "pexpire"}
    assert set(calls) <= inside_script | {"config|resetstat", "info"}


def test_noscript_falls_back_to_eval_and_recaches(engine, client, subject):
    windows = one("w", 5, 3600, "gcra")
    engine.evaluate(subject, windows, 1)
    client.script_flush()
    CountingConnection.sent = 0
    decision = engine.evaluate(subject, windows, 1)
    assert decision.allowed and decision.windows[0].remaining == 3
    assert CountingConnection.sent == 2  # EVALSHA (NOSCRIPT) then EVAL, which caches it again
    CountingConnection.sent = 0
    engine.evaluate(subject, windows, 1)
    assert CountingConnection.sent == 1


def test_generic_client_path_decides_alike(engine, redis_url, subject):
    # Clients other than a plain redis.Redis (RedisCluster, subclasses) take redis-py's evalsha.
    class OtherClient(redis.Redis):
        pass

    other = OtherClient.from_url(redis_url, socket_timeout=5)
    generic = RedisEngine(other)
    assert generic._pool is None and engine._pool is not None
    windows = scoped_windows([DEFAULT_POLICIES["free"], DEFAULT_POLICIES["credentials"]])
    other.script_flush()  # NOSCRIPT, then EVAL
    for i in range(6):
        a = engine.evaluate(subject, windows, 1) if i % 2 else generic.evaluate(subject, windows, 1)
        b = generic.evaluate(subject, windows, 1, peek=True)
        assert [w.remaining for w in a.windows] == [w.remaining for w in b.windows]
        assert a.allowed == (i < 5)
    other.close()


@pytest.fixture
def settings_redis(redis_url):
    """The production client (short timeouts, one retry) pointed at the session's Redis.

    The process's wiring follows REDIS_URL meanwhile: a local stack's timed runs are held, so none is
    wired to this Redis (which the test stops) or keeps that wiring once the test is over."""
    with stack_runs.timed_runs_held():
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("REDIS_URL", redis_url)
            wiring.reset()
            yield redis_client
        wiring.reset()  # REDIS_URL is the stack's again: nothing built from the test's is kept


def test_redis_outage_fails_open_or_closed_and_recovers(settings_redis, redis_server, subject):
    # The breaker's clock is the test's: it stays open until the test moves the clock past its cool-down.
    now = [0.0]
    round_trips = []

    class CountedEngine(RedisEngine):
        def _call(self, pool, request):  # every round trip to Redis, answered or not
            round_trips.append(request)
            return RedisEngine._call(pool, request)

    limiter = RateLimiter(
        lambda: CountedEngine(settings_redis()),
        breaker=LocalBreaker(failure_threshold=3, base_cooldown=0.2, max_cooldown=1.0, clock=lambda: now[0]),
    )
    open_policy = [Policy(name="open", windows=(Window(name="hour", limit=3, period_seconds=3600),))]
    closed_policy = [
        Policy(name="closed", failure_mode="closed", windows=(Window(name="hour", limit=3, period_seconds=3600),))
    ]
    assert not limiter.check(subject, open_policy).degraded
    assert len(round_trips) == 1

    redis_server.stop()
    try:
        round_trips.clear()
        answers = [limiter.check(subject, open_policy) for _ in range(8)]
        assert all(d.degraded for d in answers)
        # The in-process fallback still limits: 3 per hour on this instance.
        assert [d.allowed for d in answers] == [True, True, True] + [False] * 5
        assert limiter.breaker.state is BreakerState.OPEN
        # Only the three failures in a row that opened the breaker waited on the dead Redis.
        assert len(round_trips) == 3
        with pytest.raises(ServiceUnavailableError):
            limiter.check(subject, closed_policy)
        assert limiter.usage(subject, open_policy).degraded
        assert len(round_trips) == 3
    finally:
        redis_server.start()

    # Past the cool-down the next check probes Redis, which answers: limiting is back at once.
    now[0] += limiter.breaker.max_cooldown
    decision = limiter.check(subject, open_policy)
    assert not decision.degraded, "limiting did not come back after Redis restarted"
    assert limiter.breaker.state is BreakerState.CLOSED
    assert not limiter.check(subject, closed_policy).degraded


def test_limiter_applies_overrides_and_blocks_without_redis(redis_url, subject):
    from gatehouse.ratelimit.overrides import InMemoryOverrides, Override

    overrides = InMemoryOverrides(Override(subject=subject, blocked=True))
    calls = []

    def factory():
        calls.append(1)
        return redis.Redis.from_url(redis_url)

    limiter = RateLimiter(lambda: RedisEngine(factory()), overrides)
    decision = limiter.check(subject, [DEFAULT_POLICIES["free"]])
    assert decision.blocked and not decision.allowed and decision.retry_after == 3600
    assert calls == []
    overrides.put(Override(subject=subject, emergency=[Window(name="cap", limit=1, period_seconds=60)]))
    assert limiter.check(subject, [DEFAULT_POLICIES["free"]]).allowed
    denied = limiter.check(subject, [DEFAULT_POLICIES["free"]])
    assert not denied.allowed and denied.policy == "emergency"
    with pytest.raises(ValueError):
        limiter.check(subject, [DEFAULT_POLICIES["free"]], cost=0)
