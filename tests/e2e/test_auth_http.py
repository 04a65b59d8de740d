"""Authorizer and API keys over real HTTP: what the authorizer refuses, and what it lets through, via GET /v1/me."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from gatehouse.times import to_rfc3339
from tests.e2e.jwks_server import JwksServer
from tests.e2e.tokens import (
    assert_gateway_forbidden,
    assert_gateway_unauthorized,
    b64json,
    b64url,
    call,
    claims,
    hmac_token,
    mint,
    stack_env,
    wait_out_authorizer_cache,
)

JWKS_ISSUER = "https://e2e-idp.example.test/"
JWKS_AUDIENCE = "gatehouse-e2e"
# With two issuers each needs its own principalPrefix (docs/reference.md: one subject per issuer).
DEV_PREFIX = "dev|"
JWKS_PREFIX = "idp|"


@pytest.fixture
def info(local_stack) -> dict[str, Any]:
    return local_stack.bootstrap_info


@pytest.fixture
def jwks(local_stack) -> Iterator[JwksServer]:
    """An extra RS256 issuer served by a local JWKS endpoint, next to the dev issuer (both prefixed)."""
    server = JwksServer().start()
    issuers = [issuer | {"principalPrefix": DEV_PREFIX} for issuer in json.loads(local_stack.env["JWT_ISSUERS"])]
    issuers.append(server.issuer_config(JWKS_ISSUER, JWKS_AUDIENCE) | {"principalPrefix": JWKS_PREFIX})
    try:
        with stack_env(local_stack, JWT_ISSUERS=json.dumps(issuers)):
            yield server
    finally:
        server.stop()


def jwks_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    body = {
        "iss": JWKS_ISSUER,
        "aud": JWKS_AUDIENCE,
        "sub": f"idp-{uuid.uuid4().hex}",
        "exp": now + 300,
        "iat": now,
        "scope": "keys:read",
        "tier": "starter",
    }
    body.update(overrides)
    return body


def refused(stack, token: str) -> None:
    """The authorizer is asked (once) and refuses: API Gateway's own 403 body."""
    before = stack.emulator.authorizer_invocations
    assert_gateway_forbidden(call(stack, "GET", "/v1/me", token))
    assert stack.emulator.authorizer_invocations == before + 1


# -- no credentials at all -------------------------------------------------------------------------------


def test_no_authorization_header_is_401_without_invoking_the_authorizer(local_stack):
    before = local_stack.emulator.authorizer_invocations
    assert_gateway_unauthorized(call(local_stack, "GET", "/v1/me"))
    assert_gateway_unauthorized(call(local_stack, "GET", "/v1/keys"))
    assert_gateway_unauthorized(call(local_stack, "GET", "/v1/me", headers={"Authorization": ""}))
    assert local_stack.emulator.authorizer_invocations == before


@pytest.mark.parametrize(
    "header",
    ["Bearer garbage", "Bearer a.b.c", "Bearer ....", "Basic dXNlcjpwYXNz", "Bearer", "bearer x y"],
)
def test_garbage_credentials_are_refused(local_stack, header):
    before = local_stack.emulator.authorizer_invocations
    assert_gateway_forbidden(call(local_stack, "GET", "/v1/me", headers={"Authorization": header}))
    assert local_stack.emulator.authorizer_invocations == before + 1


def test_the_dev_issuer_token_is_accepted(local_stack, info):
    sub = f"e2e-{uuid.uuid4().hex}"
    response = call(local_stack, "GET", "/v1/me", mint(info, sub=sub, scope="keys:read metrics:read", tier="starter"))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "principalId": sub,
        "ownerId": sub,
        "authType": "jwt",
        "tier": "starter",
        "scopes": ["keys:read", "metrics:read"],
        "keyId": None,
        "expiresAt": None,
    }


# -- JWT refusals ----------------------------------------------------------------------------------------


def test_alg_none_is_refused(local_stack, info):
    payload = claims(info)
    for alg in ("none", "None", "NONE"):
        refused(local_stack, f"{b64json({'alg': alg, 'typ': 'JWT'})}.{b64json(payload)}.")
    # And with a signature part that is not empty either.
    refused(local_stack, f"{b64json({'alg': 'none'})}.{b64json(payload)}.c2lnbmF0dXJl")


def test_hs256_signed_with_another_secret_is_refused(local_stack, info):
    other = "x" * 64
    refused(local_stack, jwt.encode(claims(info), other, algorithm="HS256"))


@pytest.mark.parametrize("alg", ["HS384", "HS512"])
def test_an_algorithm_the_issuer_does_not_allow_is_refused(local_stack, info, alg):
    # Signed with the right secret: only the allow-list (HS256 for the dev issuer) refuses it.
    refused(local_stack, jwt.encode(claims(info), info["jwt"]["secret"], algorithm=alg))


