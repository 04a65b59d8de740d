"""The engine's hand-built EVALSHA request and reply parsing, checked against redis-py's own."""

from __future__ import annotations

import pytest
import redis

from gatehouse.ratelimit.decision import Decision, WindowResult, scoped_windows
from gatehouse.ratelimit.keys import keys_for
from gatehouse.ratelimit.policies import DEFAULT_POLICIES, Policy, Window
from gatehouse.ratelimit.redis_engine import RedisEngine, parse_reply, script_args


def capture(engine, reply):
    sent = []

    def fake_call(pool, packed):
        sent.append(packed)
        return reply

    engine._call = fake_call
    return sent


def redis_py_packing(engine, subject, windows, cost, peek):
    keys = keys_for(subject, windows)
    args = script_args(windows, cost, peek=peek)
    conn = redis.Connection()
    return b"".join(conn.pack_command("EVALSHA", engine.sha, len(keys), *keys, *args))


@pytest.mark.parametrize("cost, peek", [(1, False), (7, False), (1, True)])
@pytest.mark.parametrize("subject", ["user-1", "ünïcødé}{", "x" * 500])
def test_request_is_what_redis_py_would_send(subject, cost, peek):
    engine = RedisEngine(redis.Redis())
    first = scoped_windows([DEFAULT_POLICIES["starter"], DEFAULT_POLICIES["credentials"]])
    second = scoped_windows([DEFAULT_POLICIES["free"]])
    custom = scoped_windows([Policy(name="starter", windows=(Window(name="hour", limit=7, period_seconds=60),))])
    # Alternating policy sets for one subject must never reuse a stale plan.
    for windows in (first, first, second, custom, first):
        sent = capture(engine, b"1" + b",1,5,10,0" * len(windows))
        engine.evaluate(subject, windows, cost, peek=peek)
        assert sent == [redis_py_packing(engine, subject, windows, cost, peek)]


def test_reply_parses_into_the_decision_a_plain_constructor_builds():
    windows = scoped_windows([DEFAULT_POLICIES["starter"], DEFAULT_POLICIES["credentials"]])
    reply = "1700000000123,1,999,3600000,0,0,0,1000,250,1,4,900000,0"
    expected = Decision(
        allowed=False,
        windows=[
            WindowResult("starter", "hour", "sliding", 1000, 3600, True, 999, 3600000, 0),
            WindowResult("starter", "second", "gcra", 20, 1, False, 0, 1000, 250),
            WindowResult("credentials", "credentials", "sliding", 5, 900, True, 4, 900000, 0),
        ],
        cost=2,
        now_ms=1700000000123,
        policies=("starter", "credentials"),
    )
    for raw in (reply, reply.encode()):
        decision = parse_reply(raw, windows, 2)
        assert decision == expected
        assert type(decision) is Decision and all(type(w) is WindowResult for w in decision.windows)
        assert decision.binding.name == "second" and decision.retry_after == 1
    with pytest.raises(ValueError):
        parse_reply(b"1,1,2", windows, 1)


def test_cost_and_mode_changes_rebuild_the_request():
    engine = RedisEngine(redis.Redis())
    windows = scoped_windows([DEFAULT_POLICIES["starter"]])
    for cost, peek in [(1, False), (1, True), (3, False), (1, False), (1, False)]:
        sent = capture(engine, b"1" + b",1,5,10,0" * len(windows))
        engine.evaluate("s", windows, cost, peek=peek)
        assert sent == [redis_py_packing(engine, "s", windows, cost, peek)]


def test_other_clients_take_redis_pys_own_path():
    class Subclass(redis.Redis):
        pass

    assert RedisEngine(Subclass())._pool is None
    assert RedisEngine(redis.Redis())._pool is not None
