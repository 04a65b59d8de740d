"""Typed results of a rate-limit check: one WindowResult per window, one Decision per request."""

from __future__ import annotations

import math
from typing import NamedTuple

from gatehouse.ratelimit.policies import Policy, Window

# NamedTuples, not dataclasses: a check builds several of these per request, and tuple
# construction is several times cheaper than a frozen dataclass's __init__.


class ScopedWindow(NamedTuple):
    """A window together with the policy it came from (two policies may both have an "hour"), and,
    in a principal's check, the principal's owner: every counter of the check then lives in the
    owner's hash slot, and a window with `shared` set is the owner's own counter (docs/rate-limits.md)."""

    policy: str
    window: Window
    owner: str | None = None
    shared: bool = False
    # Which policy of the check the window came from: a policy's windows share one Redis key
    # (keys.py), and two policies of one name (the check API's ad-hoc windows, one each) do not.
    group: int = 0


def scoped_windows(policies: list[Policy], owner: str | None = None) -> list[ScopedWindow]:
    """The windows of `policies`; with `owner`, those of policies charged to the owner are shared."""
    if owner is None:
        return [ScopedWindow(p.name, w, None, False, g) for g, p in enumerate(policies) for w in p.windows]
    return [
        ScopedWindow(p.name, w, owner, p.charged_to == "owner", g) for g, p in enumerate(policies) for w in p.windows
    ]


class WindowResult(NamedTuple):
    """What one window said: `remaining` is after this request (or unchanged when denied)."""

    policy: str
    name: str
    algorithm: str
    limit: int
    period_seconds: int
    allowed: bool
    remaining: int
    reset_after_ms: int
    # 0 when allowed; -1 when the cost can never fit this window (cost above limit or burst).
    retry_after_ms: int

    @property
    def remaining_ratio(self) -> float:
        return self.remaining / self.limit

    @property
    def retry_after_seconds(self) -> int:
        # A cost that never fits is told to come back after a whole period, not "never".
        if self.retry_after_ms < 0:
            return self.period_seconds
        return math.ceil(self.retry_after_ms / 1000)


class Decision(NamedTuple):
    """The answer for one request. `now_ms` is the clock that decided (Redis TIME, or local)."""

    allowed: bool
    windows: list[WindowResult]
    cost: int
    now_ms: int
    degraded: bool = False  # decided by the in-process fallback because Redis was unavailable
    blocked: bool = False  # an override blocks the subject outright
    block_retry_after: int = 0  # seconds, for blocked decisions
    policies: tuple[str, ...] = ()

    @property
    def binding(self) -> WindowResult | None:
        """The window that speaks for the request: the one that denied it (longest wait), or
        else the one closest to its limit (lowest remaining ratio; the later reset on ties)."""
        if not self.windows:
            return None
        denied = [w for w in self.windows if not w.allowed]
        if denied:
            return max(denied, key=lambda w: w.retry_after_seconds)
        return min(self.windows, key=lambda w: (w.remaining_ratio, -w.reset_after_ms))

    @property
    def policy(self) -> str:
        """The name of the policy whose window binds (the first policy if there is none)."""
        binding = self.binding
        if binding is not None:
            return binding.policy
        return self.policies[0] if self.policies else ""

    @property
    def limit(self) -> int:
        binding = self.binding
        return binding.limit if binding else 0

    @property
    def remaining(self) -> int:
        binding = self.binding
        return binding.remaining if binding else 0

    @property
    def reset_at(self) -> int:
        """Epoch seconds at which the binding window's quota fully resets."""
        binding = self.binding
        reset_ms = binding.reset_after_ms if binding else 0
        return math.ceil((self.now_ms + reset_ms) / 1000)

    @property
    def retry_after(self) -> int | None:
        """Seconds until the request could be admitted (None when it was admitted)."""
        if self.allowed:
            return None
        if self.blocked:
            return self.block_retry_after
        return max([1, *(w.retry_after_seconds for w in self.windows if not w.allowed)])
