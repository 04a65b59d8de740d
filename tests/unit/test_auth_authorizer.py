"""The authorizer handler on the sample events in events/: real-shaped HTTP API v2 REQUEST events."""

from __future__ import annotations

import base64
import copy
import json
import logging
import time
from pathlib import Path

import boto3
import jwt
import pytest
from moto import mock_aws

from gatehouse.auth.authorizer import authorize, bearer_token
from gatehouse.keys import api_key_format
from gatehouse.keys.dynamo import DynamoKeyStore
from gatehouse.keys.records import KeyRecord
from gatehouse.times import to_rfc3339
from gatehouse.wiring import reset as reset_default_authenticator
from tests.unit.test_auth_key_store import create_table

EVENTS = Path(__file__).resolve().parents[2] / "events"
# The development issuer the sample events' tokens were signed for (events/env-vars/authorizer.json).
SECRET = "gatehouse-sample-events-dev-secret-0123456789abcdef"
ISSUER = "https://auth.gatehouse.local/"
AUDIENCE = "gatehouse-api"
JWT_ISSUERS = json.dumps(
    [{"issuer": ISSUER, "audience": AUDIENCE, "algorithms": ["HS256"], "secret": SECRET, "requiredTyp": "at+jwt"}]
)
TABLE = "gatehouse-authorizer-test"


def load(name: str) -> dict:
    return json.loads((EVENTS / f"authorizer-{name}.json").read_text())


def token_of(event: dict) -> str:
    return event["headers"]["authorization"].split(" ", 1)[1]


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("JWT_ISSUERS", JWT_ISSUERS)
    monkeypatch.setenv("AUTHORIZER_CACHE_TTL", "60")
    monkeypatch.setenv("GATEHOUSE_KEY_ENV", "test")
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.delenv("API_KEY_PEPPER_SECRET_ID", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    reset_default_authenticator()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client, TABLE)
        yield {"client": client, "monkeypatch": monkeypatch}
    reset_default_authenticator()


def seed_key(client, key: str, scopes=("keys:read",), status="active", expires_at=None) -> None:
    record = KeyRecord(
        id="key_sample",
        name="sample",
        prefix=api_key_format.prefix(key),
        hash=api_key_format.hash_key(key),
        owner_id="org-sample",
        scopes=tuple(scopes),
        tier="professional",
        status=status,
        created_at=to_rfc3339(int(time.time())),
        expires_at=expires_at,
    )
    DynamoKeyStore(client, TABLE).create(record)


def test_events_are_real_shaped_v2_request_authorizer_events():
    for path in sorted(EVENTS.glob("authorizer-*.json")):
        event = json.loads(path.read_text())
        assert event["version"] == "2.0" and event["type"] == "REQUEST", path.name
        assert event["routeKey"] == event["requestContext"]["routeKey"]
        assert event["routeArn"].startswith("arn:aws:execute-api:")
        assert all(name == name.lower() for name in event["headers"])


def test_jwt_event_is_allowed_with_its_identity_in_the_context(env):
    result = authorize(load("jwt-ok"))
    assert result == {
        "isAuthorized": True,
        "context": {
            "principalId": "user-123",
            "ownerId": "user-123",
            "authType": "jwt",
            "tier": "starter",
            "scopes": "keys:read keys:write",
            "keyId": "",
            "expiresAt": "",  # a JWT's exp is not a cap on the keys it mints
        },
    }


def test_api_key_event_is_allowed_after_one_read(env):
    event = load("apikey-ok")
    seed_key(env["client"], token_of(event))
    result = authorize(event)
    assert result["isAuthorized"] is True
    assert result["context"] == {
        "principalId": "key_sample",
        "ownerId": "org-sample",
        "authType": "apiKey",
        "tier": "professional",
        "scopes": "keys:read",
        "keyId": "key_sample",
        "expiresAt": "",
    }


def test_an_expiring_api_key_carries_its_expiry_in_the_context(env):
    event = load("apikey-ok")
    seed_key(env["client"], token_of(event), expires_at="2099-01-01T00:00:00Z")
    context = authorize(event)["context"]
    assert context["expiresAt"] == "2099-01-01T00:00:00Z"
    assert all(isinstance(value, str) for value in context.values())  # simple responses: flat strings


