"""API-key authentication: offline format check, in-process cache, then one GetItem on the hash."""

from __future__ import annotations

import time
from collections.abc import Callable

from gatehouse.auth.exceptions import InvalidToken
from gatehouse.keys import api_key_format
from gatehouse.keys.records import ROTATED, KeyHashRecord, KeyStore
from gatehouse.principal import DEFAULT_TIER, TIERS, Principal
from gatehouse.scopes import is_scope_token
from gatehouse.times import to_rfc3339
from gatehouse.ttl_cache import MISSING, TtlCache

NEGATIVE_TTL_CAP_SECONDS = 2.0


class ApiKeyAuthenticator:
    """Turns a presented API key into a Principal, or refuses it with InvalidToken."""

    def __init__(
        self,
        store: KeyStore,
        *,
        environment: str,
        pepper: str = "",
        cache_seconds: float = 10.0,
        cache: TtlCache[KeyHashRecord] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._environment = environment
        self._pepper = pepper
        if cache is None:
            cache = TtlCache(cache_seconds, min(cache_seconds, NEGATIVE_TTL_CAP_SECONDS))
        self._cache = cache
        self._clock = clock

    def authenticate(self, key: str) -> Principal:
        prefix = api_key_format.prefix(key) if key.isascii() else ""
        # Offline first: a mistyped or foreign key never costs a store read.
        if not api_key_format.validate_format(key, self._environment):
            raise InvalidToken("malformed API key", keyPrefix=prefix)
        key_hash = api_key_format.hash_key(key, self._pepper)
        record = self._cache.get(key_hash)
        if record is MISSING:
            record = self._store.get_hash_record(key_hash)
            self._cache.put(key_hash, record)
        # Unknown, revoked, expired and past-grace keys are refused alike; only the log says which.
        if record is None:
            raise InvalidToken("unknown API key", keyPrefix=prefix)
        assert isinstance(record, KeyHashRecord)
        # Checked on every use, not when cached, so a key expiring while cached stops at once.
        now = self._clock()
        if not record.accepts(now):
            expired = record.expires_at is not None and now >= record.expires_at
            why = "expired" if expired else record.status
            raise InvalidToken(f"API key not usable ({why})", keyPrefix=prefix, keyId=record.key_id)
        # Keys are created with scopes from a fixed set; a stored scope that is not one RFC 6749
        # token was not written by Gatehouse and could widen once joined into the context.
        if not all(is_scope_token(scope) for scope in record.scopes):
            raise InvalidToken("API key record has a scope that is not a scope token", keyPrefix=prefix,
                               keyId=record.key_id)  # fmt: skip
        return Principal(
            principal_id=record.key_id,
            owner_id=record.owner_id,
            auth_type="apiKey",
            tier=record.tier if record.tier in TIERS else DEFAULT_TIER,
            scopes=record.scopes,
            key_id=record.key_id,
            expires_at=_usable_until(record),
        )


def _usable_until(record: KeyHashRecord) -> str | None:
    """When the key stops authenticating: its expiry, or the end of its grace once rotated away.

    Carried to the handlers (Principal.expires_at) so the keys service can keep a temporary,
    or rotated-out, key from minting a key that outlives it.
    """
    ends = [record.expires_at]
    if record.status == ROTATED:
        ends.append(record.grace_until)
    known = [int(end) for end in ends if end is not None]
    return to_rfc3339(min(known)) if known else None
