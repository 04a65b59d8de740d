"""Scopes (admin implies all, fail-closed unknown routes) and the Principal's context round trip."""

from __future__ import annotations

import pytest

from gatehouse.principal import Principal
from gatehouse.route_rules import ROUTES, required_scope
from gatehouse.scopes import ALL_SCOPES, has_scope

ROUTE_SCOPES = {key: rule.scope for key, rule in ROUTES.items()}


def test_admin_implies_every_scope():
    for scope in ALL_SCOPES:
        assert has_scope({"admin"}, scope)


def test_a_scope_is_needed_unless_the_route_needs_none():
    assert has_scope({"keys:read"}, "keys:read")
    assert not has_scope({"keys:read"}, "keys:write")
    assert not has_scope(set(), "keys:read")
    assert has_scope(set(), None)
    assert has_scope(["keys:read"], "keys:read")


def test_route_table_covers_the_key_and_rate_limit_routes():
    assert ROUTE_SCOPES["GET /v1/me"] is None
    assert ROUTE_SCOPES["POST /v1/keys"] == "keys:write"
    assert ROUTE_SCOPES["GET /v1/keys"] == "keys:read"
    assert ROUTE_SCOPES["GET /v1/keys/{keyId}"] == "keys:read"
    assert ROUTE_SCOPES["DELETE /v1/keys/{keyId}"] == "keys:write"
    assert ROUTE_SCOPES["POST /v1/keys/{keyId}/rotate"] == "keys:write"
    assert ROUTE_SCOPES["POST /v1/ratelimit/check"] == "ratelimit:check"
    for method in ("PUT", "GET", "DELETE"):
        assert ROUTE_SCOPES[f"{method} /v1/ratelimit/overrides/{{subject}}"] == "ratelimit:admin"
    assert all(scope is None or scope in ALL_SCOPES for scope in ROUTE_SCOPES.values())


@pytest.mark.parametrize("route", ["GET /v1/unknown", "$default", "", "get /v1/me"])
def test_unknown_routes_need_admin(route):
    assert required_scope(route) == "admin"
    assert not has_scope({"keys:read", "keys:write"}, required_scope(route))


def test_principal_context_round_trip():
    principal = Principal("key_1", "org_1", "apiKey", "starter", frozenset({"keys:write", "keys:read"}), "key_1")
    context = principal.to_context()
    assert context == {
        "principalId": "key_1",
        "ownerId": "org_1",
        "authType": "apiKey",
        "tier": "starter",
        "scopes": "keys:read keys:write",
        "keyId": "key_1",
        "expiresAt": "",
    }
    assert all(isinstance(v, str) for v in context.values())
    assert Principal.from_context(context) == principal


def test_an_api_key_expiry_round_trips_through_the_context():
    principal = Principal("key_1", "org_1", "apiKey", "starter", frozenset({"keys:write"}), "key_1",
                          expires_at="2099-01-01T00:00:00Z")  # fmt: skip
    context = principal.to_context()
    assert context["expiresAt"] == "2099-01-01T00:00:00Z"
    assert all(isinstance(v, str) for v in context.values())
    assert Principal.from_context(context) == principal
    # An offset is read as the same instant, in the canonical UTC form.
    assert Principal.from_context(context | {"expiresAt": "2099-01-01T01:00:00+01:00"}) == principal


def test_a_context_without_expires_at_means_no_expiry():
    # Contexts written before the field existed (API Gateway may still serve them from its cache).
    context = Principal("key_1", "org_1", "apiKey", "starter", frozenset(), "key_1").to_context()
    del context["expiresAt"]
    assert Principal.from_context(context).expires_at is None
    assert Principal.from_context(context | {"expiresAt": ""}).expires_at is None


@pytest.mark.parametrize("value", ["tomorrow", "2099-01-01T00:00:00", 4_070_908_800, ["2099-01-01T00:00:00Z"]])
def test_an_expiry_the_authorizer_did_not_write_is_refused(value):
    context = Principal("key_1", "org_1", "apiKey").to_context() | {"expiresAt": value}
    with pytest.raises(ValueError, match="expiresAt"):
        Principal.from_context(context)


def test_jwt_principal_has_empty_key_id_in_context():
    principal = Principal("user-1", "user-1", "jwt")
    assert principal.to_context()["keyId"] == ""
    assert principal.to_context()["expiresAt"] == ""  # a JWT's exp is never a minting cap
    assert principal.to_context()["scopes"] == ""
    assert Principal.from_context(principal.to_context()) == principal


@pytest.mark.parametrize(
    "context",
    [{}, {"principalId": "a", "ownerId": "b"}, {"principalId": "", "ownerId": "b", "authType": "jwt"}],
)
def test_from_context_refuses_a_context_the_authorizer_did_not_write(context):
    with pytest.raises(ValueError):
        Principal.from_context(context)


def test_from_context_never_trusts_an_unknown_tier():
    context = Principal("a", "b", "jwt").to_context() | {"tier": "platinum"}
    assert Principal.from_context(context).tier == "free"


# -- scopes in the context: single ASCII spaces between RFC 6749 scope tokens, checked both ways --

FOREIGN = ["\t", "\n", "\x0b", "\x1f", "\x85", "\u00a0", "\u2003", "\u2028", "\u3000", '"', "\\", "é"]


@pytest.mark.parametrize("separator", FOREIGN)
def test_from_context_refuses_scopes_that_a_split_on_whitespace_would_widen(separator):
    context = Principal("u", "u", "jwt").to_context() | {"scopes": f"keys:read{separator}admin"}
    with pytest.raises(ValueError, match="scope"):
        Principal.from_context(context)


@pytest.mark.parametrize("separator", FOREIGN)
def test_to_context_refuses_a_scope_that_is_not_one_token(separator):
    principal = Principal("u", "u", "jwt", scopes=frozenset({"metrics:read", f"keys:read{separator}admin"}))
    with pytest.raises(ValueError, match="scope"):
        principal.to_context()


def test_to_context_refuses_a_scope_with_a_plain_space_or_an_empty_scope():
    for scope in ("keys:read admin", ""):
        with pytest.raises(ValueError, match="scope"):
            Principal("u", "u", "jwt", scopes=frozenset({scope})).to_context()


def test_from_context_refuses_scopes_that_are_not_a_string():
    context = Principal("u", "u", "jwt").to_context()
    for scopes in (["admin"], {"admin": True}, 1):
        with pytest.raises(ValueError, match="scope"):
            Principal.from_context(context | {"scopes": scopes})


def test_from_context_reads_scopes_separated_by_ascii_spaces():
    context = Principal("u", "u", "jwt").to_context() | {"scopes": "keys:read  metrics:read "}
    assert Principal.from_context(context).scopes == {"keys:read", "metrics:read"}


def test_the_handler_answers_401_to_a_context_whose_scopes_hide_another_scope():
    from gatehouse.errors import AuthenticationError
    from gatehouse.guards import principal_of

    context = Principal("u", "u", "jwt").to_context() | {"scopes": "keys:read\tadmin"}
    event = {"routeKey": "GET /v1/keys", "requestContext": {"authorizer": {"lambda": context}}}
    with pytest.raises(AuthenticationError):
        principal_of(event)
