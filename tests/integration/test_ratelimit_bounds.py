"""Validated input never ends in a 500 nor poisons a counter: dates within the years 1-9999 UTC, GCRA
windows whose state stays exact in limiter.lua, and a counter per window definition.

The handlers run in-process against the session's redis-server (moto's DynamoDB for the table).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator

import pytest
import redis

from gatehouse.ratelimit.decision import ScopedWindow
from gatehouse.ratelimit.keys import keys_for
from gatehouse.ratelimit.policies import Window
from gatehouse.ratelimit.redis_engine import RedisEngine, parse_reply, script_args
from gatehouse.ratelimit.scripts import limiter_script
from tests.inprocess import InProcessApi, inprocess_api

YEAR = 366 * 86400
POISON = {"name": "w", "limit": 1, "periodSeconds": YEAR, "algorithm": "gcra", "burst": 10_000}
ORDINARY = {"name": "w", "limit": 10, "periodSeconds": 60, "algorithm": "gcra"}


@pytest.fixture
def api(redis_url) -> Iterator[InProcessApi]:
    with inprocess_api(redis_url) as api:
        yield api


def _fields(answer) -> set[str]:
    return {d["field"] for d in answer.body["error"]["details"]}


def test_a_key_expiring_after_the_year_9999_in_utc_is_refused(api):
    created = api.call(
        "POST", "/v1/keys", body={"name": "far", "scopes": ["keys:read"], "expiresAt": "9999-12-31T23:59:59-23:59"}
    )
    assert created.status == 400, created
    assert created.body["error"]["code"] == "VALIDATION_ERROR"
    assert "expiresAt" in _fields(created)
    last = api.call(
        "POST", "/v1/keys", body={"name": "last", "scopes": ["keys:read"], "expiresAt": "9999-12-31T23:59:59Z"}
    )
    assert last.status == 201, last
    assert last.body["expiresAt"] == "9999-12-31T23:59:59Z"


@pytest.mark.parametrize("value", [1e20, -1e20, 10**30])
@pytest.mark.parametrize("field", ["expiresAt", "boostExpiresAt"])
def test_override_times_beyond_any_date_are_refused(api, field, value):
    subject = f"bounds-{uuid.uuid4().hex[:12]}"
    body = {"boost": 2, field: value} if field == "boostExpiresAt" else {"blocked": True, field: value}
    answer = api.put_override(subject, body)
    assert answer.status == 400, answer
    assert field in _fields(answer)
    assert api.call("GET", f"/v1/ratelimit/overrides/{subject}").status == 404


def test_a_window_that_would_poison_its_key_is_refused_and_the_name_stays_usable(api):
    subject = f"bounds-{uuid.uuid4().hex[:12]}"
    poisoned = api.check({"subject": subject, "limits": [POISON], "cost": 10_000})
    assert poisoned.status == 400, poisoned
    assert any(f.startswith("limits") for f in _fields(poisoned)), poisoned

    ordinary = api.check({"subject": subject, "limits": [ORDINARY]})
    assert ordinary.status == 200, ordinary
    assert ordinary.body["allowed"] is True and ordinary.body["remaining"] == 9


def test_two_definitions_of_one_window_name_count_apart(api):
    # Given one caller's slow window "w" (one an hour), drained,
    subject = f"bounds-{uuid.uuid4().hex[:12]}"
    slow = {"name": "w", "limit": 1, "periodSeconds": 3600, "algorithm": "gcra"}
    assert api.check({"subject": subject, "limits": [slow]}).body["allowed"] is True
    assert api.check({"subject": subject, "limits": [slow]}).body["allowed"] is False

    # When another caller checks its own, ordinary window of the same name on the same subject,
    ordinary = api.check({"subject": subject, "limits": [ORDINARY]})

    # Then that window has a counter of its own.
    assert ordinary.status == 200, ordinary
    assert ordinary.body["allowed"] is True and ordinary.body["remaining"] == 9


def test_a_cost_whose_emission_outgrows_the_window_is_refused(api):
    subject = f"bounds-{uuid.uuid4().hex[:12]}"
    slow = {"name": "w", "limit": 1, "periodSeconds": YEAR, "algorithm": "gcra"}
    answer = api.check({"subject": subject, "limits": [slow], "cost": 10_000})
    assert answer.status == 400, answer
    assert "cost" in _fields(answer) or any("limits" in f for f in _fields(answer)), answer
    assert api.check({"subject": subject, "limits": [slow], "cost": 1}).body["allowed"] is True


def test_a_cost_beyond_a_named_policys_window_is_refused(redis_url):
    # Given a configured policy of one unit a year (a burst of one),
    yearly = {"policies": {"yearly": {"windows": [{"name": "year", "limit": 1, "periodSeconds": YEAR}]}}}
    with inprocess_api(redis_url, {"RATELIMIT_POLICIES": json.dumps(yearly)}) as api:
        subject = f"bounds-{uuid.uuid4().hex[:12]}"
        # When a cost would outgrow its state, Then 400 on cost,
        answer = api.check({"subject": subject, "policy": "yearly", "cost": 10_000})
        assert answer.status == 400, answer
        assert _fields(answer) == {"cost"}
        # And a cost above the burst but within the bound never fits: denied, come back in a period.
        never = api.check({"subject": subject, "policy": "yearly", "cost": 2})
        assert never.status == 200, never
        assert never.body["allowed"] is False and never.body["retryAfter"] == YEAR


def _largest_valid_burst(limit: int, period: int) -> int:
    from pydantic import ValidationError

    low, high = 1, 1_000_000_000
    while low < high:
        mid = (low + high + 1) // 2
        try:
            Window(name="w", limit=limit, period_seconds=period, burst=mid)
        except ValidationError:
            high = mid - 1
        else:
            low = mid
    return low


@pytest.mark.parametrize(("limit", "period"), [(1, YEAR), (7, 86400), (1_000_000_000, YEAR)])
def test_gcra_state_of_the_largest_valid_window_stays_exact_in_lua(redis_url, limit, period):
    # Given the largest GCRA burst validation lets through for this rate,
    burst = _largest_valid_burst(limit, period)
    window = Window(name="w", limit=limit, period_seconds=period, burst=burst)
    interval = -(-period * 1_000_000 // limit)
    client = redis.Redis.from_url(redis_url)
    engine = RedisEngine(client)
    subject = f"bounds-{uuid.uuid4().hex[:12]}"
    scoped = [ScopedWindow("custom", window)]

    # When the whole burst is spent at once,
    decision = engine.evaluate(subject, scoped, burst)

    # Then limiter.lua stored the exact TAT (now + burst x interval), not a wrapped or rounded one,
    assert decision.allowed
    stored = _tat(client.get(keys_for(subject, scoped)[0]))
    now_us = stored - burst * interval
    assert decision.now_ms * 1000 <= now_us < decision.now_ms * 1000 + 1000
    # And the next unit waits exactly one interval, the state read back as it was written.
    denied = engine.evaluate(subject, scoped, 1)
    assert not denied.allowed
    assert 0 < denied.windows[0].retry_after_ms <= -(-interval // 1000)
    assert _tat(client.get(keys_for(subject, scoped)[0])) == stored
    client.close()


def _tat(value: bytes) -> int:
    """A one-window GCRA key's value: its TAT, ended by ";" (limiter.lua's state)."""
    assert re.fullmatch(rb"\d+;", value), value
    return int(value[:-1])


@pytest.mark.parametrize("cost", [True, "5", 5.0])
def test_a_cost_must_be_a_whole_json_number(api, cost):
    # `true` was once read as a cost of 1 and "5" as 5: a caller's mistake, answered as one.
    answer = api.check({"subject": f"bounds-{uuid.uuid4().hex[:12]}", "limits": [ORDINARY], "cost": cost})
    assert answer.status == 400 and "cost" in _fields(answer), answer


NO_TIMES = ["nan", "inf", "-nan", "1e400", "-5", "9007199254740993", "garbage", " 5", ""]


@pytest.mark.parametrize("script", ["written for the shape", "limiter.lua"])
@pytest.mark.parametrize("written", [*NO_TIMES, *(f"{w};" for w in NO_TIMES), "5;5;", "5"])
def test_a_gcra_key_holding_no_valid_time_reads_as_no_state_and_is_overwritten(redis_url, written, script):
    # Given a GCRA key whose value no check could have written (a hand edit, another tool), which
    # Lua's tonumber may still read as a number (nan, inf, 1e400: the check would answer int64's minimum)
    window = Window(name="w", limit=10, period_seconds=60, algorithm="gcra")
    scoped = [ScopedWindow("custom", window)]
    client = redis.Redis.from_url(redis_url)
    engine = RedisEngine(client)
    subject = f"written-{uuid.uuid4().hex[:12]}"
    key = keys_for(subject, scoped)[0]
    client.set(key, written)
    # When the subject is checked, Then Redis decides (no reply error, no fallback): the value is no
    # state, the charge overwrites it with a real time that expires
    if script == "limiter.lua":
        args = script_args(scoped, 1, peek=False)
        decision = parse_reply(client.eval(limiter_script()[0], 1, key, *args), scoped, 1)
    else:
        decision = engine.evaluate(subject, scoped, 1)
    assert decision.allowed and decision.windows[0].remaining == 9
    assert _tat(client.get(key)) // 1000 >= decision.now_ms
    assert client.pttl(key) > 0
    client.close()
