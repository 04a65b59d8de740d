"""The API-key domain: escalation rules, ownership (404 for others' keys), rotation and revocation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from gatehouse.auth.api_key_auth import ApiKeyAuthenticator
from gatehouse.auth.exceptions import InvalidToken
from gatehouse.errors import AuthenticationError, AuthorizationError, ConflictError, NotFoundError, ValidationError
from gatehouse.keys import api_key_format
from gatehouse.keys.dynamo import DynamoKeyStore
from gatehouse.keys.service import KeysService
from gatehouse.keys.views import ApiKeyView, CreatedApiKey
from gatehouse.principal import Principal
from gatehouse.ttl_cache import TtlCache
from tests.unit.test_auth_key_store import TABLE, create_table

NOW = 1_800_000_000


class Clock:
    def __init__(self) -> None:
        self.now = float(NOW)

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client)
        yield DynamoKeyStore(client, TABLE)


@pytest.fixture
def service(store, clock):
    return KeysService(store, environment="test", pepper="pep", clock=clock)


def authenticator(store, clock):
    cache = TtlCache(0, 0, clock=clock)  # no cache: every call reads the store
    return ApiKeyAuthenticator(store, environment="test", pepper="pep", cache=cache, clock=clock)


USER = Principal("user-1", "org-1", "jwt", "starter", frozenset({"keys:read", "keys:write", "metrics:read"}))
OTHER = Principal("user-2", "org-2", "jwt", "free", frozenset({"keys:read", "keys:write"}))
ADMIN = Principal("root", "ops", "jwt", "enterprise", frozenset({"admin"}))


def test_create_defaults_to_the_callers_owner_and_tier(service, store, clock):
    view, secret = service.create_key(USER, "ci", ["keys:read"])
    assert api_key_format.validate_format(secret, "test")
    assert (view.owner_id, view.tier, view.scopes, view.status) == ("org-1", "starter", ["keys:read"], "active")
    assert view.prefix == secret[:12]
    body = view.to_public()
    assert body["createdAt"] == "2027-01-15T08:00:00Z"
    assert set(body) >= {"id", "name", "prefix", "ownerId", "scopes", "tier", "status", "createdAt", "expiresAt"}
    assert "hash" not in body and "key" not in body
    assert secret not in str(body)
    created = CreatedApiKey.of(view, secret).to_public()
    assert created["key"] == secret
    principal = authenticator(store, clock).authenticate(secret)
    assert (principal.owner_id, principal.scopes, principal.tier) == ("org-1", {"keys:read"}, "starter")


def test_a_principal_cannot_grant_scopes_it_does_not_hold(service):
    with pytest.raises(AuthorizationError) as refused:
        service.create_key(USER, "x", ["keys:read", "ratelimit:admin"])
    assert refused.value.details == [
        {"field": "scopes", "message": "cannot grant scopes the caller does not hold: ratelimit:admin"}
    ]
    with pytest.raises(AuthorizationError):
        service.create_key(USER, "x", ["admin"])


def test_tier_and_owner_need_admin(service):
    with pytest.raises(AuthorizationError) as refused:
        service.create_key(USER, "x", [], tier="enterprise")
    assert refused.value.details[0]["field"] == "tier"
    with pytest.raises(AuthorizationError) as refused:
        service.create_key(USER, "x", [], owner_id="org-2")
    assert refused.value.details[0]["field"] == "ownerId"
    # Restating one's own tier or owner changes nothing and is allowed.
    assert service.create_key(USER, "x", [], tier="starter", owner_id="org-1")[0].owner_id == "org-1"


def test_admin_may_set_anything(service):
    view, _ = service.create_key(ADMIN, "partner", ["admin", "metrics:read"], tier="enterprise", owner_id="org-9")
    assert (view.owner_id, view.tier, view.scopes) == ("org-9", "enterprise", ["admin", "metrics:read"])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"scopes": ["keys:read", "bogus"]}, "scopes"),
        ({"scopes": "keys:read"}, "scopes"),
        ({"tier": "gold"}, "tier"),
        ({"expires_at": datetime.fromtimestamp(NOW - 1, UTC)}, "expiresAt"),
        ({"expires_at": "yesterday"}, "expiresAt"),
        ({"owner_id": ""}, "ownerId"),
    ],
)
def test_invalid_input_is_a_validation_error(service, kwargs, field):
    args = {"name": "n", "scopes": ["keys:read"]} | kwargs
    with pytest.raises(ValidationError) as invalid:
        service.create_key(ADMIN, args.pop("name"), args.pop("scopes"), **args)
    assert invalid.value.details[0]["field"] == field


@pytest.mark.parametrize("owner_id", ["check:partner-42", "key_AAAAAAAAAAAAAAAAAAAA"])
def test_an_owner_id_in_a_reserved_namespace_is_refused_even_for_admin(service, owner_id):
    # An owner "check:partner-42" would share its credential budget with the check API's subject
    # "partner-42" (the same Redis counter), which any ratelimit:check caller can drain; a JWT
    # cannot claim these namespaces either.
    with pytest.raises(ValidationError) as invalid:
        service.create_key(ADMIN, "n", ["keys:read"], owner_id=owner_id)
    assert invalid.value.details[0]["field"] == "ownerId"


def test_expiry_in_the_future_is_stored_and_enforced(service, store, clock):
    expires = datetime.fromtimestamp(NOW, UTC) + timedelta(hours=1)
    view, secret = service.create_key(USER, "temp", [], expires_at=expires)
    assert view.to_public()["expiresAt"] == "2027-01-15T09:00:00Z"
    assert authenticator(store, clock).authenticate(secret)
    clock.now += 3600
    with pytest.raises(InvalidToken):
        authenticator(store, clock).authenticate(secret)


def test_another_owners_key_is_not_found_like_a_missing_one(service):
    view, _ = service.create_key(USER, "mine", ["keys:read"])
    for action in (
        lambda: service.get_key(OTHER, view.id),
        lambda: service.revoke_key(OTHER, view.id),
        lambda: service.rotate_key(OTHER, view.id),
        lambda: service.get_key(USER, "key_missing"),
    ):
        with pytest.raises(NotFoundError):
            action()
    assert service.get_key(USER, view.id) == view
    assert service.get_key(ADMIN, view.id) == view


def test_list_shows_the_owners_keys_and_everything_to_admin(service, clock):
    for i in range(3):
        service.create_key(USER, f"k{i}", [])
        clock.now += 1
    service.create_key(OTHER, "theirs", [])
    first = service.list_keys(USER, limit=2)
    assert [k.name for k in first.items] == ["k2", "k1"]
    second = service.list_keys(USER, limit=2, cursor=first.next_cursor)
    assert [k.name for k in second.items] == ["k0"] and second.next_cursor is None
    assert len(service.list_keys(OTHER).items) == 1
    everything = service.list_keys(ADMIN, limit=100)
    assert len(everything.items) == 4
    body = first.to_public()
    assert set(body) == {"items", "nextCursor"}
    assert all("hash" not in item for item in body["items"])
    for bad in (0, 101, True):
        with pytest.raises(ValidationError):
            service.list_keys(USER, limit=bad)


def test_rotation_gives_a_new_key_and_the_old_one_works_until_grace_ends(service, store, clock):
    old_view, old_secret = service.create_key(USER, "ci", ["keys:read"], expires_at="2099-01-01T00:00:00Z")
    new_view, new_secret = service.rotate_key(USER, old_view.id, grace_period_seconds=600)
    assert new_secret != old_secret
    assert (new_view.scopes, new_view.tier, new_view.owner_id, new_view.expires_at) == (
        old_view.scopes,
        old_view.tier,
        old_view.owner_id,
        old_view.expires_at,
    )
    assert new_view.rotated_from == old_view.id
    old_after = service.get_key(USER, old_view.id)
    assert (old_after.status, old_after.rotated_to) == ("rotated", new_view.id)
    assert old_after.to_public()["graceUntil"] == "2027-01-15T08:10:00Z"
    auth = authenticator(store, clock)
    assert auth.authenticate(old_secret).key_id == old_view.id
    assert auth.authenticate(new_secret).key_id == new_view.id
    clock.now += 601
    with pytest.raises(InvalidToken):
        auth.authenticate(old_secret)
    assert auth.authenticate(new_secret)


def test_rotating_a_rotated_or_revoked_key_conflicts(service):
    view, _ = service.create_key(USER, "ci", [])
    service.rotate_key(USER, view.id)
    with pytest.raises(ConflictError):
        service.rotate_key(USER, view.id)
    other, _ = service.create_key(USER, "ci2", [])
    service.revoke_key(USER, other.id)
    with pytest.raises(ConflictError):
        service.rotate_key(USER, other.id)


def test_rotation_cannot_mint_a_secret_with_scopes_the_caller_lacks(service):
    view, _ = service.create_key(ADMIN, "powerful", ["ratelimit:admin"], owner_id="org-1")
    with pytest.raises(AuthorizationError):
        service.rotate_key(USER, view.id)
    assert service.rotate_key(ADMIN, view.id)[0].scopes == ["ratelimit:admin"]


@pytest.mark.parametrize("grace", [-1, 30 * 86400 + 1, "10", True])
def test_grace_period_is_bounded(service, grace):
    view, _ = service.create_key(USER, "ci", [])
    with pytest.raises(ValidationError):
        service.rotate_key(USER, view.id, grace_period_seconds=grace)


def test_revoke_is_idempotent_and_refused_by_the_authorizer(service, store, clock):
    view, secret = service.create_key(USER, "ci", [])
    clock.now += 5
    revoked = service.revoke_key(USER, view.id)
    assert revoked.status == "revoked"
    assert revoked.to_public()["revokedAt"] == "2027-01-15T08:00:05Z"
    clock.now += 5
    assert service.revoke_key(USER, view.id) == revoked
    with pytest.raises(InvalidToken):
        authenticator(store, clock).authenticate(secret)


def test_revoking_a_rotated_key_inside_its_grace_stops_it(service, store, clock):
    view, old_secret = service.create_key(USER, "ci", [])
    _, new_secret = service.rotate_key(USER, view.id)
    service.revoke_key(USER, view.id)
    auth = authenticator(store, clock)
    with pytest.raises(InvalidToken):
        auth.authenticate(old_secret)
    assert auth.authenticate(new_secret)


def test_view_round_trips_through_json(service):
    view, _ = service.create_key(USER, "ci", ["keys:read"])
    assert ApiKeyView.model_validate(view.to_public()) == view


# -- an expiring API key never mints a key that outlives it ------------------------------------------------


def as_handler_sees(store, clock, secret: str) -> Principal:
    """The principal of an API key as a handler rebuilds it from the authorizer's context."""
    return Principal.from_context(authenticator(store, clock).authenticate(secret).to_context())


