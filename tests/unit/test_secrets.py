"""Secrets by id, never by value: Secrets Manager through Powertools parameters (moto's mock here),
the authorizer's pepper and HS256 issuers, and the Redis credentials read per new connection."""

from __future__ import annotations

import json

import boto3
import jwt
import pytest
from moto import mock_aws
from redis.exceptions import ConnectionError as RedisConnectionError

from gatehouse.auth.env import load_auth_env
from gatehouse.auth.exceptions import AuthConfigError
from gatehouse.auth.runtime import build_authenticator, resolve_issuer_secrets
from gatehouse.auth.service import Authenticator
from gatehouse.clients.redis_client import SecretCredentials
from gatehouse.clients.secrets import SecretUnavailable, secret_json, secret_string
from gatehouse.wiring import reset

ISSUER = "https://issuer.example/"
AUDIENCE = "gatehouse"


@pytest.fixture
def secrets_manager(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)
    reset()
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")
    reset()


def test_a_secret_is_read_once_per_cache_age(secrets_manager):
    secrets_manager.create_secret(Name="app/pepper", SecretString="first")
    assert secret_string("app/pepper", max_age=300) == "first"
    secrets_manager.put_secret_value(SecretId="app/pepper", SecretString="second")
    assert secret_string("app/pepper", max_age=300) == "first"  # cached for its age
    # A value read with age 0 is stale at once: the next read fetches again.
    secrets_manager.create_secret(Name="app/rotating", SecretString="first")
    assert secret_string("app/rotating", max_age=0) == "first"
    secrets_manager.put_secret_value(SecretId="app/rotating", SecretString="second")
    assert secret_string("app/rotating", max_age=0) == "second"


def test_a_missing_or_malformed_secret_is_named_never_shown(secrets_manager):
    with pytest.raises(SecretUnavailable, match="app/absent"):
        secret_string("app/absent")
    secrets_manager.create_secret(Name="app/not-json", SecretString="hunter2-not-json")
    with pytest.raises(SecretUnavailable) as raised:
        secret_json("app/not-json")
    assert "hunter2" not in str(raised.value)


def test_redis_credentials_come_from_the_secret_for_each_new_connection(secrets_manager):
    secrets_manager.create_secret(Name="app/redis", SecretString=json.dumps({"username": "gh", "password": "p1"}))
    credentials = SecretCredentials("app/redis", max_age=0, timeout=2)
    assert credentials.get_credentials() == ("gh", "p1")
    secrets_manager.put_secret_value(SecretId="app/redis", SecretString=json.dumps({"password": "p2"}))
    assert credentials.get_credentials() == ("p2",)  # a rotated password reaches the next connection


def test_unreadable_redis_credentials_are_a_failed_connection_not_a_crash(secrets_manager):
    # The limiter treats a failed connection as an outage (its failure mode), never as a 500.
    with pytest.raises(RedisConnectionError):
        SecretCredentials("app/missing", max_age=0, timeout=2).get_credentials()
    secrets_manager.create_secret(Name="app/nopassword", SecretString=json.dumps({"username": "x"}))
    with pytest.raises(RedisConnectionError):
        SecretCredentials("app/nopassword", max_age=0, timeout=2).get_credentials()


def test_an_issuer_secret_id_is_replaced_by_its_secret():
    text = json.dumps([{"issuer": ISSUER, "audience": AUDIENCE, "algorithms": ["HS256"], "secretId": "stack/jwt/a"}])
    resolved = json.loads(resolve_issuer_secrets(text, {"stack/jwt/a": "s" * 40}.__getitem__))
    assert resolved == [{"issuer": ISSUER, "audience": AUDIENCE, "algorithms": ["HS256"], "secret": "s" * 40}]
    with pytest.raises(AuthConfigError):
        resolve_issuer_secrets(json.dumps([{"issuer": ISSUER, "secretId": "x", "secret": "y"}]), str)
    assert resolve_issuer_secrets("{broken", str) == "{broken"  # left for parse_issuers to refuse


def _token(secret: str) -> str:
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "exp": 4102444800, "scope": "keys:read"}
    return jwt.encode(claims, secret, algorithm="HS256")


def test_the_authorizer_reads_an_hs256_secret_by_id_and_picks_up_a_rotation(secrets_manager, monkeypatch):
    old, new = "o" * 40, "n" * 40
    secrets_manager.create_secret(Name="gatehouse/jwt/dev", SecretString=old)
    issuers = [{"issuer": ISSUER, "audience": AUDIENCE, "algorithms": ["HS256"], "secretId": "gatehouse/jwt/dev"}]
    monkeypatch.setenv("JWT_ISSUERS", json.dumps(issuers))
    monkeypatch.setenv("SECRETS_CACHE_SECONDS", "0")  # every use is past the cache age
    authenticator = build_authenticator(load_auth_env())
    assert authenticator.authenticate(_token(old)).principal_id == "alice"
    secrets_manager.put_secret_value(SecretId="gatehouse/jwt/dev", SecretString=new)
    assert authenticator.authenticate(_token(new)).principal_id == "alice"


def test_a_failed_refresh_keeps_the_verifier_it_had():
    clock = [0.0]
    built = []

    def factory():
        if built:
            raise AuthConfigError("secret could not be read")
        built.append(1)
        return type("Verifier", (), {"verify": lambda self, token: token})()

    authenticator = Authenticator(
        cache_ttl=60, api_keys=lambda: None, jwt=factory, jwt_refresh_seconds=10, clock=lambda: clock[0]
    )
    assert authenticator.authenticate("a.b.c") == "a.b.c"
    clock[0] = 11.0
    assert authenticator.authenticate("a.b.c") == "a.b.c"  # the refresh failed; the old verifier answers
