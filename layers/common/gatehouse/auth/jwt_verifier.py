"""JWT verification against configured issuers (RFC 8725): allow-listed algorithms, no key confusion.

The unverified `iss` only selects which issuer's configuration applies; everything is then
verified with that issuer's key and algorithm allow-list, never with anything the token says.
An HS256 secret is accepted only for HS256 (development issuers), and a JWKS issuer accepts
only asymmetric algorithms, so an RSA public key can never be abused as an HMAC secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import jwt
from jwt.exceptions import PyJWTError

from gatehouse.auth.exceptions import AuthConfigError, InvalidToken
from gatehouse.auth.jwks import ASYMMETRIC_ALGORITHMS, JwksCache, is_fetchable_jwks_url
from gatehouse.principal import (
    DEFAULT_TIER,
    MAX_TOKEN_LENGTH,
    RESERVED_ID_PREFIXES,
    TIERS,
    Principal,
    is_reserved_id,
    is_storable_id,
)
from gatehouse.scopes import is_scope_token
from gatehouse.ttl_cache import TtlCache

LEEWAY_SECONDS: Final = 30
# Bounds on the two unverified segments, checked before any decoding: real headers are well under
# a few hundred bytes and claims under a few KiB, and a bound keeps a hostile one cheap to refuse.
MAX_HEADER_SEGMENT_LENGTH: Final = 2048
MAX_PAYLOAD_SEGMENT_LENGTH: Final = 6144
MAX_PRINCIPAL_PREFIX_LENGTH: Final = 64
MIN_HMAC_SECRET_BYTES: Final = 32  # RFC 7518 §3.2: a key at least as long as the hash
DEFAULT_SCOPE_CLAIMS: Final = ("scope", "scp", "permissions")

_CONFIG_FIELDS: Final = frozenset(
    {
        "issuer",
        "audience",
        "algorithms",
        "secret",
        "jwksUrl",
        "requiredTyp",
        "tierClaim",
        "scopeClaims",
        "principalClaim",
        "ownerClaim",
        "principalPrefix",
    }
)


@dataclass(frozen=True, slots=True)
class IssuerConfig:
    issuer: str
    audience: tuple[str, ...]
    algorithms: frozenset[str]
    secret: str | None = None
    jwks_url: str | None = None
    required_typ: str | None = None
    tier_claim: str = "tier"
    scope_claims: tuple[str, ...] = DEFAULT_SCOPE_CLAIMS
    principal_claim: str = "sub"
    owner_claim: str = "sub"
    # Put before both the principal id and the owner id, so the same `sub` at two issuers
    # names two identities (keys, rate-limit buckets). Required (and distinct) with 2+ issuers.
    principal_prefix: str = ""


def _normalise_typ(typ: str) -> str:
    # RFC 8725 §3.11 / RFC 9068: "at+jwt" and "application/at+jwt" name the same type.
    typ = typ.strip().lower()
    return typ.removeprefix("application/")


def _string_list(value: Any, name: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise AuthConfigError(f"JWT_ISSUERS: {name} must be a non-empty string or list of strings")
    return tuple(value)


def _check_jwks_url(url: str) -> str:
    # The rule the fetch applies too: plain http only towards the local machine (a local IdP).
    if is_fetchable_jwks_url(url):
        return url
    raise AuthConfigError("JWT_ISSUERS: jwksUrl must be https (http only for localhost)")


def _principal_prefix(prefix: Any, issuer: str) -> str:
    if not isinstance(prefix, str) or len(prefix) > MAX_PRINCIPAL_PREFIX_LENGTH or not prefix.isprintable():
        raise AuthConfigError(
            f"JWT_ISSUERS: {issuer}: principalPrefix must be a string of at most "
            f"{MAX_PRINCIPAL_PREFIX_LENGTH} printable characters"
        )
    if is_reserved_id(prefix):
        raise AuthConfigError(
            f"JWT_ISSUERS: {issuer}: principalPrefix must not start with a reserved namespace "
            f"{list(RESERVED_ID_PREFIXES)}"
        )
    return prefix


def parse_issuer(raw: Any) -> IssuerConfig:
    """One issuer from its JSON form, refusing any combination that would allow key confusion."""
    if not isinstance(raw, dict):
        raise AuthConfigError("JWT_ISSUERS: each issuer must be an object")
    unknown = set(raw) - _CONFIG_FIELDS
    if unknown:
        # Strict, so a typo like "jwksURL" fails loudly instead of silently weakening a check.
        raise AuthConfigError(f"JWT_ISSUERS: unknown field(s) {sorted(unknown)}")
    issuer = raw.get("issuer")
    if not isinstance(issuer, str) or not issuer:
        raise AuthConfigError("JWT_ISSUERS: issuer must be a non-empty string")
    secret, jwks_url = raw.get("secret"), raw.get("jwksUrl")
    if (secret is None) == (jwks_url is None):
        raise AuthConfigError(f"JWT_ISSUERS: {issuer}: set exactly one of secret and jwksUrl")
    if secret is not None:
        if not isinstance(secret, str) or len(secret.encode()) < MIN_HMAC_SECRET_BYTES:
            raise AuthConfigError(f"JWT_ISSUERS: {issuer}: secret must be at least 32 bytes")
        algorithms = frozenset(_string_list(raw.get("algorithms", ["HS256"]), "algorithms"))
        if algorithms != {"HS256"}:
            raise AuthConfigError(f"JWT_ISSUERS: {issuer}: a secret issuer allows HS256 only")
    else:
        if not isinstance(jwks_url, str):
            raise AuthConfigError(f"JWT_ISSUERS: {issuer}: jwksUrl must be a string")
        _check_jwks_url(jwks_url)
        algorithms = frozenset(_string_list(raw.get("algorithms", ["RS256"]), "algorithms"))
        if not algorithms <= ASYMMETRIC_ALGORITHMS:
            raise AuthConfigError(f"JWT_ISSUERS: {issuer}: a JWKS issuer allows only {sorted(ASYMMETRIC_ALGORITHMS)}")
    typ = raw.get("requiredTyp")
    if typ is not None and (not isinstance(typ, str) or not typ):
        raise AuthConfigError(f"JWT_ISSUERS: {issuer}: requiredTyp must be a non-empty string")
    return IssuerConfig(
        issuer=issuer,
        audience=_string_list(raw.get("audience"), "audience"),
        algorithms=algorithms,
        secret=secret,
        jwks_url=jwks_url,
        required_typ=_normalise_typ(typ) if typ else None,
        tier_claim=_string_list(raw.get("tierClaim", "tier"), "tierClaim")[0],
        scope_claims=_string_list(raw.get("scopeClaims", list(DEFAULT_SCOPE_CLAIMS)), "scopeClaims"),
        principal_claim=_string_list(raw.get("principalClaim", "sub"), "principalClaim")[0],
        owner_claim=_string_list(raw.get("ownerClaim", "sub"), "ownerClaim")[0],
        principal_prefix=_principal_prefix(raw.get("principalPrefix", ""), issuer),
    )


def parse_issuers(text: str) -> list[IssuerConfig]:
    """JWT_ISSUERS (a JSON list) -> issuer configurations; any error is an AuthConfigError."""
    try:
        raw = json.loads(text or "[]")
    except json.JSONDecodeError:
        raise AuthConfigError("JWT_ISSUERS is not valid JSON") from None
    if not isinstance(raw, list):
        raise AuthConfigError("JWT_ISSUERS must be a JSON list")
    issuers = [parse_issuer(item) for item in raw]
    names = [i.issuer for i in issuers]
    if len(set(names)) != len(names):
        raise AuthConfigError("JWT_ISSUERS: an issuer is listed twice")
    if len(issuers) > 1:
        _check_prefixes(issuers)
    return issuers


def _check_prefixes(issuers: list[IssuerConfig]) -> None:
    """With several issuers, every one needs its own principalPrefix, none a prefix of another.

    Otherwise `sub=u1` at one issuer would be the same principal (same keys, same rate-limit
    bucket) as `sub=u1` at another. Prefix-free rather than merely distinct, because with
    "a" and "ab" the subject "bx" at the first issuer and "x" at the second would both be "abx".
    """
    unprefixed = [i.issuer for i in issuers if not i.principal_prefix]
    if unprefixed:
        raise AuthConfigError(
            "JWT_ISSUERS: with more than one issuer every issuer needs a distinct non-empty "
            f'principalPrefix (such as "acme|"); missing for {unprefixed}'
        )
    for a in issuers:
        for b in issuers:
            if a is not b and b.principal_prefix.startswith(a.principal_prefix):
                raise AuthConfigError(
                    "JWT_ISSUERS: with more than one issuer every issuer needs a distinct principalPrefix, "
                    f"none the start of another; {a.issuer!r} and {b.issuer!r} clash"
                )


def scopes_from_claims(claims: dict[str, Any], scope_claims: tuple[str, ...]) -> frozenset[str]:
    """Union of every configured scope claim: a space-separated string or a list of strings.

    A string is split on ASCII spaces only; a list entry is one scope, never split. Anything that
    is not then an RFC 6749 scope token (a tab, a newline, a no-break or em space, '"', '\\', any
    non-ASCII character) refuses the whole token (InvalidToken): dropping it would silently narrow
    what the IdP granted, and keeping it would let a later split on whitespace widen it.
    Non-string list entries and empty strings grant nothing and are skipped.
    """
    scopes: set[str] = set()
    for name in scope_claims:
        value = claims.get(name)
        if isinstance(value, str):
            entries = value.split(" ")
        elif isinstance(value, list):
            entries = [v for v in value if isinstance(v, str)]
        else:
            continue
        for entry in entries:
            if not entry:
                continue
            if not is_scope_token(entry):
                raise InvalidToken("scope claim entry is not an RFC 6749 scope token", claim=name[:64])
            scopes.add(entry)
    return frozenset(scopes)


def tier_from_claims(claims: dict[str, Any], tier_claim: str) -> str:
    # An unknown tier falls back to the least one: a typo at the IdP must never grant more.
    tier = claims.get(tier_claim)
    return tier if isinstance(tier, str) and tier in TIERS else DEFAULT_TIER


def _b64_json(segment: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def _unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims, unverified: only to choose the issuer, its allow-list and its key.

    Parsed here in one pass (pyjwt's unverified helpers cost ~50 us for the two). Nothing
    read here is trusted: pyjwt re-parses and verifies the token with the chosen key and
    `algorithms=[alg]`, so any disagreement between the two parsers can only refuse.
    """
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken("malformed JWT")
    if len(parts[0]) > MAX_HEADER_SEGMENT_LENGTH or len(parts[1]) > MAX_PAYLOAD_SEGMENT_LENGTH:
        raise InvalidToken("malformed JWT (segment too long)")
    try:
        header, claims = _b64_json(parts[0]), _b64_json(parts[1])
    # JSONDecodeError and UnicodeDecodeError are ValueErrors; deeply nested JSON ("[[[[...") is
    # a RecursionError in the decoder. Every one of them is a refusal, never a crash (500).
    except (ValueError, binascii.Error, RecursionError):
        raise InvalidToken("malformed JWT") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise InvalidToken("malformed JWT")
    return header, claims