def test_rs256_header_on_the_hmac_issuer_is_refused(local_stack, info):
    # An RS256 header with an HMAC signature over the dev secret: the header never picks the algorithm.
    token = hmac_token({"alg": "RS256", "typ": "JWT"}, claims(info), info["jwt"]["secret"].encode())
    refused(local_stack, token)


def test_expired_token_is_refused(local_stack, info):
    now = int(time.time())
    refused(local_stack, mint(info, exp=now - 120, iat=now - 600))


def test_expiry_inside_the_leeway_is_accepted(local_stack, info):
    now = int(time.time())
    response = call(local_stack, "GET", "/v1/me", mint(info, exp=now - 5, iat=now - 600))
    assert response.status_code == 200, response.text


def test_nbf_in_the_future_beyond_the_leeway_is_refused(local_stack, info):
    now = int(time.time())
    refused(local_stack, mint(info, nbf=now + 120))
    # Inside the 30 s leeway it is honoured as a clock skew.
    assert call(local_stack, "GET", "/v1/me", mint(info, nbf=now + 5)).status_code == 200


def test_wrong_audience_is_refused(local_stack, info):
    refused(local_stack, mint(info, aud="someone-else"))
    refused(local_stack, mint(info, aud=["someone-else", "another"]))


def test_missing_audience_is_refused(local_stack, info):
    refused(local_stack, mint(info, aud=None))


def test_wrong_issuer_is_refused(local_stack, info):
    # Signed with the dev secret, claiming another issuer: unknown issuers are refused.
    refused(local_stack, mint(info, iss="https://evil.example.test/"))
    refused(local_stack, mint(info, iss=info["jwt"]["issuer"] + "/"))


def test_missing_exp_is_refused(local_stack, info):
    refused(local_stack, mint(info, exp=None))


def test_tampered_payload_is_refused(local_stack, info):
    token = mint(info, scope="keys:read", tier="free")
    assert call(local_stack, "GET", "/v1/me", token).status_code == 200
    header, payload, signature = token.split(".")
    body = json.loads(jwt.utils.base64url_decode(payload))
    body["scope"] = "admin"
    refused(local_stack, f"{header}.{b64json(body)}.{signature}")
    body = json.loads(jwt.utils.base64url_decode(payload))
    body["tier"] = "enterprise"
    refused(local_stack, f"{header}.{b64json(body)}.{signature}")


@pytest.mark.parametrize(
    "scope_claims",
    [{"scp": ["metrics:read\tadmin"]}, {"permissions": ["metrics:read\nadmin"]}, {"scope": "metrics:read\u2003admin"}],
)
def test_a_scope_with_whitespace_inside_is_refused_not_split_into_admin(local_stack, info, scope_claims):
    # Given a validly signed token whose one scope hides "admin" behind a tab, newline or em space,
    # When it asks for every key (admin only), Then the authorizer refuses it (it used to be a 200).
    token = mint(info, **({"scope": "metrics:read"} | scope_claims))
    refused(local_stack, token)
    assert_gateway_forbidden(call(local_stack, "GET", "/v1/keys", token))


def test_a_deeply_nested_header_or_payload_is_refused_not_a_500(local_stack, info):
    # json.loads of b64url("[" * 3000) raised RecursionError: the authorizer crashed (500).
    deep = b64url(b"[" * 3000)
    refused(local_stack, f"{deep}.{b64json(claims(info))}.c2ln")
    refused(local_stack, f"{b64json({'alg': 'HS256'})}.{b64url(b'[' * 4000)}.c2ln")
    refused(local_stack, f"{b64url(b'[' * 1500)}.{b64json(claims(info))}.c2ln")  # inside the 2 KiB header bound


@pytest.mark.parametrize("sub", ["key_AAAAAAAAAAAAAAAAAAAA", "check:someone"])
def test_a_jwt_cannot_take_an_api_key_or_check_subject(local_stack, info, sub):
    # Validly signed by the dev issuer, whose subjects are bare: still refused, so a JWT never
    # shares an API key's or the check API's identity (keys, rate-limit bucket).
    refused(local_stack, mint(info, sub=sub))


# -- the JWKS (RS256) issuer -----------------------------------------------------------------------------


