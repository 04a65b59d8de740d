"""The API-key use cases behind /v1/keys: issue, list, get, rotate with grace, revoke.

The HTTP routes call these functions with the caller's Principal. Rules enforced here, so
that no route can forget them: a principal never grants scopes it does not hold, never sets
a tier or an ownerId unless admin, only ever sees its owner's keys (another owner's key is
404, exactly like a missing one), cannot rotate a key into a secret with more scopes
than it holds itself nor of a tier it could not have set, and an expiring API key never mints
(by create or rotate) a key that outlives it - admin keys included - so a temporary or leaked
key cannot make itself permanent. An API key that creates or rotates is read again first: a
revoked, rotated-out or expired key mints nothing even while API Gateway still caches its allow.
One owner has at most `max_keys_per_owner` active keys (docs/data-model.md: the owner's count).
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from gatehouse.errors import AuthenticationError, AuthorizationError, ConflictError, NotFoundError, ValidationError
from gatehouse.keys import api_key_format
from gatehouse.keys.records import ACTIVE, KeyCapReached, KeyRecord, KeyStore
from gatehouse.keys.views import ApiKeyPage, ApiKeyView
from gatehouse.principal import RESERVED_ID_PREFIXES, TIERS, Principal, is_reserved_id
from gatehouse.scopes import ADMIN, ALL_SCOPES, has_scope
from gatehouse.times import from_rfc3339, to_rfc3339

DEFAULT_GRACE_SECONDS = 86400
MAX_GRACE_SECONDS = 30 * 86400
MAX_NAME_LENGTH = 100
MAX_OWNER_ID_LENGTH = 256
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
KEY_ID_RANDOM_LENGTH = 20
DEFAULT_MAX_KEYS_PER_OWNER = 100


def _invalid(field: str, message: str) -> ValidationError:
    return ValidationError(f"{field}: {message}", details=[{"field": field, "message": message}])


def _forbidden(field: str, message: str) -> AuthorizationError:
    return AuthorizationError(f"{field}: {message}", details=[{"field": field, "message": message}])


def _is_admin(caller: Principal) -> bool:
    return ADMIN in caller.scopes


def _capped(expires_at: str | None, cap: int | None) -> str | None:
    """`expires_at` (RFC 3339 or None for never), no later than `cap` (epoch seconds) when given."""
    if cap is None:
        return expires_at
    if expires_at is None or from_rfc3339(expires_at) > cap:
        return to_rfc3339(cap)
    return expires_at


class KeysService:
    """The key domain over a KeyStore; time and ids are injectable for tests."""

    def __init__(
        self,
        store: KeyStore,
        *,
        environment: str,
        pepper: str = "",
        clock: Callable[[], float] = time.time,
        max_keys_per_owner: int = DEFAULT_MAX_KEYS_PER_OWNER,
    ) -> None:
        self._store = store
        self._environment = environment
        self._pepper = pepper
        self._clock = clock
        self.max_keys_per_owner = max_keys_per_owner

    # --- commands ---------------------------------------------------------------------------

    def create_key(
        self,
        caller: Principal,
        name: str,
        scopes: Iterable[str],
        *,
        tier: str | None = None,
        expires_at: datetime | str | None = None,
        owner_id: str | None = None,
    ) -> tuple[ApiKeyView, str]:
        """A new key: its public view, and the secret to show once.

        A caller that is itself an expiring API key cannot mint a key that outlives it, admin or
        not: a requested `expires_at` later than the caller's expiry (or its grace end, once
        rotated), or none at all, is capped to it, silently rather than with a 403, and the view
        returned (the 201 body) shows the effective `expiresAt`. A JWT caller has no such limit:
        that is the intended way to obtain a long-lived key.
        """
        at = self._clock()
        now = int(at)
        caller_key = self._live_caller_key(caller, at)
        name = self._check_name(name)
        wanted = self._check_scopes(scopes)
        expires = _capped(self._check_expiry(expires_at, now), caller_key.usable_until() if caller_key else None)
        if tier is not None and tier not in TIERS:
            raise _invalid("tier", f"must be one of {', '.join(TIERS)}")
        if owner_id is not None and (not isinstance(owner_id, str) or not 0 < len(owner_id) <= MAX_OWNER_ID_LENGTH):
            raise _invalid("ownerId", f"must be 1 to {MAX_OWNER_ID_LENGTH} characters")
        if owner_id is not None and is_reserved_id(owner_id):
            # As for a JWT's: an owner "check:S" would share the check API's counters of S.
            raise _invalid("ownerId", f"must not start with {' or '.join(RESERVED_ID_PREFIXES)}")
        # Escalation rules (403). Passing one's own tier/owner changes nothing and is allowed.
        not_held = sorted(s for s in wanted if not has_scope(caller.scopes, s))
        if not_held:
            raise _forbidden("scopes", f"cannot grant scopes the caller does not hold: {' '.join(not_held)}")
        if tier is not None and tier != caller.tier and not _is_admin(caller):
            raise _forbidden("tier", "only admin can set a key's tier")
        if owner_id is not None and owner_id != caller.owner_id and not _is_admin(caller):
            raise _forbidden("ownerId", "only admin can create a key for another owner")
        record, secret_key = self._new_record(
            name=name,
            owner_id=owner_id or caller.owner_id,
            scopes=wanted,
            tier=tier or caller.tier,
            expires_at=expires,
            now=now,
        )
        try:
            self._store.create(record, max_active=self.max_keys_per_owner)
        except KeyCapReached:
            cap = self.max_keys_per_owner
            raise ConflictError(
                "The owner has reached its limit of active keys.",
                details=[
                    {
                        "field": "ownerId",
                        "message": f"the owner already has {cap} active keys, the most allowed; revoke one first",
                    }
                ],
            ) from None
        return ApiKeyView.from_record(record), secret_key

    def rotate_key(
        self, caller: Principal, key_id: str, grace_period_seconds: int = DEFAULT_GRACE_SECONDS
    ) -> tuple[ApiKeyView, str]:
        """A new key with the same owner, scopes, tier and expiry; the old one works until grace ends.

        As in create_key, an expiring API-key caller cannot obtain a secret that outlives it:
        rotating a key that expires later (or never) gives a new key capped to the caller's
        expiry, shown as `expiresAt` in the answer. The grace ends no sooner than asked: it counts
        from the next whole second.
        """
        if (
            isinstance(grace_period_seconds, bool)
            or not isinstance(grace_period_seconds, int)
            or not 0 <= grace_period_seconds <= MAX_GRACE_SECONDS
        ):
            raise _invalid("gracePeriodSeconds", f"must be an integer from 0 to {MAX_GRACE_SECONDS}")
        at = self._clock()
        caller_key = self._live_caller_key(caller, at)
        # A key rotating itself: the read that proved it alive is the one to rotate.
        old = self._owned(caller, key_id, caller_key if caller_key and caller_key.id == key_id else None)
        # Rotation hands out a fresh secret: a principal that could not create this key
        # (scopes it does not hold, a tier it may not set) must not obtain one by rotating it either.
        not_held = sorted(s for s in old.scopes if not has_scope(caller.scopes, s))
        if not_held:
            raise _forbidden("keyId", f"the key has scopes the caller does not hold: {' '.join(not_held)}")
        if old.tier != caller.tier and not _is_admin(caller):
            raise _forbidden("tier", f"only admin can rotate a key whose tier ({old.tier}) is not the caller's")
        now = int(at)
        new, secret_key = self._new_record(
            name=old.name,
            owner_id=old.owner_id,
            scopes=old.scopes,
            tier=old.tier,
            expires_at=_capped(old.expires_at, caller_key.usable_until() if caller_key else None),
            now=now,
            rotated_from=old.id,
        )
        # ConflictError when the key is no longer active (revoked, rotated) - also under a race.
        self._store.rotate(old, new, to_rfc3339(math.ceil(at) + grace_period_seconds))
        return ApiKeyView.from_record(new), secret_key

    def revoke_key(self, caller: Principal, key_id: str) -> ApiKeyView:
        """Revoke (idempotent: revoking a revoked key answers it unchanged, so DELETE can be retried).

        Like minting, revoking re-reads the calling key: a revoked or expired key revokes nothing
        while API Gateway still caches its allow, and a rotated-out key (a leaked one its owner
        replaced) can revoke only itself, never the key that replaced it."""
        at = self._clock()
        itself = caller.auth_type == "apiKey" and caller.key_id == key_id
        caller_key = self._live_caller_key(caller, at, may_retire_itself=itself)
        record = self._owned(caller, key_id, caller_key if itself else None)
        if record.status == "revoked":
            return ApiKeyView.from_record(record)
        return ApiKeyView.from_record(self._store.revoke(record, to_rfc3339(int(self._clock()))))

    # --- queries ----------------------------------------------------------------------------

    def get_key(self, caller: Principal, key_id: str) -> ApiKeyView:
        return ApiKeyView.from_record(self._owned(caller, key_id))

    def list_keys(self, caller: Principal, limit: int = DEFAULT_LIMIT, cursor: str | None = None) -> ApiKeyPage:
        """The caller's owner's keys, newest first (every key for admin); an opaque cursor pages on."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise _invalid("limit", f"must be an integer from 1 to {MAX_LIMIT}")
        if _is_admin(caller):
            page = self._store.list_all(limit, cursor or None)
        else:
            page = self._store.list_by_owner(caller.owner_id, limit, cursor or None)
        return ApiKeyPage(items=[ApiKeyView.from_record(r) for r in page.items], next_cursor=page.next_cursor)

    # --- helpers ----------------------------------------------------------------------------

    def _live_caller_key(self, caller: Principal, now: float, *, may_retire_itself: bool = False) -> KeyRecord | None:
        """The calling API key's record, read now (one GetItem); None for a JWT caller.

        API Gateway may still be serving a cached allow for a key that has since been revoked,
        rotated out or expired: such a key is refused with 401 before it can change a credential.
        A rotated key inside its grace still authenticates elsewhere, but mints nothing; with
        `may_retire_itself` it may still act on itself (revoke itself early).
        """
        if caller.auth_type != "apiKey":
            return None
        record = self._store.get(caller.key_id) if caller.key_id else None
        usable = record is not None and (record.accepts(now) if may_retire_itself else record.may_mint(now))
        if record is None or not usable:
            raise AuthenticationError("The calling API key is no longer valid.")
        return record

    def _owned(self, caller: Principal, key_id: str, known: KeyRecord | None = None) -> KeyRecord:
        if known is not None:
            record: KeyRecord | None = known
        else:
            record = self._store.get(key_id) if isinstance(key_id, str) and 0 < len(key_id) <= 64 else None
        # Another owner's key answers exactly like a missing one (docs/reference.md: 404, not 403).
        if record is None or (record.owner_id != caller.owner_id and not _is_admin(caller)):
            raise NotFoundError("No such key.")
        return record

    def _new_record(
        self,
        *,
        name: str,
        owner_id: str,
        scopes: Iterable[str],
        tier: str,
        expires_at: str | None,
        now: int,
        rotated_from: str | None = None,
    ) -> tuple[KeyRecord, str]:
        secret_key = api_key_format.generate(self._environment)
        key_id = "key_" + "".join(secrets.choice(api_key_format.BASE62) for _ in range(KEY_ID_RANDOM_LENGTH))
        record = KeyRecord(
            id=key_id,
            name=name,
            prefix=api_key_format.prefix(secret_key),
            hash=api_key_format.hash_key(secret_key, self._pepper),
            owner_id=owner_id,
            scopes=tuple(sorted(set(scopes))),
            tier=tier,
            status=ACTIVE,
            created_at=to_rfc3339(now),
            expires_at=expires_at,
            rotated_from=rotated_from,
        )
        return record, secret_key

    @staticmethod
    def _check_name(name: str) -> str:
        if not isinstance(name, str) or not 0 < len(name.strip()) <= MAX_NAME_LENGTH:
            raise _invalid("name", f"must be 1 to {MAX_NAME_LENGTH} characters")
        return name.strip()

    @staticmethod
    def _check_scopes(scopes: Iterable[str]) -> frozenset[str]:
        if isinstance(scopes, str) or not all(isinstance(s, str) for s in scopes):
            raise _invalid("scopes", "must be a list of scope names")
        wanted = frozenset(scopes)
        unknown = sorted(wanted - ALL_SCOPES)
        if unknown:
            raise _invalid("scopes", f"unknown scopes: {' '.join(unknown)}")
        return wanted

    @staticmethod
    def _check_expiry(expires_at: datetime | str | None, now: int) -> str | None:
        if expires_at is None:
            return None
        if isinstance(expires_at, str):
            try:
                expires_at = datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
            except ValueError:
                raise _invalid("expiresAt", "must be an RFC 3339 timestamp") from None
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)  # a naive time is read as UTC
        epoch = int(expires_at.timestamp())
        if epoch <= now:
            raise _invalid("expiresAt", "must be in the future")
        return to_rfc3339(epoch)
