"""The engine's hand-built EVALSHA request and reply parsing, checked against redis-py's own."""

from __future__ import annotations

import pytest
import redis

from gatehouse.errors import ServiceUnavailableError
from gatehouse.ratelimit.decision import Decision, WindowResult, scoped_windows
from gatehouse.ratelimit.errors import LimiterReplyError, LimiterUnavailable
from gatehouse.ratelimit.keys import keys_for
from gatehouse.ratelimit.policies import DEFAULT_POLICIES, Policy, Window
from gatehouse.ratelimit.redis_engine import RedisEngine, outage_code, parse_reply, script_args
from gatehouse.ratelimit.scripts import script_for
from gatehouse.ratelimit.service import RateLimiter
from gatehouse.resilience.local_breaker import BreakerState


def capture(engine, reply):
    sent = []

    def fake_call(pool, packed):
        sent.append(packed)
        return reply

    engine._call = fake_call
    return sent


def redis_py_packing(subject, windows, cost, peek, sent_before):
    """What redis-py sends: EVAL of the shape's script the first time this engine meets the shape
    (so that check is one round trip too), EVALSHA after."""
    keys = keys_for(subject, windows)
    args = script_args(windows, cost, peek=peek)
    conn = redis.Connection()
    source, sha = script_for(str(args[1]))  # the script written for this check's shape
    if sha in sent_before:
        return b"".join(conn.pack_command("EVALSHA", sha, len(keys), *keys, *args))
    sent_before.add(sha)
    return b"".join(conn.pack_command("EVAL", source, len(keys), *keys, *args))


@pytest.mark.parametrize("cost, peek", [(1, False), (7, False), (1, True)])
@pytest.mark.parametrize("subject", ["user-1", "ünïcødé}{", "x" * 500])
def test_request_is_what_redis_py_would_send(subject, cost, peek):
    engine = RedisEngine(redis.Redis())
    first = scoped_windows([DEFAULT_POLICIES["starter"], DEFAULT_POLICIES["credentials"]])
    second = scoped_windows([DEFAULT_POLICIES["free"]])
    custom = scoped_windows([Policy(name="starter", windows=(Window(name="hour", limit=7, period_seconds=60),))])
    # Alternating policy sets for one subject must never reuse a stale plan.
    shapes: set[str] = set()
    for windows in (first, first, second, custom, first):
        sent = capture(engine, b"1,0" + b",5,10,0" * len(windows))
        engine.evaluate(subject, windows, cost, peek=peek)
        assert sent == [redis_py_packing(subject, windows, cost, peek, shapes)]
    assert len(shapes) == 3  # first, second and custom: three shapes


def test_reply_parses_into_the_decision_a_plain_constructor_builds():
    windows = scoped_windows([DEFAULT_POLICIES["starter"], DEFAULT_POLICIES["credentials"]])
    reply = "1700000000,123456,999,3600000,0,0,1000,250,4,900000,0"
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
    with pytest.raises(LimiterReplyError):
        parse_reply(b"1,1,2", windows, 1)
    with pytest.raises(LimiterReplyError):
        parse_reply(b"1,0,1,x,0,1,2,0", scoped_windows([DEFAULT_POLICIES["free"]]), 1)


def test_cost_and_mode_changes_rebuild_the_request():
    engine = RedisEngine(redis.Redis())
    windows = scoped_windows([DEFAULT_POLICIES["starter"]])
    shapes: set[str] = set()
    for cost, peek in [(1, False), (1, True), (3, False), (1, False), (1, False)]:
        sent = capture(engine, b"1,0" + b",5,10,0" * len(windows))
        engine.evaluate("s", windows, cost, peek=peek)
        assert sent == [redis_py_packing("s", windows, cost, peek, shapes)]


