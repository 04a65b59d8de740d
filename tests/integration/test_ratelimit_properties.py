"""Property: every check and override body, validated or not, is answered with a 2xx or a 4xx, never a 5xx.

Bodies come from hypothesis, biased towards the edges of what validation accepts (the largest limits,
periods, bursts and costs; dates at and beyond the years 1-9999 UTC; odd offsets). The handler runs
in-process against the session's real redis-server, so limiter.lua decides every check.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from gatehouse.ratelimit.overrides import OverrideSettings
from gatehouse.ratelimit.policies import DEFAULT_POLICIES, MAX_LIMIT, NAME_PATTERN
from gatehouse.routes.ratelimit import CheckRequest
from tests.inprocess import Answer, InProcessApi, inprocess_api

MAX_PERIOD = 366 * 86400
EDGES = [0, 1, 2, 7, 60, 3600, 86400, MAX_PERIOD, MAX_PERIOD + 1, 10_000, 1_000_000, 1_000_001, MAX_LIMIT]
EDGES += [MAX_LIMIT + 1, 2**31, 2**51, 2**53, 2**63, 2**64, 10**30, -1]

numbers = st.one_of(
    st.sampled_from(EDGES),
    st.integers(min_value=1, max_value=MAX_LIMIT),
    st.integers(min_value=-(2**70), max_value=2**70),
)
valid_window = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["hour", "second", "minute", "w", "day"]),
        "limit": st.one_of(st.sampled_from([1, 2, 10, 1_000, MAX_LIMIT]), st.integers(1, MAX_LIMIT)),
        "periodSeconds": st.one_of(st.sampled_from([1, 60, 3600, 86400, MAX_PERIOD]), st.integers(1, MAX_PERIOD)),
    },
    optional={
        "algorithm": st.sampled_from(["gcra", "sliding"]),
        "burst": st.one_of(st.none(), st.sampled_from([1, 10, 71, 10_000, MAX_LIMIT]), st.integers(1, MAX_LIMIT)),
    },
)
any_window = st.fixed_dictionaries(
    {"name": st.text(max_size=70), "limit": numbers, "periodSeconds": numbers},
    optional={"algorithm": st.sampled_from(["gcra", "sliding", "leaky", ""]), "burst": st.one_of(st.none(), numbers)},
)
# Mostly windows validation accepts (distinct names), else anything shaped like a window.
valid_windows = st.lists(valid_window, min_size=1, max_size=3, unique_by=lambda w: w["name"])
windows = st.one_of(valid_windows, valid_windows, st.lists(st.one_of(valid_window, any_window), max_size=9))
short_subjects = st.one_of(
    st.sampled_from(["partner-42", "a}b{", "%7B", "auth0|x", "ünï", " ", "check:x"]),
    st.text(min_size=1, max_size=40),
)
subjects = st.one_of(short_subjects, short_subjects, st.text(min_size=990, max_size=1030))
NAME = re.compile(NAME_PATTERN)
ORDINARY_LIMIT = 999_983  # a rate no edge case uses (windows that happen to share it are skipped below)
costs = st.one_of(st.integers(1, 10), st.integers(1, 10), st.sampled_from([71, 10_000, 1_000_000]), numbers)


def _offset(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


iso_times = st.builds(
    lambda moment, zone: moment.isoformat() + zone,
    st.datetimes(),
    st.one_of(st.just("Z"), st.just(""), st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(_offset)),
)
times = st.one_of(
    iso_times,
    st.sampled_from(["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59Z", "nope"]),
    st.sampled_from([1e20, -1e20, 10**30, 0, -1, 253402300799, 253402300800, -62135596800, -62135596801]),
    st.floats(allow_nan=True, allow_infinity=True),
    numbers,
    numbers.map(str),
    st.integers(0, 4_000_000_000),
)

policies = st.sampled_from([*DEFAULT_POLICIES, "nope", ""])
check_bodies = st.one_of(
    st.fixed_dictionaries({"subject": short_subjects, "limits": valid_windows}, optional={"cost": costs}),
    st.fixed_dictionaries({"subject": short_subjects}, optional={"policy": policies, "cost": costs}),
    st.fixed_dictionaries({"subject": subjects}, optional={"policy": policies, "limits": windows, "cost": costs}),
)
override_bodies = st.fixed_dictionaries(
    {},
    optional={
        "limits": windows,
        "boost": st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.001, 0.5, 1.9, 1000])),
        "boostExpiresAt": times,
        "emergency": windows,
        "blocked": st.booleans(),
        "expiresAt": times,
        "reason": st.text(max_size=600),
    },
)

# Each example makes several in-process calls to the handler and Redis: no per-example deadline.
PROPERTY = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def api(redis_url) -> Iterator[InProcessApi]:
    with inprocess_api(redis_url) as api:
        yield api


def _validates(model: Any, body: dict[str, Any]) -> bool:
    try:
        model.model_validate_json(json.dumps(body))
    except ValidationError:
        return False
    return True


def _assert_answered(answer: Answer, body: Any) -> None:
    assert answer.status < 500, f"{answer} for {body!r}"
    if answer.status >= 400:
        assert answer.body["error"]["code"] and isinstance(answer.body["error"]["details"], list), answer


def _caller() -> str:
    # A fresh principal per example, so the caller's own tier never answers 429 and hides a body's fate.
    return f"prop-{uuid.uuid4().hex[:12]}"


@PROPERTY
@given(body=check_bodies)
def test_every_check_body_gets_a_2xx_or_a_4xx(api, body):
    answer = api.check(body, principal=_caller())
    _assert_answered(answer, body)
    if _validates(CheckRequest, body):
        # Only a rule the model cannot know (an unknown policy, a cost beyond a named policy's window) is a 4xx.
        assert answer.status in (200, 400), f"{answer} for {body!r}"
        if answer.status == 200:
            assert set(answer.body) >= {"allowed", "limit", "remaining", "resetAt", "policy"}, answer
    else:
        assert answer.status == 400, f"{answer} for {body!r}"

    # And no body poisons a counter: an ordinary window of any name it used still answers, and admits.
    used = [w for w in body.get("limits") or [] if isinstance(w.get("name"), str)]
    names = {w["name"] for w in used} - {w["name"] for w in used if w.get("limit") == ORDINARY_LIMIT}
    for name in sorted(n for n in names if NAME.fullmatch(n))[:2]:
        ordinary = {"name": name, "limit": ORDINARY_LIMIT, "periodSeconds": 1}
        after = api.check({"subject": body["subject"], "limits": [ordinary]}, principal=_caller())
        if body["subject"] and len(body["subject"]) <= 1024:
            assert after.status == 200 and after.body["allowed"] is True, f"{after} after {body!r}"


@PROPERTY
@given(body=override_bodies, subject=subjects, check=check_bodies)
def test_every_override_body_gets_a_2xx_or_a_4xx_and_so_do_checks_under_it(api, body, subject, check):
    stored = api.put_override(subject, body, principal=_caller())
    _assert_answered(stored, body)
    # The subject rides in the path, percent-encoded, where it may take at most 1,024 characters.
    if _validates(OverrideSettings, body) and len(_quoted(subject)) <= 1024:
        assert stored.status in (200, 201), f"{stored} for {body!r}"
    else:
        assert stored.status == 400, f"{stored} for {body!r}"
        return
    try:
        # The override is applied to the check API's calls for its subject, and to its usage.
        checked = api.check({**check, "subject": subject}, principal=_caller())
        _assert_answered(checked, check)
        got = api.call("GET", _override_path(subject), principal=_caller())
        assert got.status == 200, got
        usage = api.call("GET", f"/v1/ratelimit/usage/{_quoted('check:' + subject)}?policy=free", principal=_caller())
        _assert_answered(usage, subject)
    finally:
        assert api.call("DELETE", _override_path(subject), principal=_caller()).status == 204


def _quoted(subject: str) -> str:
    from urllib.parse import quote

    return quote(subject, safe="")


def _override_path(subject: str) -> str:
    return f"/v1/ratelimit/overrides/{_quoted(subject)}"
