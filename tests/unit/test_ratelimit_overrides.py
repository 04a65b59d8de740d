"""Overrides: the pure apply_override function and the caching source wrapper."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from gatehouse.ratelimit.overrides import (
    BLOCK_RETRY_AFTER_SECONDS,
    Blocked,
    CachedOverrideSource,
    InMemoryOverrides,
    Override,
    OverrideSettings,
    apply_override,
)
from gatehouse.ratelimit.policies import DEFAULT_POLICIES, Window

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC).timestamp()
STARTER = [DEFAULT_POLICIES["starter"], DEFAULT_POLICIES["credentials"]]


def limits_of(policies):
    return [(p.name, w.name, w.limit, w.burst) for p in policies for w in p.windows]


def test_no_override_and_expired_override_change_nothing():
    assert apply_override(STARTER, None, NOW) is STARTER
    expired = Override(subject="s", blocked=True, expires_at=NOW - 1)
    assert apply_override(STARTER, expired, NOW) is STARTER


def test_block_without_expiry_uses_the_default_retry_after():
    assert apply_override(STARTER, Override(subject="s", blocked=True), NOW) == Blocked(BLOCK_RETRY_AFTER_SECONDS)


def test_block_with_expiry_retries_when_it_ends():
    override = Override(subject="s", blocked=True, expires_at="2026-11-22T12:10:00Z")
    assert apply_override(STARTER, override, NOW) == Blocked(600)


def test_emergency_replaces_every_window_of_the_subjects_own_but_not_its_owners_budget():
    override = Override(subject="s", emergency=[Window(name="cap", limit=1, period_seconds=60)])
    assert limits_of(apply_override(STARTER, override, NOW)) == [
        ("emergency", "cap", 1, None),
        ("credentials", "credentials", 5, None),
    ]
    # Without an owner-charged group, the cap is all there is.
    (policy,) = apply_override([DEFAULT_POLICIES["starter"]], override, NOW)
    assert limits_of([policy]) == [("emergency", "cap", 1, None)]


def test_custom_limits_replace_tier_windows_but_keep_groups():
    override = Override(subject="s", limits=[Window(name="hour", limit=5000, period_seconds=3600)])
    result = apply_override(STARTER, override, NOW)
    assert limits_of(result) == [("override", "hour", 5000, None), ("credentials", "credentials", 5, None)]


def test_boost_multiplies_tier_limits_until_it_expires():
    override = Override(subject="s", boost=2.5, boost_expires_at=NOW + 60)
    result = apply_override(STARTER, override, NOW)
    assert limits_of(result) == [
        ("starter", "hour", 2500, None),
        ("starter", "second", 50, None),
        ("credentials", "credentials", 5, None),  # security limits are not boosted
    ]
    assert apply_override(STARTER, override, NOW + 61) == STARTER


def test_boost_applies_to_custom_limits_and_bursts():
    override = Override(
        subject="s",
        limits=[Window(name="second", limit=10, period_seconds=1, burst=20)],
        boost=0.5,
        boost_expires_at=NOW + 60,
    )
    assert limits_of(apply_override(STARTER, override, NOW))[0] == ("override", "second", 5, 10)


def test_boost_needs_an_expiry():
    with pytest.raises(ValidationError):
        Override(subject="s", boost=2)


@pytest.mark.parametrize(
    "value",
    ["2026-11-22T12:00:00Z", "2026-11-22T12:00:00+00:00", "2026-11-22T12:00:00", NOW, int(NOW), str(int(NOW))],
)
def test_times_accept_iso_8601_and_epoch(value):
    assert Override(subject="s", expires_at=value).expires_at.timestamp() == NOW


def test_override_round_trips_camel_case():
    override = Override.model_validate(
        {"subject": "s", "boost": 2, "boostExpiresAt": "2026-11-22T13:00:00Z", "reason": "launch"}
    )
    again = Override.model_validate(override.model_dump(mode="json", by_alias=True))
    assert again == override


def test_cache_serves_hot_subjects_without_reads():
    clock = [0.0]
    source = InMemoryOverrides(Override(subject="hot", blocked=True))
    cached = CachedOverrideSource(source, ttl_seconds=5, clock=lambda: clock[0])
    for _ in range(10):
        assert cached.get("hot").blocked
        assert cached.get("cold") is None  # absent answers are cached too
    assert source.reads == 2
    source.delete("hot")
    clock[0] = 5.1
    assert cached.get("hot") is None
    assert source.reads == 3


def test_cache_survives_a_failing_source():
    clock = [0.0]
    source = InMemoryOverrides(Override(subject="s", blocked=True))
    cached = CachedOverrideSource(source, ttl_seconds=1, clock=lambda: clock[0])
    assert cached.get("s").blocked

    def broken(subject):
        raise OSError("store down")

    source.get = broken
    clock[0] = 2
    assert cached.get("s").blocked  # the last known answer
    assert cached.get("other") is None


def test_cache_is_bounded_and_invalidates():
    source = InMemoryOverrides()
    cached = CachedOverrideSource(source, ttl_seconds=60, max_entries=3)
    for i in range(10):
        cached.get(f"s{i}")
    assert len(cached._cache) == 3
    cached.invalidate()
    assert len(cached._cache) == 0


@pytest.mark.parametrize(
    "value",
    [
        1e20,
        -1e20,
        10**30,
        -(10**30),
        "9999-12-31T23:59:59-23:59",  # year 10000 in UTC
        "0001-01-01T00:00:00+00:01",  # year 0 in UTC
        "253402300800",  # epoch seconds in a string, as for a number (not read as milliseconds)
        float("inf"),
        float("nan"),
    ],
)
@pytest.mark.parametrize("field", ["expiresAt", "boostExpiresAt"])
def test_times_outside_the_years_1_to_9999_utc_are_refused_as_invalid(field, value):
    body = {"boost": 2, field: value} if field == "boostExpiresAt" else {field: value}
    with pytest.raises(ValidationError):
        OverrideSettings.model_validate(body)


def test_the_first_and_last_second_of_the_range_are_accepted():
    first = OverrideSettings.model_validate({"expiresAt": "0001-01-01T00:00:00Z"})
    last = OverrideSettings.model_validate({"expiresAt": "9999-12-31T23:59:59Z", "boost": 2, "boostExpiresAt": 0})
    assert first.expires_at.year == 1 and last.expires_at.year == 9999
    assert OverrideSettings.model_validate({"expiresAt": "9999-12-31T23:59:59-00:00"}).expires_at.year == 9999


def test_a_boost_never_makes_a_window_outgrow_its_state():
    # Given a custom window at the GCRA bound (a year per unit, the largest burst allowed),
    low, high = 1, 1_000_000_000
    while low < high:  # the largest burst validation accepts for one unit a year
        mid = (low + high + 1) // 2
        low, high = (mid, high) if _valid_burst(mid) else (low, mid - 1)
    largest = low
    window = Window(name="slow", limit=1, period_seconds=366 * 86400, burst=largest)
    override = Override(subject="s", limits=[window], boost=1.9, boost_expires_at=NOW + 60)
    # When boosted, Then every window it yields is still one validation would accept.
    for policy in apply_override(STARTER, override, NOW):
        for boosted in policy.windows:
            Window.model_validate(boosted.model_dump())


def _valid_burst(burst: int) -> bool:
    try:
        Window(name="slow", limit=1, period_seconds=366 * 86400, burst=burst)
    except ValidationError:
        return False
    return True


def test_times_render_as_rfc3339_utc():
    override = Override(subject="s", blocked=True, expires_at="2026-11-22T13:00:00+01:00")
    assert override.model_dump(mode="json", by_alias=True)["expiresAt"] == "2026-11-22T12:00:00Z"
    assert Override(subject="s", expires_at="1795694400").expires_at.timestamp() == 1795694400
