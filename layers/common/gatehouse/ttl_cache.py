"""A small in-process TTL cache, bounded in size (LRU): API-key lookups, verified JWTs, overrides.

Standard library only, so the lean authorizer can use it too.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final, Generic, TypeVar

V = TypeVar("V")

MISSING: Final = object()
"""What `get` answers when nothing fresh is cached (None is a cached miss)."""


class TtlCache(Generic[V]):
    """Positive entries live `ttl` seconds, negative ones (value None) `negative_ttl`.

    Negative entries are cached briefly so that a client hammering an unknown key costs one
    read per `negative_ttl`, not one per request. Expired entries stay until they are replaced
    or evicted, so a caller whose source fails can still serve the last known answer (`stale`).
    The size bound keeps a flood of random keys from growing memory: the least recently used
    entry goes first.
    """

    def __init__(
        self,
        ttl: float,
        negative_ttl: float | None = None,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._negative_ttl = ttl if negative_ttl is None else negative_ttl
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, V | None]] = OrderedDict()
        # Lambda runs one request at a time, but the local stack and the probes use threads.
        self._lock = threading.Lock()

    def get(self, key: str) -> V | object | None:
        """The cached value (None for a cached miss), or `MISSING` when nothing fresh is cached."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or self._clock() >= entry[0]:
                return MISSING
            self._entries.move_to_end(key)
            return entry[1]

    def stale(self, key: str) -> V | object | None:
        """The last value cached for `key`, fresh or not, or `MISSING`."""
        with self._lock:
            entry = self._entries.get(key)
            return MISSING if entry is None else entry[1]

    def put(self, key: str, value: V | None) -> None:
        ttl = self._ttl if value is not None else self._negative_ttl
        if ttl <= 0:  # a TTL of 0 turns the cache off
            return
        with self._lock:
            self._entries[key] = (self._clock() + ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def pop(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