IN_AN_HOUR = "2027-01-15T09:00:00Z"  # NOW + 3600


def test_an_expiring_key_cannot_mint_a_permanent_child(service, store, clock):
    _, parent_secret = service.create_key(USER, "temp", ["keys:read", "keys:write"], expires_at=IN_AN_HOUR)
    parent = as_handler_sees(store, clock, parent_secret)
    assert parent.expires_at == IN_AN_HOUR
    # No expiresAt asked: capped to the parent's, and the answer says so.
    child, child_secret = service.create_key(parent, "child", ["keys:read"])
    assert child.to_public()["expiresAt"] == IN_AN_HOUR
    assert service.get_key(USER, child.id).to_public()["expiresAt"] == IN_AN_HOUR
    # Later than the parent's: capped too. Sooner: kept as asked.
    later, _ = service.create_key(parent, "later", ["keys:read"], expires_at="2099-01-01T00:00:00Z")
    assert later.to_public()["expiresAt"] == IN_AN_HOUR
    sooner, _ = service.create_key(parent, "sooner", ["keys:read"], expires_at="2027-01-15T08:30:00Z")
    assert sooner.to_public()["expiresAt"] == "2027-01-15T08:30:00Z"
    # The child dies with its parent's expiry, whatever happens to the parent.
    clock.now += 3600
    with pytest.raises(InvalidToken):
        authenticator(store, clock).authenticate(child_secret)