@dataclass
class _Issuer:
    config: IssuerConfig
    jwks: JwksCache | None = None
    audience: list[str] = field(default_factory=list)


class JwtVerifier:
    """Verifies bearer JWTs for the configured issuers and turns them into Principals."""

    def __init__(
        self,
        issuers: list[IssuerConfig],
        *,
        jwks_factory: Callable[[str], JwksCache] = JwksCache,
        verified_cache_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._issuers = {
            c.issuer: _Issuer(c, jwks_factory(c.jwks_url) if c.jwks_url else None, list(c.audience)) for c in issuers
        }
        # Tokens already verified, by SHA-256 of the token (the token itself is not kept), so a
        # client re-presenting its token costs a hash and a lookup instead of a signature
        # check - what matters when AUTHORIZER_CACHE_TTL is 0. `exp` is re-checked on every
        # hit; the bound is that a key withdrawn from a JWKS stops working up to this late.
        self._verified: TtlCache[tuple[Principal, float]] = TtlCache(
            verified_cache_seconds, 0, max_entries=4096, clock=clock
        )
        self._clock = clock
        # enforce_minimum_key_length turns pyjwt's short-key warning into a refusal.
        self._jwt = jwt.PyJWT(options={"enforce_minimum_key_length": True})

    def verify(self, token: str) -> Principal:
        """A Principal for a valid token; InvalidToken (with a log-only reason) otherwise."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("token too long")
        digest = hashlib.sha256(token.encode()).hexdigest()
        hit = self._verified.get(digest)
        if isinstance(hit, tuple) and self._clock() < hit[1] + LEEWAY_SECONDS:
            return hit[0]
        verified = self._verify(token)
        self._verified.put(digest, verified)
        return verified[0]

    def _verify(self, token: str) -> tuple[Principal, float]:
        header, unverified = _unverified_parts(token)
        iss = unverified.get("iss")
        kid = header.get("kid")
        log = {"iss": iss[:128] if isinstance(iss, str) else "", "kid": kid[:64] if isinstance(kid, str) else ""}
        issuer = self._issuers.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise InvalidToken("unknown issuer", **log)
        config = issuer.config
        alg = header.get("alg")
        # The allow-list decides before any key is chosen; "none" is never in an allow-list.
        if not isinstance(alg, str) or alg not in config.algorithms:
            raise InvalidToken("algorithm not allowed for issuer", alg=str(alg)[:16], **log)
        if config.required_typ is not None:
            typ = header.get("typ")
            if not isinstance(typ, str) or _normalise_typ(typ) != config.required_typ:
                raise InvalidToken("wrong typ", **log)
        if issuer.jwks is not None:
            key: Any = issuer.jwks.get_key(kid if isinstance(kid, str) else "", alg)
        else:
            key = config.secret
        try:
            claims = self._jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=issuer.audience,
                issuer=config.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except PyJWTError as exc:
            raise InvalidToken(f"JWT refused: {type(exc).__name__}", **log) from None
        except (ValueError, RecursionError) as exc:  # anything pyjwt's own parsing lets through
            raise InvalidToken(f"JWT refused: {type(exc).__name__}", **log) from None
        return self._principal(claims, config, log), float(claims["exp"])

    @staticmethod
    def _principal(claims: dict[str, Any], config: IssuerConfig, log: dict[str, str]) -> Principal:
        principal_id = claims.get(config.principal_claim)
        if not isinstance(principal_id, str) or not principal_id:
            raise InvalidToken("no principal claim", **log)
        owner_id = claims.get(config.owner_claim)
        # No owner claim (say, a user outside any org): the principal owns its own things.
        if not isinstance(owner_id, str) or not owner_id:
            owner_id = principal_id
        principal_id = config.principal_prefix + principal_id
        owner_id = config.principal_prefix + owner_id
        # A JWT must never alias an API key's id or the check API's subjects (shared key
        # ownership, shared rate-limit buckets): those namespaces are not a JWT's to claim.
        if is_reserved_id(principal_id) or is_reserved_id(owner_id):
            raise InvalidToken("principal or owner id in a reserved namespace", **log)
        # Too long for a key, or not UTF-8: refused here rather than a 500 (or an open limiter
        # breaker) wherever the id is first written.
        if not is_storable_id(principal_id) or not is_storable_id(owner_id):
            raise InvalidToken("principal or owner id that no store can hold", **log)
        try:
            scopes = scopes_from_claims(claims, config.scope_claims)
        except InvalidToken as refused:
            raise InvalidToken(refused.reason, **log, **refused.log_fields) from None
        return Principal(
            principal_id=principal_id,
            owner_id=owner_id,
            auth_type="jwt",
            tier=tier_from_claims(claims, config.tier_claim),
            scopes=scopes,
        )