def test_a_valid_rs256_token_from_the_jwks_issuer_is_accepted(local_stack, jwks):
    body = jwks_claims()
    response = call(local_stack, "GET", "/v1/me", jwks.token(body))
    assert response.status_code == 200, response.text
    me = response.json()
    assert me["principalId"] == JWKS_PREFIX + body["sub"]
    assert me["ownerId"] == JWKS_PREFIX + body["sub"]
    assert me["authType"] == "jwt"
    assert me["tier"] == "starter"
    assert me["scopes"] == ["keys:read"]
    assert jwks.fetches == 1


def test_the_same_subject_at_two_issuers_is_two_identities(local_stack, info, jwks):
    sub = f"shared-{uuid.uuid4().hex}"
    dev_token = mint(info, sub=sub, scope="keys:read keys:write")
    idp_token = jwks.token(jwks_claims(sub=sub, scope="keys:read keys:write"))
    dev_me = call(local_stack, "GET", "/v1/me", dev_token).json()
    idp_me = call(local_stack, "GET", "/v1/me", idp_token).json()
    assert (dev_me["principalId"], dev_me["ownerId"]) == (DEV_PREFIX + sub, DEV_PREFIX + sub)
    assert (idp_me["principalId"], idp_me["ownerId"]) == (JWKS_PREFIX + sub, JWKS_PREFIX + sub)
    # A key made by one is not the other's: not listed, not readable.
    created = call(local_stack, "POST", "/v1/keys", dev_token, json={"name": "dev's", "scopes": ["keys:read"]})
    assert created.status_code == 201, created.text
    assert created.json()["ownerId"] == DEV_PREFIX + sub
    listing = call(local_stack, "GET", "/v1/keys", idp_token)
    assert listing.status_code == 200, listing.text
    assert listing.json()["items"] == []
    assert call(local_stack, "GET", f"/v1/keys/{created.json()['id']}", idp_token).status_code == 404


def test_two_issuers_without_prefixes_refuse_every_jwt_but_keep_api_keys(local_stack, info):
    server = JwksServer().start()
    issuers = [*json.loads(local_stack.env["JWT_ISSUERS"]), server.issuer_config(JWKS_ISSUER, JWKS_AUDIENCE)]
    try:
        with stack_env(local_stack, JWT_ISSUERS=json.dumps(issuers)):
            refused(local_stack, mint(info))
            refused(local_stack, server.token(jwks_claims()))
            assert call(local_stack, "GET", "/v1/me", info["adminKey"]).status_code == 200
    finally:
        server.stop()


def test_rs_hs_key_confusion_is_refused(local_stack, jwks):
    # The classic attack: HS256 with the issuer's public key (PEM, and the JWK text) as the HMAC secret.
    assert call(local_stack, "GET", "/v1/me", jwks.token(jwks_claims())).status_code == 200
    for secret in (jwks.public_pem, jwks.public_pem.strip(), jwks.document):
        for header in ({"alg": "HS256", "typ": "JWT", "kid": jwks.kid}, {"alg": "HS256", "typ": "JWT"}):
            refused(local_stack, hmac_token(header, jwks_claims(), secret))
    refused(local_stack, hmac_token({"alg": "HS512", "kid": jwks.kid}, jwks_claims(), jwks.public_pem, hashlib.sha512))


def test_jwks_token_with_wrong_audience_or_expired_is_refused(local_stack, jwks):
    refused(local_stack, jwks.token(jwks_claims(aud="gatehouse-local")))
    refused(local_stack, jwks.token(jwks_claims(exp=int(time.time()) - 120)))


def test_unknown_kids_cost_at_most_one_jwks_fetch_per_cooldown(local_stack, jwks):
    assert call(local_stack, "GET", "/v1/me", jwks.token(jwks_claims())).status_code == 200
    assert jwks.fetches == 1  # the initial fetch

    refused(local_stack, jwks.token(jwks_claims(), kid="no-such-kid"))
    for _ in range(100):
        refused(local_stack, jwks.token(jwks_claims(), kid=f"unknown-{uuid.uuid4().hex}"))
    assert jwks.fetches <= 2, f"{jwks.fetches} JWKS fetches for 101 unknown kids inside one cooldown"

    # The known kid still works from the cache, without another fetch.
    fetches = jwks.fetches
    assert call(local_stack, "GET", "/v1/me", jwks.token(jwks_claims())).status_code == 200
    assert jwks.fetches == fetches


def test_a_token_signed_by_another_rsa_key_under_the_known_kid_is_refused(local_stack, jwks):
    impostor = JwksServer()  # never started: only its private key is used
    impostor.kid = jwks.kid
    refused(local_stack, impostor.token(jwks_claims()))


# -- API keys --------------------------------------------------------------------------------------------