def test_api_key_event_is_refused_when_the_key_is_unknown_or_revoked(env):
    event = load("apikey-ok")
    assert authorize(event) == {"isAuthorized": False}
    reset_default_authenticator()  # forget the cached miss
    seed_key(env["client"], token_of(event), status="revoked")
    assert authorize(event) == {"isAuthorized": False}


def test_expired_jwt_event_is_refused(env):
    assert authorize(load("jwt-expired")) == {"isAuthorized": False}


def test_missing_header_event_is_refused(env):
    assert authorize(load("missing-header")) == {"isAuthorized": False}


def test_wrong_scope_is_left_to_the_handler_while_decisions_are_cached(env):
    # TTL > 0: API Gateway would replay this decision on every route for the same header,
    # so the authorizer only authenticates and the handler checks the route's scope.
    assert authorize(load("wrong-scope"))["isAuthorized"] is True


def test_wrong_scope_is_refused_when_the_authorizer_cache_is_off(env):
    env["monkeypatch"].setenv("AUTHORIZER_CACHE_TTL", "0")
    reset_default_authenticator()
    assert authorize(load("wrong-scope")) == {"isAuthorized": False}
    assert authorize(load("jwt-ok"))["isAuthorized"] is True  # GET /v1/me needs no scope
    unknown_route = load("jwt-ok") | {"routeKey": "GET /v1/not-in-the-table"}
    assert authorize(unknown_route) == {"isAuthorized": False}  # fail closed


def test_the_identity_source_is_used_when_the_header_is_absent(env):
    event = load("jwt-ok")
    del event["headers"]["authorization"]
    assert authorize(event)["isAuthorized"] is True


def test_header_names_are_matched_case_insensitively(env):
    event = load("jwt-ok")
    event["headers"] = {"Authorization": event["headers"].pop("authorization")}
    del event["identitySource"]
    assert authorize(event)["isAuthorized"] is True


