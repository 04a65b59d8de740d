"""limiter.lua and its Python twin (ratelimit/algorithms.py, run by the fallback limiter) decide alike.

Hypothesis generates window sets and sequences of requests (cost, check or peek, clock steps);
each step runs on a real redis-server and on LocalLimiter at the same instant, and every
window's verdict must agree: allowed, remaining, reset, retry, and the deciding clock.

The script reads Redis TIME; here it reads a clock the test sets instead (a copy of the
script with that one call replaced), so both sides see exactly the same microsecond. The
clock starts at the real time and only moves forward, so the script's PXAT deadlines are
never in the past.
"""

from __future__ import annotations

import time
import uuid

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatehouse.ratelimit.decision import Decision, scoped_windows
from gatehouse.ratelimit.fallback import LocalLimiter
from gatehouse.ratelimit.keys import keys_for
from gatehouse.ratelimit.policies import Policy, Window
from gatehouse.ratelimit.redis_engine import limiter_script, parse_reply, script_args

pytestmark = pytest.mark.integration

CLOCK_KEY = "gh:test:clock"
REDIS_TIME = "local t = redis.call('TIME')"


@pytest.fixture(scope="module")
def clocked_script() -> str:
    source, _ = limiter_script()
    assert source.count(REDIS_TIME) == 1, "the script's clock moved: update this test's substitution"
    return source.replace(REDIS_TIME, f"local t = redis.call('HMGET', '{CLOCK_KEY}', 's', 'us')")


@pytest.fixture(scope="module")
def client(redis_url):
    c = redis.Redis.from_url(redis_url, socket_timeout=5)
    yield c
    c.delete(CLOCK_KEY)
    c.close()


windows_strategy = st.lists(
    st.builds(
        lambda algorithm, limit, period, burst: (algorithm, limit, period, burst),
        st.sampled_from(["gcra", "sliding"]),
        st.integers(1, 40),
        st.sampled_from([1, 2, 5, 60, 3600]),
        st.one_of(st.none(), st.integers(1, 50)),
    ),
    min_size=1,
    max_size=3,
)

steps_strategy = st.lists(
    st.tuples(
        # clock step in microseconds: none, sub-millisecond, a fraction of a period, or whole periods
        st.one_of(
            st.just(0), st.integers(1, 999), st.integers(1_000, 2_000_000), st.integers(2_000_000, 7_300_000_000)
        ),
        st.one_of(st.integers(1, 5), st.integers(6, 60)),  # cost, sometimes above a limit
        st.booleans(),  # peek (usage) instead of check
    ),
    min_size=1,
    max_size=25,
)


def _policies(spec: list[tuple[str, int, int, int | None]]) -> list[Policy]:
    windows = tuple(
        Window(name=f"w{i}", limit=limit, period_seconds=period, algorithm=algorithm, burst=burst)  # type: ignore[arg-type]
        for i, (algorithm, limit, period, burst) in enumerate(spec)
    )
    return [Policy(name="diff", windows=windows)]


def _verdicts(decision: Decision) -> list[tuple[object, ...]]:
    return [(w.allowed, w.remaining, w.reset_after_ms, w.retry_after_ms) for w in decision.windows]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=windows_strategy, steps=steps_strategy)
def test_lua_and_python_limiters_decide_alike(client, clocked_script, spec, steps):
    windows = scoped_windows(_policies(spec))
    subject = f"diff:{uuid.uuid4()}"
    keys = keys_for(subject, windows)
    now_us = time.time_ns() // 1000
    python_side = LocalLimiter(clock=lambda: now_us / 1_000_000)

    for index, (step_us, cost, peek) in enumerate(steps):
        now_us += step_us
        client.hset(CLOCK_KEY, mapping={"s": now_us // 1_000_000, "us": now_us % 1_000_000})
        reply = client.eval(clocked_script, len(keys), *keys, *script_args(windows, cost, peek=peek))
        in_lua = parse_reply(reply, windows, cost)
        in_python = python_side.evaluate(subject, windows, cost, peek=peek)

        where = f"step {index}: +{step_us} us, cost {cost}, {'peek' if peek else 'check'}"
        assert in_lua.now_ms == in_python.now_ms, where
        assert in_lua.allowed == in_python.allowed, where
        assert _verdicts(in_lua) == _verdicts(in_python), where
