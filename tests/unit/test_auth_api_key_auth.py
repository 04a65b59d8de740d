"""API-key authentication: offline refusals cost no read, a warm cache none, a cold lookup exactly one."""

from __future__ import annotations

import pytest

from gatehouse.auth.api_key_auth import ApiKeyAuthenticator
from gatehouse.auth.exceptions import InvalidToken
from gatehouse.keys import api_key_format
from gatehouse.keys.records import KeyHashRecord
from gatehouse.times import from_rfc3339
from gatehouse.ttl_cache import MISSING, TtlCache

NOW = 1_800_000_000.0


class FakeStore:
    """Only what the authorizer uses, counting reads."""

    def __init__(self) -> None:
        self.records: dict[str, KeyHashRecord] = {}
        self.reads = 0

    def get_hash_record(self, key_hash: str) -> KeyHashRecord | None:
        self.reads += 1
        return self.records.get(key_hash)


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store():
    return FakeStore()


@pytest.fixture
def clock():
    return Clock()


def make_auth(store, clock, pepper="", cache_seconds=10.0):
    cache = TtlCache(cache_seconds, min(cache_seconds, 2.0), max_entries=100, clock=clock)
    return ApiKeyAuthenticator(store, environment="test", pepper=pepper, cache=cache, clock=clock)


def seed(store, pepper="", **fields):
    key = api_key_format.generate("test")
    values = {
        "key_id": "key_1",
        "owner_id": "org_1",
        "scopes": frozenset({"keys:read"}),
        "tier": "starter",
        "status": "active",
    }
    store.records[api_key_format.hash_key(key, pepper)] = KeyHashRecord(**(values | fields))
    return key


def test_a_valid_key_gives_its_principal(store, clock):
    key = seed(store)
    principal = make_auth(store, clock).authenticate(key)
    assert (principal.principal_id, principal.owner_id, principal.auth_type, principal.key_id) == (
        "key_1",
        "org_1",
        "apiKey",
        "key_1",
    )
    assert principal.tier == "starter"
    assert principal.scopes == {"keys:read"}
    assert principal.expires_at is None
    assert principal.to_context()["expiresAt"] == ""


def test_the_principal_carries_the_keys_expiry(store, clock):
    key = seed(store, expires_at=4_070_908_800)
    assert make_auth(store, clock).authenticate(key).expires_at == "2099-01-01T00:00:00Z"


def test_a_rotated_key_carries_the_end_of_its_grace_when_sooner(store, clock):
    grace = int(clock.now) + 600
    key = seed(store, status="rotated", grace_until=grace, expires_at=4_070_908_800)
    assert from_rfc3339(make_auth(store, clock).authenticate(key).expires_at or "") == grace
    key = seed(store, status="rotated", grace_until=4_070_908_800, expires_at=grace)
    assert from_rfc3339(make_auth(store, clock).authenticate(key).expires_at or "") == grace


def test_bad_checksum_is_refused_with_zero_store_reads(store, clock):
    key = seed(store)
    typo = key[:-1] + ("A" if key[-1] != "A" else "B")
    auth = make_auth(store, clock)
    for bad in (typo, key[:-1], key + "x", "gk_live_" + key[8:], "gk_" + "x" * 39):
        with pytest.raises(InvalidToken, match="malformed"):
            auth.authenticate(bad)
    assert store.reads == 0


def test_cold_cache_reads_exactly_once_and_a_warm_cache_not_at_all(store, clock):
    key = seed(store)
    auth = make_auth(store, clock)
    auth.authenticate(key)
    assert store.reads == 1
    for _ in range(100):
        auth.authenticate(key)
    assert store.reads == 1
    clock.now += 10.5  # past the 10 s cache
    auth.authenticate(key)
    assert store.reads == 2


def test_unknown_keys_are_cached_briefly(store, clock):
    auth = make_auth(store, clock)
    key = api_key_format.generate("test")
    for _ in range(20):
        with pytest.raises(InvalidToken, match="unknown"):
            auth.authenticate(key)
    assert store.reads == 1
    clock.now += 2.5
    with pytest.raises(InvalidToken):
        auth.authenticate(key)
    assert store.reads == 2


def test_pepper_is_used_for_the_lookup(store, clock):
    key = seed(store, pepper="pepper")
    assert make_auth(store, clock, pepper="pepper").authenticate(key)
    with pytest.raises(InvalidToken):
        make_auth(store, clock).authenticate(key)


@pytest.mark.parametrize(
    "fields",
    [
        {"status": "revoked"},
        {"expires_at": int(NOW) - 1},
        {"expires_at": int(NOW)},
        {"status": "rotated", "grace_until": int(NOW) - 1},
        {"status": "rotated"},  # rotated without a grace end: refused
        {"status": "rotated", "grace_until": int(NOW) + 600, "expires_at": int(NOW) - 1},
        {"status": "something-else"},
    ],
)
def test_unusable_keys_are_refused_alike(store, clock, fields):
    key = seed(store, **fields)
    with pytest.raises(InvalidToken) as refused:
        make_auth(store, clock).authenticate(key)
    assert str(refused.value).startswith("API key not usable")


def test_unknown_key_is_refused(store, clock):
    with pytest.raises(InvalidToken, match="unknown"):
        make_auth(store, clock).authenticate(api_key_format.generate("test"))


def test_rotated_key_is_accepted_within_its_grace_period(store, clock):
    key = seed(store, status="rotated", grace_until=int(NOW) + 60)
    auth = make_auth(store, clock)
    assert auth.authenticate(key).key_id == "key_1"
    clock.now += 61  # still cached, but the grace check runs on every use
    with pytest.raises(InvalidToken):
        auth.authenticate(key)


def test_a_key_that_expires_while_cached_stops_at_once(store, clock):
    key = seed(store, expires_at=int(NOW) + 5)
    auth = make_auth(store, clock)
    assert auth.authenticate(key)
    clock.now += 5
    with pytest.raises(InvalidToken):
        auth.authenticate(key)
    assert store.reads == 1


def test_a_key_of_the_other_environment_is_refused_offline(store, clock):
    live = api_key_format.generate("live")
    with pytest.raises(InvalidToken, match="malformed"):
        make_auth(store, clock).authenticate(live)
    assert store.reads == 0


def test_unknown_tier_in_a_record_falls_back_to_free(store, clock):
    key = seed(store, tier="gold")
    assert make_auth(store, clock).authenticate(key).tier == "free"


def test_cache_is_bounded_and_expires():
    clock = Clock()
    cache = TtlCache(10, 2, max_entries=3, clock=clock)
    for i in range(5):
        cache.put(str(i), i)
    assert len(cache) == 3
    assert cache.get("0") is MISSING
    assert cache.get("4") == 4
    cache.put("neg", None)
    assert cache.get("neg") is None
    clock.now += 2
    assert cache.get("neg") is MISSING
    assert cache.get("4") == 4
    clock.now += 8
    assert cache.get("4") is MISSING
    zero = TtlCache(0, 0, clock=clock)
    zero.put("x", 1)
    assert zero.get("x") is MISSING


@pytest.mark.parametrize("scope", ["keys:read\tadmin", "keys:read admin", "keys:read\u00a0admin", "keys:\\read"])
def test_a_stored_scope_that_is_not_one_rfc_6749_token_refuses_the_key(store, clock, scope):
    # Scopes come from a fixed set at creation; a record holding anything else was not written by
    # Gatehouse, and must never reach a handler whose split could widen it.
    key = seed(store, scopes=frozenset({"keys:read", scope}))
    with pytest.raises(InvalidToken, match="scope"):
        make_auth(store, clock).authenticate(key)