@pytest.mark.parametrize(
    ("value", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        ("BEARER   abc  ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("Bearer ", None),
        ("Bearer a b", None),
        ("abc", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_parsing(value, token):
    assert bearer_token(value) == token


def test_garbage_events_are_refused_not_crashed(env):
    for event in ({}, {"headers": None}, {"headers": {"authorization": 5}}, {"identitySource": [None]}):
        assert authorize(event) == {"isAuthorized": False}


def test_a_deeply_nested_jwt_header_is_a_deny_not_an_invocation_error(env):
    # b64url("[" * 3000): json.loads raised RecursionError, which escaped as a 500.
    event = load("jwt-ok")
    header = base64.urlsafe_b64encode(b"[" * 3000).rstrip(b"=").decode()
    event["headers"]["authorization"] = f"Bearer {header}.e30.c2ln"
    event["identitySource"] = [event["headers"]["authorization"]]
    assert authorize(event) == {"isAuthorized": False}


def test_bearer_tokens_and_jwts_share_one_length_bound(env):
    from gatehouse.auth import jwt_verifier
    from gatehouse.principal import MAX_TOKEN_LENGTH

    assert jwt_verifier.MAX_TOKEN_LENGTH is MAX_TOKEN_LENGTH
    assert bearer_token("Bearer " + "a" * MAX_TOKEN_LENGTH) == "a" * MAX_TOKEN_LENGTH
    assert bearer_token("Bearer " + "a" * (MAX_TOKEN_LENGTH + 1)) is None


def test_two_issuers_without_prefixes_refuse_jwts_and_say_why(env, caplog):
    two = [*json.loads(JWT_ISSUERS), {"issuer": "https://other.example/", "audience": AUDIENCE, "secret": SECRET}]
    env["monkeypatch"].setenv("JWT_ISSUERS", json.dumps(two))
    reset_default_authenticator()
    with caplog.at_level(logging.INFO, logger="gatehouse.auth"):
        assert authorize(load("jwt-ok")) == {"isAuthorized": False}
    assert "principalPrefix" in caplog.text
    for issuer, prefix in zip(two, ("local|", "other|"), strict=True):
        issuer["principalPrefix"] = prefix
    env["monkeypatch"].setenv("JWT_ISSUERS", json.dumps(two))
    reset_default_authenticator()
    allowed = authorize(load("jwt-ok"))
    assert allowed["isAuthorized"] is True
    assert allowed["context"]["principalId"].startswith("local|")
    assert allowed["context"]["ownerId"].startswith("local|")


def test_bad_jwt_issuers_config_refuses_jwts_but_keeps_api_keys(env, caplog):
    env["monkeypatch"].setenv("JWT_ISSUERS", "{broken")
    reset_default_authenticator()
    event = load("apikey-ok")
    seed_key(env["client"], token_of(event))
    with caplog.at_level(logging.INFO, logger="gatehouse.auth"):
        assert authorize(load("jwt-ok")) == {"isAuthorized": False}
        assert authorize(event)["isAuthorized"] is True
    assert "JWT_ISSUERS" in caplog.text


def test_lambda_handler_answers_the_event(env):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "authorizer_app", Path(__file__).resolve().parents[2] / "functions" / "authorizer" / "app.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.lambda_handler(load("jwt-ok"), None)["isAuthorized"] is True
    assert module.lambda_handler(load("missing-header"), None) == {"isAuthorized": False}


def test_no_secret_reaches_the_logs(env, caplog):
    api_event = load("apikey-ok")
    key = token_of(api_event)
    seed_key(env["client"], key)
    jwt_event = load("jwt-ok")
    token = token_of(jwt_event)
    bad_key_event = copy.deepcopy(api_event)
    typo_key = key[:-1] + ("A" if key[-1] != "A" else "B")
    bad_key_event["headers"]["authorization"] = f"Bearer {typo_key}"
    forged = jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": 4070908800},
        "wrong-secret-" * 4,
        algorithm="HS256",
        headers={"typ": "at+jwt"},
    )
    bad_jwt_event = copy.deepcopy(jwt_event)
    bad_jwt_event["headers"]["authorization"] = f"Bearer {forged}"
    # Everything at INFO (what Lambda runs with), and our own logger down to DEBUG. botocore's
    # own DEBUG wire logs would show the stored hash; they are off unless someone turns them on.
    with caplog.at_level(logging.INFO), caplog.at_level(logging.DEBUG, logger="gatehouse.auth"):
        for event in (api_event, jwt_event, bad_key_event, bad_jwt_event, load("jwt-expired")):
            authorize(event)
        env["monkeypatch"].setenv("AUTHORIZER_CACHE_TTL", "0")
        reset_default_authenticator()
        authorize(load("wrong-scope"))
    logged = caplog.text
    assert "authorizer refused" in logged  # the refusals were logged...
    assert "authorizer allowed" in logged
    for secret in (key, typo_key, token, forged, token_of(load("jwt-expired")), SECRET, api_format_hash(key)):
        assert secret not in logged  # ...without any token, key, hash or secret
        assert secret[20:40] not in logged
    assert api_key_format.prefix(key) in logged  # only the recognisable prefix


def api_format_hash(key: str) -> str:
    return api_key_format.hash_key(key)


@pytest.mark.parametrize(
    "scope_claims",
    [
        {"scp": ["keys:read\tadmin"]},
        {"permissions": ["keys:read\nadmin"]},
        {"scope": "keys:read\u00a0admin"},
        {"scope": "keys:read\u2003admin"},
    ],
)
def test_a_scope_with_whitespace_inside_never_reaches_a_handler_as_admin(env, scope_claims):
    # Given a validly signed token whose one scope hides "admin" behind a tab, newline or Unicode space
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "user-9", "exp": now + 300} | scope_claims
    token = jwt.encode(claims, SECRET, algorithm="HS256", headers={"typ": "at+jwt"})
    event = load("jwt-ok")
    event["headers"]["authorization"] = f"Bearer {token}"
    event["identitySource"] = [event["headers"]["authorization"]]
    # Then the authorizer refuses it outright (it used to pass "keys:read\tadmin" for the handler to split)
    assert authorize(event) == {"isAuthorized": False}


def test_a_stored_api_key_scope_with_whitespace_is_refused(env):
    event = load("apikey-ok")
    seed_key(env["client"], token_of(event), scopes=("keys:read\tadmin",))
    assert authorize(event) == {"isAuthorized": False}


def test_a_principal_whose_scopes_cannot_be_written_as_tokens_is_denied_not_crashed(env):
    # Belt and braces behind both credential paths: to_context refuses, the authorizer denies.
    from gatehouse.principal import Principal

    class OddAuthenticator:
        cache_ttl = 60

        def authenticate(self, token):
            return Principal("u", "u", "jwt", scopes=frozenset({"keys:read\tadmin"}))

    assert authorize(load("jwt-ok"), auth=OddAuthenticator()) == {"isAuthorized": False}