@pytest.fixture
def get_item_counter(local_stack) -> Iterator[list[dict[str, Any]]]:
    """Every DynamoDB GetItem the authorizer's own client makes, recorded (botocore event hook)."""
    from gatehouse.auth.runtime import authenticator as default_authenticator

    authenticator = default_authenticator()
    api_keys = authenticator.api_keys()
    client = api_keys._store._client
    calls: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        calls.append(params)

    client.meta.events.register("before-call.dynamodb.GetItem", record)
    try:
        yield calls
    finally:
        client.meta.events.unregister("before-call.dynamodb.GetItem", record)


def test_api_key_with_a_bad_checksum_is_refused_without_a_store_read(local_stack, info, get_item_counter):
    from gatehouse.keys import api_key_format

    admin_key = info["adminKey"]
    good = api_key_format.generate("test")
    body = good[: -api_key_format.CHECKSUM_LENGTH]
    wrong_checksum = body + ("000000" if good[-6:] != "000000" else "000001")
    last = admin_key[-1]
    typo_admin = admin_key[:-1] + ("a" if last != "a" else "b")
    live_env = "gk_live_" + good[8:-6]
    live_env += api_key_format.checksum(live_env)  # well-formed, but for another environment
    for bad in (wrong_checksum, typo_admin, admin_key[:-1], admin_key + "0", live_env, "gk_test_short"):
        refused(local_stack, bad)
    assert get_item_counter == []

    # The real admin key, by contrast, is looked up (proves the hook sees the authorizer's reads).
    local_stack.emulator.clear_authorizer_cache()
    from gatehouse.auth.runtime import authenticator as default_authenticator

    default_authenticator().api_keys()._cache.clear()
    assert call(local_stack, "GET", "/v1/me", admin_key).status_code == 200
    assert len(get_item_counter) == 1


def test_a_well_formed_unknown_api_key_is_refused(local_stack, get_item_counter):
    from gatehouse.keys import api_key_format

    refused(local_stack, api_key_format.generate("test"))
    assert len(get_item_counter) == 1


def test_the_bootstrap_admin_key_is_accepted(local_stack, info):
    response = call(local_stack, "GET", "/v1/me", info["adminKey"])
    assert response.status_code == 200, response.text
    me = response.json()
    assert me["authType"] == "apiKey"
    assert me["ownerId"] == "local-operator"
    assert me["tier"] == "enterprise"
    assert me["scopes"] == ["admin"]
    assert me["keyId"] == me["principalId"]


def test_an_expired_api_key_is_refused(local_stack, info):
    owner = mint(info, scope="keys:read keys:write")
    # Accepted before its expiresAt: shown by a request answered before that moment. A machine too
    # slow to create a key and use it within its life shows nothing; that key is replaced by one
    # that lives twice as long.
    lifetime = 3
    while True:
        expires = int(time.time()) + lifetime
        created = call(
            local_stack,
            "POST",
            "/v1/keys",
            owner,
            json={
                "name": "short-lived",
                "scopes": ["keys:read"],
                "expiresAt": to_rfc3339(expires),
            },
        )
        assert created.status_code == 201, created.text
        key = created.json()["key"]
        first = call(local_stack, "GET", "/v1/me", key)
        answered, answered_monotonic = time.time(), time.monotonic()
        if answered < expires:
            assert first.status_code == 200, first.text
            break
        lifetime *= 2
        assert lifetime <= 192, "could not create and use a key within a minute and a half"
    # Checked on every use (even from the in-process cache): refused from the first request after its
    # expiresAt once the emulator's authorizer cache has let go of the decision that admitted it.
    while time.time() < expires:
        time.sleep(max(0.01, expires - time.time()))
    wait_out_authorizer_cache(local_stack, answered_monotonic)
    assert_gateway_forbidden(call(local_stack, "GET", "/v1/me", key))
    assert_gateway_forbidden(call(local_stack, "GET", "/v1/keys", key))


def test_a_revoked_api_key_is_refused(local_stack, info):
    owner = mint(info, scope="keys:read keys:write")
    with stack_env(local_stack, API_KEY_CACHE_SECONDS="0"):
        created = call(local_stack, "POST", "/v1/keys", owner, json={"name": "doomed", "scopes": ["keys:read"]})
        assert created.status_code == 201, created.text
        key, key_id = created.json()["key"], created.json()["id"]
        assert call(local_stack, "GET", "/v1/me", key).status_code == 200
        assert call(local_stack, "DELETE", f"/v1/keys/{key_id}", owner).status_code == 200
        # Refused from the first request after the authorizer cache TTL, however long the requests take
        wait_out_authorizer_cache(local_stack, time.monotonic())
        assert_gateway_forbidden(call(local_stack, "GET", "/v1/me", key))
        assert_gateway_forbidden(call(local_stack, "GET", "/v1/keys", key))