def test_an_expiring_admin_key_cannot_mint_a_permanent_admin_key(service, store, clock):
    _, secret = service.create_key(ADMIN, "break glass", ["admin"], owner_id="ops", expires_at=IN_AN_HOUR)
    admin_key = as_handler_sees(store, clock, secret)
    child, _ = service.create_key(admin_key, "forever", ["admin"], owner_id="someone", tier="enterprise")
    assert child.to_public()["expiresAt"] == IN_AN_HOUR


def test_an_expiring_key_cannot_rotate_a_permanent_key_into_a_permanent_secret(service, store, clock):
    permanent, _ = service.create_key(USER, "forever", ["keys:read"])
    _, temp_secret = service.create_key(USER, "temp", ["keys:read", "keys:write"], expires_at=IN_AN_HOUR)
    temp = as_handler_sees(store, clock, temp_secret)
    rotated, _ = service.rotate_key(temp, permanent.id)
    assert rotated.to_public()["expiresAt"] == IN_AN_HOUR
    # Rotating a key that expires sooner keeps its expiry (the new key always keeps the old one's).
    soon, _ = service.create_key(USER, "soon", ["keys:read"], expires_at="2027-01-15T08:30:00Z")
    assert service.rotate_key(temp, soon.id)[0].to_public()["expiresAt"] == "2027-01-15T08:30:00Z"


