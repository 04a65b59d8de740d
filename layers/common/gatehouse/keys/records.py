"""API keys as records: a key as its owner sees it, what the authorizer reads, the rule of which
keys authenticate, and the KeyStore port. Standard library only: the authorizer imports it.

Timestamps of a KeyRecord are RFC 3339 UTC strings (they sort as text); those of a
KeyHashRecord are epoch seconds (the authorizer's one read compares numbers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Protocol

from gatehouse.times import from_rfc3339

ACTIVE: Final = "active"
ROTATED: Final = "rotated"
REVOKED: Final = "revoked"


class KeyCapReached(Exception):
    """The owner already has as many active keys as it may (KeyStore.create's `max_active`)."""


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """An API key as the owner and operators see it (never the secret)."""

    id: str
    name: str
    prefix: str
    hash: str
    owner_id: str
    scopes: tuple[str, ...]
    tier: str
    status: str
    created_at: str
    expires_at: str | None = None
    revoked_at: str | None = None
    rotated_to: str | None = None
    rotated_from: str | None = None
    grace_until: str | None = None
    last_used_at: str | None = None

    def usable_until(self) -> int | None:
        """The epoch second this key stops authenticating for good (expiry, or a rotation's grace
        end if sooner); None when it never does. A revoked key's is irrelevant: it never does."""
        ends = [from_rfc3339(t) for t in (self.expires_at, self.grace_until if self.status == ROTATED else None) if t]
        return min(ends) if ends else None

    def may_mint(self, now: float) -> bool:
        """Whether this key may create or rotate a credential: active and unexpired only. A key
        rotated away still authenticates through its grace, but a key being retired (or a leaked
        one an owner rotated) must not hand out new secrets."""
        end = self.usable_until()
        return self.status == ACTIVE and (end is None or now < end)

    def accepts(self, now: float) -> bool:
        """The authorizer's rule (KeyHashRecord.accepts) on the key record itself."""
        if self.status not in (ACTIVE, ROTATED) or (self.status == ROTATED and not self.grace_until):
            return False
        end = self.usable_until()
        return end is None or now < end


@dataclass(frozen=True, slots=True)
class KeyHashRecord:
    """What the authorizer needs to accept or refuse a key, read in one GetItem."""

    key_id: str
    owner_id: str
    scopes: frozenset[str]
    tier: str
    status: str
    expires_at: int | None = None
    grace_until: int | None = None

    def accepts(self, now: float) -> bool:
        """Active and unexpired, or rotated away but still inside its grace period."""
        if self.expires_at is not None and now >= self.expires_at:
            return False
        if self.status == ACTIVE:
            return True
        return self.status == ROTATED and self.grace_until is not None and now < self.grace_until


@dataclass(frozen=True, slots=True)
class KeyPage:
    items: list[KeyRecord] = field(default_factory=list)
    next_cursor: str | None = None


class KeyStore(Protocol):
    """The port the key domain and the authorizer use; DynamoKeyStore is its one adapter."""

    def get_hash_record(self, key_hash: str) -> KeyHashRecord | None: ...

    def create(self, record: KeyRecord, max_active: int | None = None) -> None:
        """Write a new active key, counted among its owner's active keys; KeyCapReached when the
        owner already has `max_active` of them (None: no cap)."""
        ...

    def get(self, key_id: str) -> KeyRecord | None: ...

    def list_by_owner(self, owner_id: str, limit: int, cursor: str | None) -> KeyPage: ...

    def list_all(self, limit: int, cursor: str | None) -> KeyPage: ...

    def rotate(self, old: KeyRecord, new: KeyRecord, grace_until: str) -> None: ...

    def revoke(self, record: KeyRecord, revoked_at: str) -> KeyRecord: ...
