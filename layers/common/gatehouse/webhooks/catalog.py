"""The intake's view of the sources: records opened (secrets decrypted) into signing keys, cached briefly.

Cached per instance for WEBHOOK_SOURCE_CACHE_SECONDS (docs/reference.md#configuration), misses
too, so a flood of deliveries to one source costs one read and one decryption per interval, and
a source that is disabled, deleted or rotated elsewhere takes effect within that interval.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from gatehouse.ttl_cache import MISSING, TtlCache
from gatehouse.webhooks.records import SecretSealer, SourceRecord, SourceStore
from gatehouse.webhooks.schemes.common import SigningKey
from gatehouse.webhooks.secret_rules import SecretRefused, signing_key

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ActiveSource:
    record: SourceRecord
    keys: tuple[tuple[SigningKey, int | None], ...]  # each key with the end of its grace, if any

    def keys_at(self, now: float) -> list[SigningKey]:
        return [key for key, expires in self.keys if expires is None or now < expires]


def open_secrets(record: SourceRecord, sealer: SecretSealer) -> list[str]:
    """The secret values of a record, in the order of its metadata."""
    values = json.loads(sealer.open(record.name, record.sealed_secrets))
    if not isinstance(values, list) or len(values) != len(record.secrets):
        raise ValueError("sealed secrets do not match their metadata")
    return [str(v) for v in values]


class SourceCatalog:
    def __init__(
        self,
        store: SourceStore,
        sealer: SecretSealer,
        ttl_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._sealer = sealer
        self._cache: TtlCache[ActiveSource] = TtlCache(ttl_seconds, clock=clock, max_entries=1000)

    def get(self, name: str) -> ActiveSource | None:
        cached = self._cache.get(name)
        if cached is not MISSING:
            return cached  # type: ignore[return-value]
        record = self._store.get(name)
        active = self._activate(record) if record is not None else None
        self._cache.put(name, active)
        return active

    def forget(self, name: str) -> None:
        self._cache.pop(name)

    def _activate(self, record: SourceRecord) -> ActiveSource:
        keys: list[tuple[SigningKey, int | None]] = []
        for meta, secret in zip(record.secrets, open_secrets(record, self._sealer), strict=True):
            try:
                keys.append((signing_key(record.scheme, secret), meta.expires_at))
            except SecretRefused:
                # Checked at registration; a stored one that no longer parses is skipped, not fatal.
                logger.error("a stored webhook secret is unusable", extra={"source": record.name})
        return ActiveSource(record, tuple(keys))