def test_a_rotated_key_in_its_grace_cannot_mint_past_the_grace(service, store, clock):
    view, old_secret = service.create_key(USER, "leaked", ["keys:read", "keys:write"])
    service.rotate_key(USER, view.id, grace_period_seconds=600)
    in_grace = as_handler_sees(store, clock, old_secret)
    assert in_grace.expires_at == "2027-01-15T08:10:00Z"
    # Once the spec said it outright (a rotated-out key never creates a credential), the cap to
    # the grace end became a refusal: a leaked key its owner rotated persists nothing.
    with pytest.raises(AuthenticationError):
        service.create_key(in_grace, "persist", ["keys:read"])


def test_a_key_without_expiry_mints_as_asked(service, store, clock):
    _, secret = service.create_key(USER, "forever", ["keys:read", "keys:write"])
    parent = as_handler_sees(store, clock, secret)
    assert parent.expires_at is None
    assert service.create_key(parent, "child", ["keys:read"])[0].expires_at is None
    asked, _ = service.create_key(parent, "child", ["keys:read"], expires_at="2099-01-01T00:00:00Z")
    assert asked.to_public()["expiresAt"] == "2099-01-01T00:00:00Z"


def test_a_jwt_caller_mints_long_lived_keys_as_asked(service):
    # Even with an expiry in its context (it has none by design): a JWT's is not a cap.
    jwt_caller = Principal("user-1", "org-1", "jwt", "starter", USER.scopes, expires_at=IN_AN_HOUR)
    assert service.create_key(jwt_caller, "ci", ["keys:read"])[0].expires_at is None
    view, _ = service.create_key(USER, "ci", ["keys:read"], expires_at="2099-01-01T00:00:00Z")
    assert view.to_public()["expiresAt"] == "2099-01-01T00:00:00Z"


def test_a_key_past_its_expiry_mints_nothing(service, store, clock):
    # A cached allow can reach the handler after the key expired: refused, not capped into the past.
    _, secret = service.create_key(USER, "temp", ["keys:read", "keys:write"], expires_at=IN_AN_HOUR)
    parent = as_handler_sees(store, clock, secret)
    clock.now += 3600
    with pytest.raises(AuthenticationError):
        service.create_key(parent, "late", ["keys:read"])
    with pytest.raises(AuthenticationError):
        service.rotate_key(parent, service.create_key(USER, "x", ["keys:read"])[0].id)


# -- a revoked or rotated-out key mints nothing, even while API Gateway still caches its allow -------------


class CountingStore:
    """The store, recording each key-record read (GetItem by keyId) the service makes."""

    def __init__(self, store) -> None:
        self._store = store
        self.reads: list[str] = []

    def get(self, key_id):
        self.reads.append(key_id)
        return self._store.get(key_id)

    def __getattr__(self, name):
        return getattr(self._store, name)


def test_a_revoked_key_mints_nothing_while_its_allow_is_cached(service, store, clock):
    # Given a keys:write key whose allow the gateway cached, and then the key was revoked,
    _, secret = service.create_key(USER, "leaked", ["keys:read", "keys:write"])
    cached = as_handler_sees(store, clock, secret)
    target, _ = service.create_key(USER, "target", ["keys:read"])
    service.revoke_key(USER, cached.key_id)
    # When it asks to create or rotate a credential, then it is refused (401), and nothing changed.
    with pytest.raises(AuthenticationError):
        service.create_key(cached, "persist", ["keys:read"])
    with pytest.raises(AuthenticationError):
        service.rotate_key(cached, target.id)
    assert {k.name for k in service.list_keys(USER).items} == {"target", "leaked"}
    assert service.get_key(USER, target.id).status == "active"


def test_a_revoked_or_rotated_out_key_revokes_nothing_but_itself(service, store, clock):
    # Given a leaked keys:write key whose allow the gateway cached, and which its owner rotated,
    view, secret = service.create_key(USER, "leaked", ["keys:read", "keys:write"])
    cached = as_handler_sees(store, clock, secret)
    other, _ = service.create_key(USER, "other", ["keys:read"])
    replacement, _ = service.rotate_key(USER, view.id, grace_period_seconds=600)
    # it cannot revoke the key that replaced it, nor any other of its owner's keys (401),
    for victim in (replacement.id, other.id):
        with pytest.raises(AuthenticationError):
            service.revoke_key(cached, victim)
        assert service.get_key(USER, victim).status == "active"
    # but it may still retire itself early; once revoked, it revokes nothing at all.
    assert service.revoke_key(cached, view.id).status == "revoked"
    with pytest.raises(AuthenticationError):
        service.revoke_key(cached, other.id)