@pytest.mark.parametrize("peek", [True, False])
def test_a_negative_cost_is_refused_before_it_can_flip_the_mode(peek):
    # The sign of the cost argument is limiter.lua's mode: -3 as a peek would be a charge of 3.
    engine = RedisEngine(redis.Redis())
    sent = capture(engine, b"1,0,5,10,0")
    with pytest.raises(ValueError, match="never negative"):
        engine.evaluate("s", scoped_windows([DEFAULT_POLICIES["free"]])[:1], -3, peek=peek)
    assert sent == []


def test_other_clients_take_redis_pys_own_path():
    class Subclass(redis.Redis):
        pass

    assert RedisEngine(Subclass())._pool is None
    assert RedisEngine(redis.Redis())._pool is not None


def _parsed(reply: str) -> Exception:
    """The exception redis-py raises for an error reply, as its parser builds it."""
    from redis._parsers.base import BaseParser

    return BaseParser.parse_error(reply)


@pytest.mark.parametrize(
    "reply, code",
    [
        ("OOM command not allowed when used memory > 'maxmemory'. script: 5a99, on @user_script:128.", "OOM"),
        ("READONLY You can't write against a read only replica. script: 5a99, on @user_script:128.", "READONLY"),
        ("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.", "BUSY"),
        ("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.", "MASTERDOWN"),
        ("CLUSTERDOWN The cluster is down", "CLUSTERDOWN"),
        ("TRYAGAIN Multiple keys request during rehashing of slot", "TRYAGAIN"),
        ("NOREPLICAS Not enough good replicas to write.", "NOREPLICAS"),
        # A failing RDB snapshot under stop-writes-on-bgsave-error: every write is refused until it heals.
        ("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk.", "MISCONF"),
        # Redis before 7 wraps a script's failing redis.call in its own ERR.
        ("ERR Error running script (call to f_5a99): @user_script:128: -OOM command not allowed", "OOM"),
        ("ERR user_script:12: attempt to compare nil with number script: 5a99, on @user_script:12.", None),
        ("WRONGTYPE Operation against a key holding the wrong kind of value", None),
        ("ERR value is not an integer or out of range", None),
    ],
)
def test_error_replies_that_mean_redis_cannot_decide_now_are_outages(reply, code):
    assert outage_code(_parsed(reply)) == code


@pytest.mark.parametrize(
    "reply, code",
    [
        ("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.", "BUSY"),
        ("NOREPLICAS Not enough good replicas to write.", "NOREPLICAS"),
        ("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk.", "MISCONF"),
        ("OOM command not allowed when used memory > 'maxmemory'.", "OOM"),
        ("WRONGTYPE Operation against a key holding the wrong kind of value", None),
    ],
)
def test_a_pipelined_commands_error_reply_is_classified_as_the_reply_itself(reply, code):
    # redis-py annotates a pipelined command's error ("Command # 1 (EVALSHA ...) of pipeline caused
    # error: <reply>"), and keeps no code for the replies it has no class for (BUSY, MISCONF, ...):
    # the breaker store's snapshots are a pipeline, and an outage there is an outage too.
    error = _parsed(reply)
    redis.client.Pipeline.annotate_exception(None, error, 1, ("EVALSHA", "5a99", "3", "gh:br:{host}"))
    assert str(error).startswith("Command # 1 (EVALSHA")
    assert outage_code(error) == code


@pytest.mark.parametrize(
    "reply, outage",
    [("OOM command not allowed", True), ("ERR user_script:1: boom", False)],
)
def test_the_engine_raises_outages_as_unavailable_and_other_replies_as_reply_errors(reply, outage):
    engine = RedisEngine(redis.Redis())
    windows = scoped_windows([DEFAULT_POLICIES["free"]])

    def fail(pool, packed):
        raise _parsed(reply)

    engine._call = fail
    with pytest.raises(LimiterUnavailable if outage else LimiterReplyError):
        engine.evaluate("s", windows, 1)


_TWO_WINDOWS = scoped_windows([DEFAULT_POLICIES["starter"]])  # hour and second
_GOOD = "1700000000,123456,999,3600000,0,19,1000,0"


