"""Key naming: one hash tag per subject, injective escaping, one cluster slot per check."""

from __future__ import annotations

import pytest
from redis.crc import key_slot

from gatehouse.ratelimit.decision import ScopedWindow, scoped_windows
from gatehouse.ratelimit.keys import keys_for, subject_tag
from gatehouse.ratelimit.policies import DEFAULT_POLICIES, Window

WINDOWS = scoped_windows([DEFAULT_POLICIES["professional"], DEFAULT_POLICIES["credentials"]])


@pytest.mark.parametrize(
    "subject",
    ["user-1", "203.0.113.9", "2001:db8::1", "a}b", "{x}", "}{", "%7B", "ünïcødé", " ", "x" * 5000, "a:b:c"],
)
def test_every_key_of_a_check_shares_one_slot(subject):
    keys = keys_for(subject, WINDOWS)
    assert len(set(keys)) == len(keys) == 2  # a key per policy
    assert len({key_slot(k.encode()) for k in keys}) == 1
    tag = keys[0].split("{", 1)[1].split("}", 1)[0]
    assert tag == subject_tag(subject)
    assert "{" not in tag and "}" not in tag


def test_escaping_is_injective():
    subjects = ["a}b", "a%7Db", "a%257Db", "{", "%7B", "%", "%25"]
    assert len({subject_tag(s) for s in subjects}) == len(subjects)


def test_long_subjects_are_hashed():
    assert subject_tag("x" * 5000).startswith("%h")
    assert subject_tag("x" * 5000) != subject_tag("x" * 5001)


def test_empty_subject_is_refused():
    # "{}" is no hash tag at all: the windows would scatter over slots.
    with pytest.raises(ValueError):
        keys_for("", WINDOWS)


def test_two_definitions_of_one_window_name_never_share_a_counter():
    # Given windows that share a name but not a definition (limit, period, algorithm, burst),
    base = Window(name="w", limit=10, period_seconds=60)
    variants = [
        base,
        base.model_copy(update={"limit": 11}),
        base.model_copy(update={"period_seconds": 61}),
        base.model_copy(update={"algorithm": "sliding"}),
        base.model_copy(update={"burst": 20}),
        Window(name="w", limit=1, period_seconds=600),  # the same emission interval as limit 10 per 6000 s
    ]
    # Then each has a counter of its own, in the subject's one slot.
    keys = [keys_for("partner-42", [ScopedWindow("custom", w)])[0] for w in variants]
    assert len(set(keys)) == len(keys), keys
    assert len({key_slot(k.encode()) for k in keys}) == 1
    # And one definition, however it is spelt, is one counter (a GCRA burst defaults to the limit;
    # a sliding window has no burst).
    same = [base, base.model_copy(update={"burst": 10})]
    assert len({keys_for("s", [ScopedWindow("custom", w)])[0] for w in same}) == 1
    sliding = Window(name="w", limit=10, period_seconds=60, algorithm="sliding")
    assert keys_for("s", [ScopedWindow("p", sliding)]) == keys_for(
        "s", [ScopedWindow("p", sliding.model_copy(update={"burst": 99}))]
    )


def test_keys_stay_short():
    windows = [ScopedWindow("professional", w) for w in DEFAULT_POLICIES["professional"].windows]
    assert all(len(k) <= 64 for k in keys_for("user-1", windows)), keys_for("user-1", windows)
