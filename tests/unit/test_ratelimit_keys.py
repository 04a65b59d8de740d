"""Key naming: one hash tag per subject, injective escaping, one cluster slot per check."""

from __future__ import annotations

import pytest
from redis.crc import key_slot

from gatehouse.ratelimit.decision import scoped_windows
from gatehouse.ratelimit.keys import keys_for, subject_tag
from gatehouse.ratelimit.policies import DEFAULT_POLICIES

WINDOWS = scoped_windows([DEFAULT_POLICIES["professional"], DEFAULT_POLICIES["credentials"]])


@pytest.mark.parametrize(
    "subject",
    ["user-1", "203.0.113.9", "2001:db8::1", "a}b", "{x}", "}{", "%7B", "ünïcødé", " ", "x" * 5000, "a:b:c"],
)
def test_every_key_of_a_check_shares_one_slot(subject):
    keys = keys_for(subject, WINDOWS)
    assert len(set(keys)) == len(keys) == 3
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
