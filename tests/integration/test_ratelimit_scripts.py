"""The scripts written per check shape (ratelimit/scripts.py) run for every size they are written for,
and checks past that size run limiter.lua; both leave well-formed, expiring keys behind.

That the two scripts decide and store alike is tests/integration/test_ratelimit_differential.py's."""

from __future__ import annotations

import re
import uuid

import pytest
import redis

from gatehouse.principal import Principal
from gatehouse.ratelimit.decision import scoped_windows
from gatehouse.ratelimit.keys import keys_for
from gatehouse.ratelimit.overrides import CachedOverrideSource, InMemoryOverrides
from gatehouse.ratelimit.policies import DEFAULT_POLICIES, Policy, PolicyRegistry, Window
from gatehouse.ratelimit.redis_engine import RedisEngine, check_shape, parse_reply, script_args
from gatehouse.ratelimit.scripts import WRITTEN_MAX_WINDOWS, limiter_script, script_for
from gatehouse.ratelimit.service import RateLimiter, RateLimitService

pytestmark = pytest.mark.integration

VALUE = re.compile(rb"(?:\d+;|\d+:\d+:\d+;)+")


def _policies(shape: str) -> list[Policy]:
    """Policies of this shape, generous enough that the first check is admitted."""
    algorithms = {"g": "gcra", "s": "sliding"}
    return [
        Policy(
            name=f"p{k}",
            windows=tuple(
                Window(name=f"w{i}", limit=100 + i, period_seconds=60 * (i + 1), algorithm=algorithms[a])  # type: ignore[arg-type]
                for i, a in enumerate(kinds)
            ),
        )
        for k, kinds in enumerate(shape.split("|"))
    ]


@pytest.fixture
def client(redis_url):
    c = redis.Redis.from_url(redis_url, socket_timeout=5)
    yield c
    c.close()


@pytest.mark.parametrize(
    "shape",
    [
        "g",
        "s",
        "sg",
        "gs|s",
        # The most locals a written script holds: eight sliding windows, each in a key of its own.
        "|".join("s" * WRITTEN_MAX_WINDOWS),
        "s" * WRITTEN_MAX_WINDOWS,
        "g" * WRITTEN_MAX_WINDOWS,
        "|".join("g" * WRITTEN_MAX_WINDOWS),
        "sgsg|gsgs",
    ],
)
def test_every_written_shape_runs_charges_and_expires(client, shape):
    windows = scoped_windows(_policies(shape))
    assert check_shape(windows) == shape
    source, _ = script_for(shape)
    assert source != limiter_script()[0]
    engine = RedisEngine(client)
    subject = f"shape-{uuid.uuid4().hex[:12]}"
    first = engine.evaluate(subject, windows, 3)
    second = engine.evaluate(subject, windows, 1)
    assert first.allowed and second.allowed
    assert [w.remaining for w in second.windows] == [w.limit - 4 for w in second.windows]
    for key in keys_for(subject, windows):
        assert VALUE.fullmatch(client.get(key)), client.get(key)
        assert client.pttl(key) > 0


def test_a_check_past_the_written_size_runs_limiter_lua(client):
    # Given a check of more windows than a script is written for (a tier of 8 and a group of 4),
    shape = "s" * WRITTEN_MAX_WINDOWS + "|" + "gsgs"
    windows = scoped_windows(_policies(shape))
    assert script_for(shape) == limiter_script()
    engine = RedisEngine(client)
    subject = f"wide-{uuid.uuid4().hex[:12]}"
    # When it is charged, peeked and charged again, Then limiter.lua decides all twelve windows,
    first = engine.evaluate(subject, windows, 2)
    peeked = engine.evaluate(subject, windows, 1, peek=True)
    second = engine.evaluate(subject, windows, 1)
    assert first.allowed and peeked.allowed and second.allowed
    assert [w.remaining for w in peeked.windows] == [w.limit - 2 for w in peeked.windows]
    assert [w.remaining for w in second.windows] == [w.limit - 3 for w in second.windows]
    # And stores them in one key per policy that expires.
    keys = keys_for(subject, windows)
    assert len(keys) == 2
    for key in keys:
        assert VALUE.fullmatch(client.get(key)), client.get(key)
        assert client.pttl(key) > 0


def test_each_shape_is_one_script_and_the_shapes_are_few():
    # A script per shape, not per window numbers: the check API's ad-hoc limits of one shape share one.
    assert script_for("sg") == script_for("sg")
    assert script_for("sg")[1] != script_for("gs")[1] != script_for("g|s")[1]
    few = scoped_windows([Policy(name="custom", windows=(Window(name="a", limit=1, period_seconds=1),))])
    many = scoped_windows([Policy(name="custom", windows=(Window(name="a", limit=999, period_seconds=86400),))])
    assert check_shape(few) == check_shape(many) == "g"


HOUR = Window(name="hour", limit=3, period_seconds=3600, algorithm="sliding")
SECOND = Window(name="second", limit=100, period_seconds=1)
DAY = Window(name="day", limit=50, period_seconds=86400, algorithm="sliding")


def test_a_check_api_window_counts_alike_whatever_windows_are_listed_with_it(client):
    # Given a check-API caller's "hour" of 3, listed alone, with other windows, in either order
    # (a key per policy would give each list of windows counters of its own: 15 admitted, not 3),
    overrides = InMemoryOverrides()
    limiter = RateLimiter(lambda: RedisEngine(client), overrides)
    service = RateLimitService(limiter, PolicyRegistry(), overrides, CachedOverrideSource(overrides, 0))
    caller = Principal("svc", "svc", "jwt", "enterprise", frozenset({"ratelimit:check"}))
    subject = f"lists-{uuid.uuid4().hex[:12]}"
    admitted = 0
    for limits in [(HOUR,), (HOUR, SECOND), (SECOND, HOUR), (HOUR, DAY), (DAY, HOUR)]:
        for _ in range(3):
            admitted += service.check(caller, subject, limits=limits).allowed
    # Then its hour admits three in all.
    assert admitted == 3


@pytest.mark.parametrize("script", ["written for the shape", "limiter.lua"])
def test_a_key_of_another_type_is_no_state_and_is_overwritten(client, script):
    # Given a subject's key holding a hash (another program, a hand edit), with no expiry,
    windows = scoped_windows([DEFAULT_POLICIES["free"]])
    subject = f"typed-{uuid.uuid4().hex[:12]}"
    (key,) = keys_for(subject, windows)
    client.hset(key, "x", "1")
    # When the subject is checked, Then Redis decides (no WRONGTYPE reply error), as with no state,
    if script == "limiter.lua":
        args = script_args(windows, 1, peek=False)
        decision = parse_reply(client.eval(limiter_script()[0], 1, key, *args), windows, 1)
    else:
        decision = RedisEngine(client).evaluate(subject, windows, 1)
    assert decision.allowed and [w.remaining for w in decision.windows] == [w.limit - 1 for w in decision.windows]
    # And the charge replaced the hash with the limiter's value, which expires.
    assert VALUE.fullmatch(client.get(key)) and client.pttl(key) > 0
