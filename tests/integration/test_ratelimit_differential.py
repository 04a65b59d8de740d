"""The limiter scripts and their Python twin (ratelimit/algorithms.py, run by the fallback limiter)
decide alike: limiter.lua, the script written for the check's shape (scripts.py), and LocalLimiter.

Hypothesis generates policy sets (a key each) and sequences of requests (cost, check or peek, clock
steps); each step runs both scripts on a real redis-server, each on keys of its own, and
LocalLimiter, at the same instant, and every window's verdict must agree: allowed, remaining,
reset, retry, and the deciding clock. The two scripts must also leave the same values with the
same expiry deadlines (PEXPIRETIME) behind.

The scripts read Redis TIME; here they read a clock the test sets instead (a copy of each
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
from gatehouse.ratelimit.redis_engine import parse_reply, script_args
from gatehouse.ratelimit.scripts import WRITTEN_MAX_WINDOWS, limiter_script, script_for

pytestmark = pytest.mark.integration

CLOCK_KEY = "gh:test:clock"
REDIS_TIME = "local t = redis.call('TIME')"


def clocked(source: str) -> str:
    assert source.count(REDIS_TIME) == 1, "the script's clock moved: update this test's substitution"
    return source.replace(REDIS_TIME, f"local t = redis.call('HMGET', '{CLOCK_KEY}', 's', 'us')")


@pytest.fixture(scope="module")
def clocked_script() -> str:
    return clocked(limiter_script()[0])


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
# One to three policies (a key each) of one to three windows, at most eight in all (a check with
# more runs limiter.lua alone).
policies_strategy = st.lists(windows_strategy, min_size=1, max_size=3).filter(
    lambda specs: sum(map(len, specs)) <= WRITTEN_MAX_WINDOWS
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


def _policies(specs: list[list[tuple[str, int, int, int | None]]]) -> list[Policy]:
    return [
        Policy(
            name=f"diff{p}",
            windows=tuple(
                Window(name=f"w{i}", limit=limit, period_seconds=period, algorithm=algorithm, burst=burst)  # type: ignore[arg-type]
                for i, (algorithm, limit, period, burst) in enumerate(spec)
            ),
        )
        for p, spec in enumerate(specs)
    ]


def _verdicts(decision: Decision) -> list[tuple[object, ...]]:
    return [(w.allowed, w.remaining, w.reset_after_ms, w.retry_after_ms) for w in decision.windows]


# A value no script wrote, set on every key before the first step (with or without an expiry): digit
# groups and separators, which now and then spell a layout the scripts read.
seed_strategy = st.one_of(
    st.none(),
    st.tuples(
        st.one_of(
            st.text(alphabet="0123456789:;", max_size=48),
            st.from_regex(r"\A(\d{1,18}[:;]){1,12}\Z", fullmatch=True),
        ),
        st.booleans(),
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=policies_strategy, steps=steps_strategy, seed=seed_strategy)
def test_lua_and_python_limiters_decide_alike(client, clocked_script, specs, steps, seed):
    windows = scoped_windows(_policies(specs))
    subject = f"diff:{uuid.uuid4()}"
    keys = keys_for(subject, windows)
    written_keys = keys_for(f"written:{subject}", windows)
    written = clocked(script_for(str(script_args(windows, 1, peek=False)[1]))[0])
    assert written != clocked_script
    now_us = time.time_ns() // 1000
    python_side = LocalLimiter(clock=lambda: now_us / 1_000_000)
    if seed is not None:  # the scripts must agree on it; the Python twin never sees Redis
        value, expires = seed
        deadline = time.time_ns() // 1_000_000 + 3_600_000 if expires else None  # one for both scripts' keys
        for key in [*keys, *written_keys]:
            client.set(key, value, pxat=deadline)

    for index, (step_us, cost, peek) in enumerate(steps):
        now_us += step_us
        client.hset(CLOCK_KEY, mapping={"s": now_us // 1_000_000, "us": now_us % 1_000_000})
        args = script_args(windows, cost, peek=peek)
        in_lua = parse_reply(client.eval(clocked_script, len(keys), *keys, *args), windows, cost)
        in_written = parse_reply(client.eval(written, len(keys), *written_keys, *args), windows, cost)
        in_python = python_side.evaluate(subject, windows, cost, peek=peek)

        where = f"step {index}: +{step_us} us, cost {cost}, {'peek' if peek else 'check'}"
        assert in_written == in_lua, where
        if seed is None:
            assert in_lua.now_ms == in_python.now_ms, where
            assert in_lua.allowed == in_python.allowed, where
            assert _verdicts(in_lua) == _verdicts(in_python), where
        for key, written_key in zip(keys, written_keys, strict=True):
            assert client.get(written_key) == client.get(key), where
            assert client.pexpiretime(written_key) == client.pexpiretime(key), where