def test_a_rotated_out_key_mints_nothing_even_inside_its_grace(service, store, clock):
    # Given a key whose allow was cached before it was rotated (its context shows no expiry),
    view, secret = service.create_key(USER, "old", ["keys:read", "keys:write"])
    cached = as_handler_sees(store, clock, secret)
    assert cached.expires_at is None
    new, _ = service.rotate_key(USER, view.id, grace_period_seconds=60)
    # the grace keeps it authenticating for ordinary calls, but a key being retired mints nothing:
    # no new key, no rotation (docs/reference.md, Routes).
    with pytest.raises(AuthenticationError):
        service.create_key(cached, "in grace", ["keys:read"])
    with pytest.raises(AuthenticationError):
        service.rotate_key(cached, new.id)
    clock.now += 60
    with pytest.raises(AuthenticationError):
        service.create_key(cached, "late", ["keys:read"])


def test_the_callers_key_is_read_once_and_a_jwt_not_at_all(store, clock):
    counting = CountingStore(store)
    service = KeysService(counting, environment="test", pepper="pep", clock=clock)
    _, secret = service.create_key(USER, "writer", ["keys:read", "keys:write"])
    assert counting.reads == []  # a JWT caller: nothing to re-read
    caller = as_handler_sees(store, clock, secret)
    service.create_key(caller, "child", ["keys:read"])
    assert counting.reads == [caller.key_id]
    counting.reads.clear()
    service.rotate_key(caller, caller.key_id)  # rotating itself: one read serves both checks
    assert counting.reads == [caller.key_id]


# -- rotation keeps the creation rule on tiers ---------------------------------------------------------------


def test_a_non_admin_rotates_only_keys_of_its_own_tier(service):
    # Given an admin gave the starter owner org-1 an enterprise key and a free key,
    higher, _ = service.create_key(ADMIN, "gift", ["keys:read"], tier="enterprise", owner_id="org-1")
    lower, _ = service.create_key(ADMIN, "trial", ["keys:read"], tier="free", owner_id="org-1")
    # When the starter principal rotates them, then it is refused: it could not have set those tiers.
    for key in (higher, lower):
        with pytest.raises(AuthorizationError) as refused:
            service.rotate_key(USER, key.id)
        assert refused.value.details[0]["field"] == "tier"
        assert service.get_key(USER, key.id).status == "active"
    # An admin may; a key of the caller's own tier rotates as before.
    assert service.rotate_key(ADMIN, higher.id)[0].tier == "enterprise"
    own, _ = service.create_key(USER, "own", ["keys:read"])
    assert service.rotate_key(USER, own.id)[0].tier == "starter"


def test_the_grace_is_never_shorter_than_asked(service, store, clock):
    view, old_secret = service.create_key(USER, "ci", [])
    clock.now = NOW + 0.9
    service.rotate_key(USER, view.id, grace_period_seconds=3)
    clock.now = NOW + 0.9 + 2.99  # just inside 3 s after the rotation
    assert authenticator(store, clock).authenticate(old_secret).key_id == view.id
    assert service.get_key(USER, view.id).to_public()["graceUntil"] == "2027-01-15T08:00:04Z"


# -- one owner's active keys are capped -----------------------------------------------------------------------


@pytest.fixture
def capped(store, clock):
    return KeysService(store, environment="test", pepper="pep", clock=clock, max_keys_per_owner=2)


def test_an_owners_active_keys_are_capped(capped):
    first, _ = capped.create_key(USER, "1", [])
    capped.create_key(USER, "2", [])
    with pytest.raises(ConflictError) as refused:
        capped.create_key(USER, "3", [])
    assert refused.value.details == [
        {"field": "ownerId", "message": "the owner already has 2 active keys, the most allowed; revoke one first"}
    ]
    # Counted per owner, whoever creates: an admin creating for org-1 is refused too.
    with pytest.raises(ConflictError):
        capped.create_key(ADMIN, "for org-1", [], owner_id="org-1")
    capped.create_key(OTHER, "theirs", [])
    # Rotation replaces one active key by another: allowed at the cap, the count unchanged.
    rotated, _ = capped.rotate_key(USER, first.id)
    with pytest.raises(ConflictError):
        capped.create_key(USER, "3", [])
    # Revoking the rotated-away key frees nothing; revoking an active one frees one, once.
    capped.revoke_key(USER, first.id)
    with pytest.raises(ConflictError):
        capped.create_key(USER, "3", [])
    capped.revoke_key(USER, rotated.id)
    capped.revoke_key(USER, rotated.id)
    capped.create_key(USER, "3", [])
    with pytest.raises(ConflictError):
        capped.create_key(USER, "4", [])


def test_the_cap_defaults_to_100(service):
    assert service.max_keys_per_owner == 100
