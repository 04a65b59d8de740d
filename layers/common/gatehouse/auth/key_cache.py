"""A small in-process TTL cache of API-key lookups, keyed by key hash, bounded in size (LRU)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final, Generic, TypeVar

V = TypeVar("V")

_MISSING: Final = object()


class TtlCache(Generic[V]):
    """Positive entries live `ttl` seconds, negative ones (value None) `negative_ttl`.

    Negative entries are cached briefly so that a client hammering an unknown but well-formed
    key costs one read per `negative_ttl`, not one per request; short, so that a key created
    a moment ago starts working quickly. The size bound keeps a flood of random keys from
    growing memory: the least recently used entry goes first.
    """

    def __init__(
        self,
        ttl: float,
        negative_ttl: float,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._negative_ttl = negative_ttl
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, V | None]] = OrderedDict()
        # Lambda runs one request at a time, but the local stack may call from threads.
        self._lock = threading.Lock()

    def get(self, key: str) -> V | object | None:
        """The cached value (None for a cached miss), or `MISSING` when nothing fresh is cached."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return _MISSING
            expires, value = entry
            if self._clock() >= expires:
                del self._entries[key]
                return _MISSING
            self._entries.move_to_end(key)
            return value

    def put(self, key: str, value: V | None) -> None:
        ttl = self._ttl if value is not None else self._negative_ttl
        if ttl <= 0:
            return
        with self._lock:
            self._entries[key] = (self._clock() + ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


MISSING: Final = _MISSING
