"""Charging a request: tier windows to the principal, the credentials group to its owner (docs/rate-limits.md)."""

from __future__ import annotations

import pytest
from redis.crc import key_slot

from gatehouse.principal import Principal
from gatehouse.ratelimit.decision import scoped_windows
from gatehouse.ratelimit.fallback import LocalLimiter
from gatehouse.ratelimit.keys import keys_for
from gatehouse.ratelimit.overrides import CachedOverrideSource, InMemoryOverrides, Override
from gatehouse.ratelimit.policies import DEFAULT_POLICIES, PolicyRegistry, Window
from gatehouse.ratelimit.service import RateLimiter, RateLimitService

CREATE = "POST /v1/keys"
ROTATE = "POST /v1/keys/{keyId}/rotate"


class Clock:
    now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def engine():
    # The in-process limiter decides exactly like the Redis script, on the same key names.
    return LocalLimiter(clock=Clock())


@pytest.fixture
def overrides():
    return InMemoryOverrides()


@pytest.fixture
def service(engine, overrides):
    limiter = RateLimiter(lambda: engine, overrides, wall_clock=Clock())
    return RateLimitService(limiter, PolicyRegistry(), overrides, CachedOverrideSource(overrides, 0))


def api_key(key_id: str, owner: str = "org-1") -> Principal:
    return Principal(key_id, owner, "apiKey", "enterprise", frozenset({"keys:write"}), key_id=key_id)


def jwt(sub: str, owner: str | None = None) -> Principal:
    return Principal(sub, owner or sub, "jwt", "enterprise", frozenset({"keys:write"}))


def credentials_window(decision):
    return next(w for w in decision.windows if w.policy == "credentials")


def test_every_key_and_token_of_one_owner_shares_the_credential_budget(service):
    # Given one owner's JWT and two of its API keys, each of which could mint the next,
    callers = [jwt("alice", "org-1"), api_key("key_a"), api_key("key_b")]
    # When they make five credential-minting requests between them,
    for i in range(5):
        decision = service.charge_request(callers[i % 3], CREATE if i % 2 else ROTATE)
        assert decision.allowed
        assert credentials_window(decision).remaining == 4 - i
    # Then the sixth is refused whichever of them makes it,
    for caller in [*callers, api_key("key_new")]:
        refused = service.charge_request(caller, CREATE)
        assert not refused.allowed and credentials_window(refused).remaining == 0
    # while another owner's budget is untouched, and the owner's other routes still answer.
    assert service.charge_request(api_key("key_z", owner="org-2"), CREATE).allowed
    assert service.charge_request(api_key("key_a"), "GET /v1/keys").allowed


def test_a_principal_that_may_not_mint_cannot_spend_its_owners_credential_budget(service):
    # Given a key of the owner that holds keys:read only (a dashboard's, say), whose POST /v1/keys
    # the route refuses with 403 after the limiter has charged it,
    reader = Principal("key_r", "org-1", "apiKey", "enterprise", frozenset({"keys:read"}), key_id="key_r")
    for _ in range(10):
        decision = service.charge_request(reader, CREATE)
        # its own tier windows count the refused request, the owner's credential budget does not,
        assert decision.allowed and decision.windows[0].remaining < 100_000
        assert "credentials" not in decision.policies
    # so the owner's keys that may mint still have all five.
    assert credentials_window(service.charge_request(api_key("key_a"), CREATE)).remaining == 4


def test_tier_windows_stay_each_principals_own(service):
    a, b = api_key("key_a"), api_key("key_b")
    for _ in range(3):
        service.charge_request(a, "GET /v1/me")
    hour_a = service.charge_request(a, "GET /v1/me").windows[0]
    hour_b = service.charge_request(b, CREATE).windows[0]
    assert (hour_a.policy, hour_a.name) == (hour_b.policy, hour_b.name) == ("enterprise", "hour")
    assert hour_a.remaining == 100_000 - 4
    assert hour_b.remaining == 100_000 - 1  # a's requests are not b's
    # A principal's tier counter is the same on credential routes and elsewhere.
    assert service.charge_request(a, CREATE).windows[0].remaining == 100_000 - 5


def test_own_usage_reads_the_owners_credential_budget(service):
    service.charge_request(api_key("key_a"), CREATE)
    service.charge_request(api_key("key_b"), CREATE)
    usage = service.usage(api_key("key_a"), "key_a")
    assert credentials_window(usage).remaining == 3
    tier = next(w for w in usage.windows if w.name == "hour")
    assert tier.remaining == 100_000 - 1


def test_an_emergency_override_of_one_key_is_that_keys_own(service, overrides):
    # An override names a subject (a principal): its windows are never the owner's to share.
    overrides.put(Override(subject="key_a", emergency=(Window(name="cap", limit=1, period_seconds=60),)))
    assert service.charge_request(api_key("key_a"), CREATE).allowed
    assert not service.charge_request(api_key("key_a"), CREATE).allowed
    assert service.charge_request(api_key("key_b"), CREATE).allowed


def test_an_emergency_cap_looser_than_the_owners_credential_budget_does_not_lift_it(service, overrides):
    # An emergency cap replaces the key's own windows; the owner's budget is not the key's to lift.
    overrides.put(Override(subject="key_a", emergency=(Window(name="cap", limit=1000, period_seconds=60),)))
    for i in range(5):
        decision = service.charge_request(api_key("key_a"), CREATE)
        assert decision.allowed and credentials_window(decision).remaining == 4 - i
    refused = service.charge_request(api_key("key_a"), CREATE)
    assert not refused.allowed and refused.policy == "credentials"
    assert not service.charge_request(api_key("key_b"), CREATE).allowed


def test_one_charge_stays_in_one_cluster_slot():
    policies = [DEFAULT_POLICIES["starter"], DEFAULT_POLICIES["credentials"]]
    of_a = keys_for("key_a", scoped_windows(policies, owner="org-1"))
    of_b = keys_for("key_b", scoped_windows(policies, owner="org-1"))
    assert len({key_slot(k.encode()) for k in of_a + of_b}) == 1
    # A key per policy: the tier's windows, then the credentials window.
    assert len(of_a) == len(of_b) == 2
    assert of_a[1] == of_b[1]  # the credentials window: the owner's one counter
    assert of_a[0] != of_b[0]  # the tier's windows: each principal's own
    # A principal that is its own owner (a JWT by default) keeps the keys it always had.
    assert keys_for("alice", scoped_windows(policies, owner="alice")) == keys_for("alice", scoped_windows(policies))


def test_an_operator_reads_an_api_keys_usage_by_naming_its_owner(service):
    service.charge_request(api_key("key_a"), CREATE)
    operator = Principal("root", "ops", "jwt", "enterprise", frozenset({"ratelimit:admin"}))
    seen = service.usage(operator, "key_a", "enterprise,credentials", owner="org-1")
    assert [(w.name, w.remaining) for w in seen.windows] == [("hour", 99_999), ("second", 499), ("credentials", 4)]
    # Without the owner, the key's counters are not where the operator looks.
    unseen = service.usage(operator, "key_a", "enterprise")
    assert unseen.windows[0].remaining == 100_000
