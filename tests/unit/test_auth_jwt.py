"""JWT verification: every refusal RFC 8725 asks for, scopes and tiers from claims, issuer config."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from gatehouse.auth.exceptions import AuthConfigError, InvalidToken
from gatehouse.auth.jwks import JwksCache
from gatehouse.auth.jwt_verifier import JwtVerifier, parse_issuer, parse_issuers

SECRET = "dev-secret-of-at-least-thirty-two-bytes!!"
DEV_ISS = "https://dev.gatehouse.test/"
JWKS_ISS = "https://idp.example.com/"
AUD = "gatehouse-api"


@pytest.fixture(scope="module")
def keys():
    return {
        "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ec": ec.generate_private_key(ec.SECP256R1()),
        "ed": ed25519.Ed25519PrivateKey.generate(),
    }


def _jwk(algorithm, public_key, kid):
    return json.loads(algorithm.to_jwk(public_key)) | {"kid": kid, "use": "sig"}


@pytest.fixture(scope="module")
def jwks_body(keys):
    return json.dumps(
        {
            "keys": [
                _jwk(RSAAlgorithm, keys["rsa"].public_key(), "rsa-1"),
                _jwk(ECAlgorithm, keys["ec"].public_key(), "ec-1"),
                _jwk(OKPAlgorithm, keys["ed"].public_key(), "ed-1"),
                # A symmetric key slipped into a JWKS must never be used.
                {"kty": "oct", "kid": "oct-1", "k": base64.urlsafe_b64encode(b"x" * 32).decode().rstrip("=")},
            ]
        }
    ).encode()


@pytest.fixture
def fetches(jwks_body):
    calls = []

    def fetch(url):
        calls.append(url)
        return jwks_body

    fetch.calls = calls
    return fetch


DEV_PREFIX = "dev|"
IDP_PREFIX = "idp|"


def make_verifier(fetch=None, **overrides):
    issuers = [
        {"issuer": DEV_ISS, "audience": AUD, "algorithms": ["HS256"], "secret": SECRET, "principalPrefix": DEV_PREFIX}
        | overrides.get("dev", {}),
        {
            "issuer": JWKS_ISS,
            "audience": [AUD, "other-api"],
            "algorithms": ["RS256", "ES256", "EdDSA"],
            "jwksUrl": "https://idp.example.com/.well-known/jwks.json",
            "principalPrefix": IDP_PREFIX,
        }
        | overrides.get("jwks", {}),
    ]
    return JwtVerifier(
        parse_issuers(json.dumps(issuers)),
        jwks_factory=lambda url: JwksCache(url, fetch=fetch or (lambda u: b'{"keys": []}')),
    )


def claims(**extra):
    now = int(time.time())
    base = {"iss": DEV_ISS, "aud": AUD, "sub": "user-1", "iat": now, "exp": now + 300}
    base.update(extra)
    return {k: v for k, v in base.items() if v is not None}


def hs(payload, secret=SECRET, headers=None, algorithm="HS256"):
    return jwt.encode(payload, secret, algorithm=algorithm, headers=headers)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict, payload: dict, signer) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    return f"{signing_input}.{b64(signer(signing_input.encode()))}"


# --- acceptance ---------------------------------------------------------------------------


def test_a_valid_hs256_token_gives_a_principal():
    principal = make_verifier().verify(hs(claims(scope="keys:read keys:write", tier="starter")))
    assert principal.principal_id == "dev|user-1"
    assert principal.owner_id == "dev|user-1"
    assert principal.auth_type == "jwt"
    assert principal.tier == "starter"
    assert principal.scopes == {"keys:read", "keys:write"}
    assert principal.key_id is None


@pytest.mark.parametrize(
    ("kid", "key_name", "alg"), [("rsa-1", "rsa", "RS256"), ("ec-1", "ec", "ES256"), ("ed-1", "ed", "EdDSA")]
)
def test_jwks_issuer_accepts_each_allowed_asymmetric_algorithm(keys, fetches, kid, key_name, alg):
    token = jwt.encode(claims(iss=JWKS_ISS, aud="other-api"), keys[key_name], algorithm=alg, headers={"kid": kid})
    assert make_verifier(fetches).verify(token).principal_id == "idp|user-1"


# --- refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9..", "x" * 9000, "e30.e30.e30"])
def test_garbage_is_refused(token):
    with pytest.raises(InvalidToken):
        make_verifier().verify(token)


def test_alg_none_is_refused():
    token = forge({"alg": "none", "typ": "JWT"}, claims(), lambda _: b"")
    with pytest.raises(InvalidToken, match="algorithm not allowed"):
        make_verifier().verify(token)
    unsigned = token.rsplit(".", 1)[0] + "."
    with pytest.raises(InvalidToken):
        make_verifier().verify(unsigned)


def test_hs256_signed_with_another_secret_is_refused():
    with pytest.raises(InvalidToken, match="InvalidSignatureError"):
        make_verifier().verify(hs(claims(), secret="another-secret-that-is-also-32-bytes-long"))


def test_an_algorithm_outside_the_issuers_allow_list_is_refused(keys):
    with pytest.raises(InvalidToken, match="algorithm not allowed"):
        make_verifier().verify(hs(claims(), secret=SECRET * 2, algorithm="HS512"))
    rs_for_dev = jwt.encode(claims(), keys["rsa"], algorithm="RS256", headers={"kid": "rsa-1"})
    with pytest.raises(InvalidToken, match="algorithm not allowed"):
        make_verifier().verify(rs_for_dev)


def test_rs_hs_confusion_with_the_public_key_as_hmac_secret_is_refused(keys, fetches):
    public_pem = (
        keys["rsa"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    token = forge(
        {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"},
        claims(iss=JWKS_ISS),
        lambda data: hmac.new(public_pem, data, hashlib.sha256).digest(),
    )
    with pytest.raises(InvalidToken, match="algorithm not allowed"):
        make_verifier(fetches).verify(token)
    assert fetches.calls == []  # refused before any key was even looked up


def test_a_jwks_key_of_the_wrong_type_for_the_alg_is_refused(keys, fetches):
    token = jwt.encode(claims(iss=JWKS_ISS), keys["ec"], algorithm="ES256", headers={"kid": "rsa-1"})
    with pytest.raises(InvalidToken, match="key type"):
        make_verifier(fetches).verify(token)


def test_an_oct_key_in_the_jwks_is_never_used(fetches):
    oct_token = forge({"alg": "RS256", "kid": "oct-1"}, claims(iss=JWKS_ISS), lambda _: b"sig")
    with pytest.raises(InvalidToken, match="unknown kid"):
        make_verifier(fetches).verify(oct_token)


def test_expired_is_refused_beyond_the_leeway_and_accepted_within():
    now = int(time.time())
    with pytest.raises(InvalidToken, match="ExpiredSignatureError"):
        make_verifier().verify(hs(claims(iat=now - 600, exp=now - 31)))
    assert make_verifier().verify(hs(claims(iat=now - 600, exp=now - 20)))


def test_nbf_in_the_future_is_refused_beyond_the_leeway_and_accepted_within():
    now = int(time.time())
    with pytest.raises(InvalidToken, match="ImmatureSignatureError"):
        make_verifier().verify(hs(claims(nbf=now + 60)))
    assert make_verifier().verify(hs(claims(nbf=now + 20)))


def test_wrong_audience_is_refused():
    with pytest.raises(InvalidToken, match="InvalidAudienceError"):
        make_verifier().verify(hs(claims(aud="someone-else")))


def test_unknown_issuer_is_refused():
    with pytest.raises(InvalidToken, match="unknown issuer"):
        make_verifier().verify(hs(claims(iss="https://evil.example/")))


@pytest.mark.parametrize("missing", ["exp", "aud", "iss"])
def test_required_claims_are_required(missing):
    with pytest.raises(InvalidToken):
        make_verifier().verify(hs(claims(**{missing: None})))


def test_a_token_without_subject_is_refused():
    with pytest.raises(InvalidToken, match="no principal"):
        make_verifier().verify(hs(claims(sub=None)))


def test_tampered_payload_is_refused():
    token = hs(claims(scope="keys:read"))
    header, _, signature = token.split(".")
    tampered = f"{header}.{b64(json.dumps(claims(scope='admin')).encode())}.{signature}"
    with pytest.raises(InvalidToken, match="InvalidSignatureError"):
        make_verifier().verify(tampered)


def test_unknown_kid_is_refused(keys, fetches):
    token = jwt.encode(claims(iss=JWKS_ISS), keys["rsa"], algorithm="RS256", headers={"kid": "nope"})
    with pytest.raises(InvalidToken, match="unknown kid"):
        make_verifier(fetches).verify(token)
    missing_kid = jwt.encode(claims(iss=JWKS_ISS), keys["rsa"], algorithm="RS256")
    with pytest.raises(InvalidToken, match="kid"):
        make_verifier(fetches).verify(missing_kid)


@pytest.mark.parametrize(
    ("typ", "ok"), [("at+jwt", True), ("application/at+jwt", True), ("AT+JWT", True), ("JWT", False), (None, False)]
)
def test_required_typ_is_checked_against_the_header(typ, ok):
    verifier = make_verifier(dev={"requiredTyp": "at+jwt"})
    headers = {"typ": typ} if typ else {"typ": None}
    token = hs(claims(), headers=headers)
    if ok:
        assert verifier.verify(token)
    else:
        with pytest.raises(InvalidToken, match="typ"):
            verifier.verify(token)


def test_a_deeply_nested_header_or_payload_is_refused_not_crashed():
    # json.loads of "[[[[..." raises RecursionError (not a ValueError): once an authorizer 500.
    # Both reachable inside the segment bounds (2 KiB header, 6 KiB payload).
    deep_header, deep_payload = b64(b"[" * 1500), b64(b"[" * 4000)
    body, empty = b64(json.dumps(claims()).encode()), b64(b"{}")
    for token in (f"{deep_header}.{body}.c2ln", f"{empty}.{deep_payload}.c2ln"):
        with pytest.raises(InvalidToken, match="malformed"):
            make_verifier().verify(token)


def test_header_and_payload_segments_are_bounded_before_decoding():
    header = {"alg": "HS256", "typ": "JWT", "pad": "x" * 2000}
    with pytest.raises(InvalidToken, match="too long"):
        make_verifier().verify(hs(claims(), headers=header))
    with pytest.raises(InvalidToken, match="too long"):
        make_verifier().verify(hs(claims(pad="x" * 5000)))
    # Just under the bounds is still verified as usual.
    assert make_verifier().verify(hs(claims(pad="x" * 4000), headers={"pad": "x" * 1400}))


# --- identity per issuer ----------------------------------------------------------------------------


def test_the_same_subject_at_two_issuers_is_two_principals(keys, fetches):
    verifier = make_verifier(fetches)
    dev = verifier.verify(hs(claims(sub="u1", org="o1")))
    idp = verifier.verify(
        jwt.encode(claims(iss=JWKS_ISS, sub="u1"), keys["rsa"], algorithm="RS256", headers={"kid": "rsa-1"})
    )
    assert (dev.principal_id, dev.owner_id) == ("dev|u1", "dev|u1")
    assert (idp.principal_id, idp.owner_id) == ("idp|u1", "idp|u1")
    # The owner claim is prefixed too: an org at one issuer is not the same-named org at another.
    org = make_verifier(fetches, dev={"ownerClaim": "org"}).verify(hs(claims(sub="u1", org="o1")))
    assert (org.principal_id, org.owner_id) == ("dev|u1", "dev|o1")


def test_a_single_issuer_may_keep_bare_subjects():
    verifier = JwtVerifier(parse_issuers(json.dumps([{"issuer": DEV_ISS, "audience": AUD, "secret": SECRET}])))
    assert verifier.verify(hs(claims(sub="u1"))).principal_id == "u1"
    prefixed = [{"issuer": DEV_ISS, "audience": AUD, "secret": SECRET, "principalPrefix": "acme|"}]
    assert JwtVerifier(parse_issuers(json.dumps(prefixed))).verify(hs(claims(sub="u1"))).owner_id == "acme|u1"


@pytest.mark.parametrize(
    ("prefixes", "message"),
    [
        ((None, None), "distinct non-empty principalPrefix"),
        (("a|", None), "distinct non-empty principalPrefix"),
        (("a|", ""), "distinct non-empty principalPrefix"),
        (("a|", "a|"), "distinct principalPrefix"),
        (("a", "ab"), "none the start of another"),  # "a"+"bx" == "ab"+"x"
    ],
)
def test_several_issuers_need_distinct_non_empty_prefixes(prefixes, message):
    issuers = [
        {"issuer": iss, "audience": AUD, "secret": SECRET} | ({"principalPrefix": p} if p is not None else {})
        for iss, p in zip(("https://a.example/", "https://b.example/"), prefixes, strict=True)
    ]
    with pytest.raises(AuthConfigError, match=message):
        parse_issuers(json.dumps(issuers))


@pytest.mark.parametrize("prefix", [7, None, "key_", "check:x", "a\nb", "x" * 65])
def test_unusable_principal_prefixes_are_refused(prefix):
    with pytest.raises(AuthConfigError, match="principalPrefix"):
        parse_issuer({"issuer": "i", "audience": "a", "secret": SECRET, "principalPrefix": prefix})


@pytest.mark.parametrize(
    ("extra", "dev"),
    [
        ({"sub": "key_AAAAAAAAAAAAAAAAAAAA"}, {}),
        ({"sub": "check:someone"}, {}),
        ({"sub": "u1", "org": "key_AAAAAAAAAAAAAAAAAAAA"}, {"ownerClaim": "org"}),
        ({"sub": "u1", "org": "check:x"}, {"ownerClaim": "org"}),
        ({"uid": "_abc"}, {"principalClaim": "uid", "principalPrefix": "key"}),
    ],
)
def test_a_jwt_can_never_take_an_api_key_or_check_subject(extra, dev):
    # With one bare issuer (the dev setup) or a prefix that completes a reserved namespace.
    config = {"issuer": DEV_ISS, "audience": AUD, "secret": SECRET} | dev
    verifier = JwtVerifier(parse_issuers(json.dumps([config])))
    with pytest.raises(InvalidToken, match="reserved namespace"):
        verifier.verify(hs(claims(**extra)))


@pytest.mark.parametrize(
    ("extra", "dev"),
    [
        # A lone surrogate (JSON "\\ud800"): no DynamoDB key or Redis key can hold it, so every
        # rate-limit check of this principal would fail on this side of Redis.
        ({"sub": "evil-\ud800"}, {}),
        ({"sub": "u1", "org": "org-\udfff"}, {"ownerClaim": "org"}),
        # Longer than an owner id may be: OWNER#<ownerId> is a DynamoDB key (2048 bytes at most).
        ({"sub": "u" * 1100}, {}),
        ({"sub": "\u00e9" * 600}, {}),
        ({"sub": "u1", "org": "o" * 1100}, {"ownerClaim": "org"}),
    ],
)
def test_a_principal_or_owner_id_no_store_can_hold_is_refused(extra, dev):
    config = {"issuer": DEV_ISS, "audience": AUD, "secret": SECRET} | dev
    verifier = JwtVerifier(parse_issuers(json.dumps([config])))
    with pytest.raises(InvalidToken, match="principal or owner id"):
        verifier.verify(hs(claims(**extra)))


def test_an_email_subject_behind_a_prefix_is_a_principal():
    email = "a" * 64 + "@" + "b" * 189 + ".io"  # the longest address RFC 5321 allows
    principal = make_verifier().verify(hs(claims(sub=email)))
    assert principal.principal_id == DEV_PREFIX + email


# --- scopes, tier, owner ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"scope": "keys:read  metrics:read"}, {"keys:read", "metrics:read"}),
        ({"scp": ["keys:read", "keys:write"]}, {"keys:read", "keys:write"}),
        ({"scp": "keys:read keys:write"}, {"keys:read", "keys:write"}),
        ({"permissions": ["metrics:read"]}, {"metrics:read"}),
        ({"scope": "keys:read", "permissions": ["admin"]}, {"keys:read", "admin"}),
        ({"scp": [1, None, "keys:read"]}, {"keys:read"}),
        ({}, set()),
    ],
)
def test_scopes_come_from_each_claim_form(extra, expected):
    assert make_verifier().verify(hs(claims(**extra))).scopes == expected


def test_tier_defaults_to_free_and_unknown_tiers_fall_back_to_free():
    assert make_verifier().verify(hs(claims())).tier == "free"
    assert make_verifier().verify(hs(claims(tier="platinum"))).tier == "free"
    assert make_verifier().verify(hs(claims(tier="enterprise"))).tier == "enterprise"


def test_tier_scope_principal_and_owner_claims_are_configurable():
    verifier = make_verifier(
        dev={"tierClaim": "plan", "scopeClaims": ["roles"], "principalClaim": "uid", "ownerClaim": "org_id"}
    )
    principal = verifier.verify(
        hs(claims(plan="professional", roles=["keys:read"], uid="u-9", org_id="org-7", scope="admin"))
    )
    assert (principal.tier, principal.scopes, principal.principal_id, principal.owner_id) == (
        "professional",
        {"keys:read"},
        "dev|u-9",
        "dev|org-7",
    )
    # No org claim: the principal owns its own things.
    assert verifier.verify(hs(claims(uid="u-9"))).owner_id == "dev|u-9"


# --- issuer configuration ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"issuer": "i", "audience": "a", "algorithms": ["HS256", "RS256"], "secret": SECRET}, "HS256 only"),
        ({"issuer": "i", "audience": "a", "algorithms": ["none"], "secret": SECRET}, "HS256 only"),
        ({"issuer": "i", "audience": "a", "algorithms": ["HS256"], "jwksUrl": "https://x/j"}, "only"),
        ({"issuer": "i", "audience": "a", "algorithms": ["none"], "jwksUrl": "https://x/j"}, "only"),
        ({"issuer": "i", "audience": "a", "secret": SECRET, "jwksUrl": "https://x/j"}, "exactly one"),
        ({"issuer": "i", "audience": "a"}, "exactly one"),
        ({"issuer": "i", "audience": "a", "secret": "short"}, "32 bytes"),
        ({"issuer": "i", "audience": "a", "jwksUrl": "http://idp.example.com/j"}, "https"),
        ({"issuer": "i", "audience": "a", "secret": SECRET, "jwksURL": "x"}, "unknown field"),
        ({"issuer": "", "audience": "a", "secret": SECRET}, "issuer"),
        ({"issuer": "i", "secret": SECRET}, "audience"),
    ],
)
def test_unsafe_issuer_configurations_are_refused(raw, message):
    with pytest.raises(AuthConfigError, match=message):
        parse_issuer(raw)


def test_issuer_list_parsing():
    assert parse_issuers("") == []
    assert parse_issuers("[]") == []
    with pytest.raises(AuthConfigError):
        parse_issuers("{not json")
    with pytest.raises(AuthConfigError):
        parse_issuers('{"issuer": "x"}')
    one = {"issuer": "i", "audience": "a", "secret": SECRET}
    with pytest.raises(AuthConfigError, match="twice"):
        parse_issuers(json.dumps([one, one]))
    local = parse_issuer({"issuer": "i", "audience": "a", "jwksUrl": "http://127.0.0.1:9000/jwks"})
    assert local.algorithms == {"RS256"}


# --- verified-token cache ----------------------------------------------------------------------


def test_a_verified_token_is_served_from_cache_until_it_expires():
    now = time.time()
    clock_now = [now]
    verifier = JwtVerifier(
        parse_issuers(json.dumps([{"issuer": DEV_ISS, "audience": AUD, "secret": SECRET}])),
        clock=lambda: clock_now[0],
    )
    token = hs(claims(exp=int(now) + 100))
    first = verifier.verify(token)
    calls = []

    def refuse(tok):
        calls.append(tok)
        raise InvalidToken("re-verified")

    verifier._verify = refuse
    assert verifier.verify(token) is first  # a hit: no signature check
    assert calls == []
    clock_now[0] = now + 100 + 31  # past exp + leeway: the hit no longer counts
    with pytest.raises(InvalidToken, match="re-verified"):
        verifier.verify(token)
    # A different token (say, tampered) is never answered from another token's entry.
    with pytest.raises(InvalidToken):
        verifier.verify(token[:-2] + "AA")


def test_the_verified_cache_can_be_turned_off():
    verifier = JwtVerifier(
        parse_issuers(json.dumps([{"issuer": DEV_ISS, "audience": AUD, "secret": SECRET}])),
        verified_cache_seconds=0,
    )
    token = hs(claims())
    verifier.verify(token)
    verifier._verify = lambda tok: (_ for _ in ()).throw(InvalidToken("re-verified"))
    with pytest.raises(InvalidToken, match="re-verified"):
        verifier.verify(token)


# Whitespace of every kind (ASCII controls, Unicode spaces and separators) and the other characters
# RFC 6749 §3.3 leaves out of a scope token ('"', '\\', anything not printable ASCII).
NOT_IN_A_SCOPE_TOKEN = ["\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\u00a0", "\u1680", "\u2003",
                        "\u2028", "\u2029", "\u202f", "\u3000", "\ufeff", '"', "\\", "\x00", "\x7f", "é"]  # fmt: skip


@pytest.mark.parametrize("separator", NOT_IN_A_SCOPE_TOKEN)
@pytest.mark.parametrize("claim", ["scp", "permissions"])
def test_a_scope_array_entry_with_whitespace_or_a_foreign_character_refuses_the_token(claim, separator):
    # Before: "keys:read\tadmin" reached the handler, whose split() found "admin" in it.
    with pytest.raises(InvalidToken, match="scope"):
        make_verifier().verify(hs(claims(**{claim: ["keys:read", f"keys:read{separator}admin"]})))


@pytest.mark.parametrize("separator", NOT_IN_A_SCOPE_TOKEN)
@pytest.mark.parametrize("claim", ["scope", "scp"])
def test_a_scope_string_is_split_on_ascii_spaces_only_and_anything_else_refuses_the_token(claim, separator):
    with pytest.raises(InvalidToken, match="scope"):
        make_verifier().verify(hs(claims(**{claim: f"metrics:read keys:read{separator}admin"})))


def test_an_array_entry_with_a_plain_space_refuses_the_token_rather_than_becoming_two_scopes():
    with pytest.raises(InvalidToken, match="scope"):
        make_verifier().verify(hs(claims(scp=["keys:read admin"])))


def test_repeated_leading_and_trailing_ascii_spaces_in_a_scope_string_are_only_separators():
    verifier = make_verifier()
    assert verifier.verify(hs(claims(scope=" keys:read   metrics:read "))).scopes == {"keys:read", "metrics:read"}
    # Every character RFC 6749 allows in a scope token passes through unchanged.
    token = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"\\')
    assert verifier.verify(hs(claims(scope=token))).scopes == {token}