@pytest.mark.parametrize(
    "reply",
    [
        "1700000000,123456,1_000,3600000,0,19,1000,0",  # int() reads an underscore
        "1700000000,123456, 999,3600000,0,19,1000,0",  # and surrounding whitespace
        "1700000000,123456,999 ,3600000,0,19,1000,0",
        "1700000000,123456,999,3600000,0,19,1000,0\n",
        "1700000000,123456,٩٩٩,3600000,0,19,1000,0",  # and non-ASCII digits
        "1700000000,123456,+999,3600000,0,19,1000,0",
        "1700000000,123456,-1,3600000,0,19,1000,0",  # negative remaining
        "1700000000,123456,999,-5,0,19,1000,0",  # negative reset
        "1700000000,123456,999,3600000,-2,19,1000,0",  # retry below -1
        "1700000000,123456,999,3600000,0,19,1000,-" + "9" * 40,
        "1700000000,123456,999,3600000,0,19,1000,--1",
        "1700000000,123456,999,3600000,0,19,1000,1-1",
        "1700000000,123456,999,3600000,0,19,1000,-",
        "1700000000,-1,999,3600000,0,19,1000,0",
        "1700000000,123456,999,3600000,0,19,1000," + "9" * 40,  # a Retry-After of ~10^37 s
        "1700000000,123456,999,3600000,0,19,1000,1234567890123456",  # 16 digits
        "1700000000,123456,999,3600000,0,19,1000,",  # an empty field
        "1700000000,123456,999,3600000,0,19,1000",  # a field short
        _GOOD + ",0",  # a field over
        _GOOD + ",0,0,0",  # a window over
        "-1700000000,123456,999,3600000,0,19,1000,0",  # Redis time before 1970
        "",
    ],
)
def test_a_malformed_reply_is_a_reply_error(reply):
    # Given a reply limiter.lua cannot have sent, Then it is refused as the engine's reply error (which
    # RateLimiter decides by the failure mode, never a 500), on both reply types and on the engine path.
    for raw in (reply, reply.encode()):
        with pytest.raises(LimiterReplyError):
            parse_reply(raw, _TWO_WINDOWS, 1)
    engine = RedisEngine(redis.Redis())
    capture(engine, reply.encode())
    with pytest.raises(LimiterReplyError):
        engine.evaluate("s", _TWO_WINDOWS, 1)


@pytest.mark.parametrize(
    "reply, retries",
    [
        (_GOOD, (0, 0)),
        ("1700000000,123456,0,1000,-1,0,999999999999999,999999999999999", (-1, 999999999999999)),
        ("0,0,0,0,0,000000000000000,0,0", (0, 0)),
    ],
)
def test_well_formed_replies_at_the_bounds_parse(reply, retries):
    for raw in (reply, reply.encode()):
        decision = parse_reply(raw, _TWO_WINDOWS, 1)
        assert tuple(w.retry_after_ms for w in decision.windows) == retries


def test_a_malformed_reply_is_decided_by_the_failure_mode_not_a_500():
    # Given an engine whose Redis answers a retry of 40 digits
    engine = RedisEngine(redis.Redis())
    capture(engine, b"1700000000,123456,999,3600000,0,19,1000," + b"9" * 40)
    limiter = RateLimiter(lambda: engine)
    starter = DEFAULT_POLICIES["starter"]
    # When an open policy is checked, Then the fallback decides (degraded), and Redis having answered,
    # the breaker stays closed
    for _ in range(5):
        decision = limiter.check("s", [starter])
        assert decision.degraded and decision.allowed
    assert limiter.breaker.state is BreakerState.CLOSED
    # And a closed policy answers 503, not a 500
    with pytest.raises(ServiceUnavailableError):
        limiter.check("s", [starter.model_copy(update={"failure_mode": "closed"})])
