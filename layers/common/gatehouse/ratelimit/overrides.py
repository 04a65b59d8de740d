"""Per-subject overrides (custom limits, boost, emergency cap, block), applied as a pure function."""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, cast

from pydantic import Field, field_validator, model_validator

from gatehouse.models import RequestTime
from gatehouse.ratelimit.policies import MAX_LIMIT, Policy, Window, Windows, _FrozenModel, max_gcra_burst
from gatehouse.times import epoch_to_datetime
from gatehouse.ttl_cache import MISSING, TtlCache

logger = logging.getLogger(__name__)

# A block without an expiry still tells clients to come back: an hour is long enough to stop a
# retry storm and short enough that lifting the block takes effect without human help.
BLOCK_RETRY_AFTER_SECONDS = 3600
MAX_BLOCK_RETRY_AFTER_SECONDS = 86_400
_EPOCH_SECONDS = re.compile(r"-?\d+(\.\d+)?")


class OverrideSettings(_FrozenModel):
    """What an operator sets for a subject (the body of PUT …/overrides/{subject}). Times accept
    ISO 8601 or epoch seconds; a naive ISO time is read as UTC; either must fall within the years
    1-9999 in UTC. Precedence: block > emergency > custom limits (then boost)."""

    # Replace the windows of the tier policies (route-group windows such as credentials stay).
    limits: Windows | None = None
    # Multiply tier limits (and bursts) until boost_expires_at: a launch day, a migration.
    boost: float | None = Field(default=None, gt=0, le=1000)
    boost_expires_at: RequestTime | None = None
    # A hard cap that replaces every window of the subject's own, tier and group alike (a budget
    # shared by its owner's keys, such as credentials, still applies).
    emergency: Windows | None = None
    # Deny everything (429) until expires_at, or until the override is deleted.
    blocked: bool = False
    # The whole override lapses at this time (None: until deleted).
    expires_at: RequestTime | None = None
    reason: str | None = Field(default=None, max_length=500)

    @field_validator("boost_expires_at", "expires_at", mode="before")
    @classmethod
    def _naive_is_utc(cls, value: object) -> object:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return epoch_to_datetime(value)
        if isinstance(value, str) and _EPOCH_SECONDS.fullmatch(value.strip()):
            # Seconds, as for a number (pydantic would read a large one as milliseconds).
            return epoch_to_datetime(float(value))
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    @model_validator(mode="after")
    def _boost_needs_expiry(self) -> OverrideSettings:
        # A boost is temporary by definition; a permanent change is what `limits` is for.
        if self.boost is not None and self.boost_expires_at is None:
            raise ValueError("boost needs boost_expires_at")
        return self

    def active(self, now: float) -> bool:
        return self.expires_at is None or self.expires_at.timestamp() > now


class Override(OverrideSettings):
    """The settings of one subject, as stored and applied."""

    subject: str = Field(min_length=1, max_length=1024)


@dataclass(frozen=True, slots=True)
class Blocked:
    """apply_override's answer for a blocked subject: deny without asking Redis."""

    retry_after: int


def apply_override(policies: list[Policy], override: Override | None, now: float) -> list[Policy] | Blocked:
    """The policies a request of `override.subject` is actually checked against at `now`
    (epoch seconds). Pure: no I/O, no clock of its own."""
    if override is None or not override.active(now):
        return policies
    closed = any(p.failure_mode == "closed" for p in policies)
    if override.blocked:
        if override.expires_at is None:
            return Blocked(BLOCK_RETRY_AFTER_SECONDS)
        left = math.ceil(override.expires_at.timestamp() - now)
        return Blocked(max(1, min(left, MAX_BLOCK_RETRY_AFTER_SECONDS)))
    if override.emergency is not None:
        cap = Policy(
            name="emergency",
            windows=override.emergency,
            failure_mode="closed" if closed else "open",
            kind="group",
        )
        # The owner's shared budget (credentials) is not the subject's to lift, however loose the cap.
        return [cap, *(p for p in policies if p.charged_to == "owner")]
    result = list(policies)
    if override.limits is not None:
        tiers = [p for p in result if p.kind == "tier"]
        custom = Policy(
            name="override",
            windows=override.limits,
            failure_mode="closed" if any(p.failure_mode == "closed" for p in tiers) else "open",
        )
        result = [custom, *(p for p in result if p.kind != "tier")]
    if (
        override.boost is not None
        and override.boost_expires_at is not None
        and override.boost_expires_at.timestamp() > now
    ):
        result = [_boosted(p, override.boost) if p.kind == "tier" else p for p in result]
    return result


def _boosted(policy: Policy, factor: float) -> Policy:
    def scale(n: int) -> int:
        return min(MAX_LIMIT, max(1, math.floor(n * factor)))

    def boosted(window: Window) -> Window:
        limit = scale(window.limit)
        burst = None
        if window.burst is not None:
            # Rounding the limit down can stretch the interval: keep the burst within what
            # validation allows for the boosted rate, so a boost never outgrows the GCRA state.
            burst = min(scale(window.burst), max_gcra_burst(limit, window.period_seconds))
        return window.model_copy(update={"limit": limit, "burst": burst})

    return policy.model_copy(update={"windows": tuple(boosted(w) for w in policy.windows)})


class OverrideSource(Protocol):
    """Where overrides are read (DynamoDB in production, a dict in tests)."""

    def get(self, subject: str) -> Override | None: ...


class OverrideStore(OverrideSource, Protocol):
    """Where operators write overrides: put answers whether it created one, delete whether one was there."""

    def put(self, override: Override) -> bool: ...

    def delete(self, subject: str) -> bool: ...


class NoOverrides:
    """An OverrideSource with nothing in it."""

    def get(self, subject: str) -> Override | None:
        return None


class InMemoryOverrides:
    """A dict-backed OverrideSource for tests and local runs."""

    def __init__(self, *overrides: Override) -> None:
        self.items: dict[str, Override] = {o.subject: o for o in overrides}
        self.reads = 0

    def get(self, subject: str) -> Override | None:
        self.reads += 1
        return self.items.get(subject)

    def put(self, override: Override) -> bool:
        created = override.subject not in self.items
        self.items[override.subject] = override
        return created

    def delete(self, subject: str) -> bool:
        return self.items.pop(subject, None) is not None


class CachedOverrideSource:
    """Remembers answers (absent ones too) for `ttl_seconds`, so a hot subject costs no read.

    If the source fails, the last known answer is served (or none): overrides must never be the
    reason a request fails."""

    def __init__(
        self,
        source: OverrideSource,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 10_000,
    ) -> None:
        self.source = source
        self._cache: TtlCache[Override] = TtlCache(ttl_seconds, max_entries=max_entries, clock=clock)

    def get(self, subject: str) -> Override | None:
        hit = self._cache.get(subject)
        if hit is not MISSING:
            return cast("Override | None", hit)
        try:
            value = self.source.get(subject)
        except Exception:  # any store failure degrades to the last known answer
            logger.warning("override source failed; using the cached answer", exc_info=True)
            stale = self._cache.stale(subject)
            return None if stale is MISSING else cast("Override | None", stale)
        self._cache.put(subject, value)
        return value

    def invalidate(self, subject: str | None = None) -> None:
        """Forget one subject (after this instance wrote it) or everything."""
        if subject is None:
            self._cache.clear()
        else:
            self._cache.pop(subject)
