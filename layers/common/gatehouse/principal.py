"""Who is calling: the Principal the authorizer builds and the handlers read back from its context."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

from gatehouse.scopes import format_scopes, parse_scopes
from gatehouse.times import rfc3339

AuthType = Literal["jwt", "apiKey"]

TIERS: Final = ("free", "starter", "professional", "enterprise")
DEFAULT_TIER: Final = "free"
# Id namespaces that are not a JWT's to claim: API key ids ("key_...", an API key's principal
# id), the check API's subjects ("check:...") and the webhook intake's (source, client IP) pairs
# ("webhook:..."). A JWT principal or owner id starting with one of them would share that
# identity's keys or rate-limit bucket, so the verifier refuses it.
RESERVED_ID_PREFIXES: Final = ("key_", "check:", "webhook:")
# The longest bearer credential accepted (API Gateway caps a header at 10 KiB): the authorizer
# refuses a longer Authorization value and the JWT verifier a longer token, by this one bound.
MAX_TOKEN_LENGTH: Final = 8192


# The most UTF-8 bytes a principal or owner id may take: an owner id is part of DynamoDB keys
# (OWNER#<ownerId>, at most 2048 bytes), and an email address (254) behind an issuer's prefix fits.
MAX_ID_BYTES: Final = 1024


def is_reserved_id(value: str) -> bool:
    return value.startswith(RESERVED_ID_PREFIXES)


def is_storable_id(value: str) -> bool:
    """Whether `value` can name a principal or an owner: 1 to MAX_ID_BYTES bytes of UTF-8.

    A JSON string can carry a lone surrogate ("\\ud800"), which no UTF-8 store can hold: such an
    id would fail every DynamoDB write and every Redis key of its rate-limit checks.
    """
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        return False
    return 0 < size <= MAX_ID_BYTES


def _expiry_from_context(value: Any) -> str | None:
    """A context's `expiresAt` as canonical RFC 3339 UTC (`...Z`), or None when absent or empty.

    Absent is what contexts written before the field existed (and cached allows from them)
    carry, and means no expiry. A value that is there but not a timestamp is not one the
    authorizer wrote: ValueError, so the handler refuses rather than dropping a limit.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError("authorizer context has an invalid expiresAt")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("authorizer context has an invalid expiresAt") from None
    if parsed.tzinfo is None:
        raise ValueError("authorizer context has an invalid expiresAt")
    return rfc3339(parsed)


@dataclass(frozen=True, slots=True)
class Principal:
    principal_id: str
    owner_id: str
    auth_type: AuthType
    tier: str = DEFAULT_TIER
    scopes: frozenset[str] = field(default_factory=frozenset)
    key_id: str | None = None
    # When the credential stops authenticating, as RFC 3339 UTC ("2099-01-01T00:00:00Z"); None
    # when it never does. Set for API keys only (their expiry, or the end of a rotated key's
    # grace if sooner), so that a key can be kept from minting keys that outlive it. Always None
    # for a JWT: its `exp` is a session's lifetime, and a JWT principal minting a long-lived
    # API key is the intended way to get one.
    expires_at: str | None = None

    def to_context(self) -> dict[str, str]:
        """The authorizer's simple-response context: flat string values only.

        ValueError when a scope is not an RFC 6749 scope token: joined by spaces, "a<TAB>b" would
        come back from the context as two scopes. The authorizer refuses such credentials before.
        """
        return {
            "principalId": self.principal_id,
            "ownerId": self.owner_id,
            "authType": self.auth_type,
            "tier": self.tier,
            # Sorted so that equal scope sets give byte-equal contexts (stable logs, tests).
            "scopes": format_scopes(self.scopes),
            "keyId": self.key_id or "",
            "expiresAt": self.expires_at or "",
        }

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> Principal:
        """Rebuild the principal from `requestContext.authorizer.lambda` in a handler's event.

        Raises ValueError when the context is not one the authorizer wrote (a route with
        no authorizer, or a misconfigured template): a handler must then refuse, not guess.
        """
        principal_id = context.get("principalId")
        owner_id = context.get("ownerId")
        auth_type = context.get("authType")
        if not isinstance(principal_id, str) or not principal_id:
            raise ValueError("authorizer context has no principalId")
        if not isinstance(owner_id, str) or not owner_id:
            raise ValueError("authorizer context has no ownerId")
        if auth_type not in ("jwt", "apiKey"):
            raise ValueError("authorizer context has no valid authType")
        tier = context.get("tier")
        scopes = context.get("scopes")
        if scopes is None:
            scopes = ""
        if not isinstance(scopes, str):
            raise ValueError("authorizer context has invalid scopes")
        key_id = context.get("keyId") or None
        expires_at = _expiry_from_context(context.get("expiresAt"))
        return cls(
            principal_id=principal_id,
            owner_id=owner_id,
            auth_type=auth_type,
            tier=tier if tier in TIERS else DEFAULT_TIER,
            # Split on ASCII spaces only, refusing any other whitespace (ValueError), the mirror of
            # to_context: str.split() would make "keys:read<TAB>admin" two scopes, one of them admin.
            scopes=parse_scopes(scopes),
            key_id=str(key_id) if key_id else None,
            expires_at=expires_at,
        )
