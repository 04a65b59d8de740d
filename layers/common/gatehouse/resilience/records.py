"""The fleet breaker as records: its settings, states, admissions and transitions, and the ports it needs.

Standard library only. The model (a bucketed failure-rate window with minimum calls, slow calls as
failures, a failure streak, an open period, leased half-open permits, generations) and the Lua
contract that implements it are in docs/resilience.md.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, Literal, Protocol

# A breaker's name is a Redis hash tag ({name}) and a path parameter: no braces, no slashes. Long
# enough for any destination: a 253-character host name, or a bracketed IPv6 address, and a port.
NAME_PATTERN: Final = re.compile(r"^[A-Za-z0-9._:\[\]-]{1,300}$")


def valid_breaker_name(name: str) -> bool:
    return bool(NAME_PATTERN.fullmatch(name))


class FleetState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"
    ISOLATED = "isolated"  # opened by an operator; only a reset closes it


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """One breaker's settings (docs/resilience.md#the-model). Times are whole milliseconds.

    - the window: `window_ms` of history in `buckets` equal buckets (rounded down to whole
      milliseconds, at least 10 ms each); the breaker opens when the
      window holds at least `minimum_calls` outcomes and at least `failure_rate_percent` of them
      are failures (a call slower than `slow_call_ms` is a failure);
    - the streak: it also opens after `consecutive_failures` failures in a row (ordered by when
      the calls were admitted, so a late success of an older call does not break the streak);
      None means `minimum_calls`, 0 turns the streak off;
    - open: refuses every call for `open_ms`, then admits `half_open_permits` probes, each a
      lease of `probe_lease_ms` (longer than any call may take) that lapses if its holder dies;
    - `local_failures`: consecutive failures that open the in-process breaker standing in while
      Redis is unreachable;
    - `idle_ttl_ms`: state nobody writes for that long is forgotten (a closed breaker).
    """

    window_ms: int = 10_000
    buckets: int = 10
    minimum_calls: int = 10
    failure_rate_percent: int = 50
    slow_call_ms: int = 5_000
    open_ms: int = 30_000
    half_open_permits: int = 3
    probe_lease_ms: int = 15_000
    consecutive_failures: int | None = None
    local_failures: int = 5
    idle_ttl_ms: int = 86_400_000

    def __post_init__(self) -> None:
        checks = {
            "window_ms": 100 <= self.window_ms <= 3_600_000,
            "buckets": 1 <= self.buckets <= 60 and self.window_ms // self.buckets >= 10,
            "minimum_calls": 1 <= self.minimum_calls <= 100_000,
            "failure_rate_percent": 1 <= self.failure_rate_percent <= 100,
            "slow_call_ms": 1 <= self.slow_call_ms <= 3_600_000,
            "open_ms": 1 <= self.open_ms <= 86_400_000,
            "half_open_permits": 1 <= self.half_open_permits <= 1_000,
            "probe_lease_ms": 1 <= self.probe_lease_ms <= 3_600_000,
            "consecutive_failures": self.consecutive_failures is None or 0 <= self.consecutive_failures <= 100_000,
            "local_failures": 1 <= self.local_failures <= 1_000,
            "idle_ttl_ms": 60_000 <= self.idle_ttl_ms <= 30 * 86_400_000,
        }
        wrong = [name for name, ok in checks.items() if not ok]
        if wrong:
            raise ValueError(f"breaker setting(s) out of range: {', '.join(wrong)}")

    @property
    def bucket_ms(self) -> int:
        return self.window_ms // self.buckets

    @property
    def streak(self) -> int:
        return self.minimum_calls if self.consecutive_failures is None else self.consecutive_failures

    @property
    def probe_failures_to_reopen(self) -> int:
        """Failed probes that reopen a half-open breaker: the failure rate applied to the permits."""
        return max(1, -(-self.failure_rate_percent * self.half_open_permits // 100))


@dataclass(frozen=True, slots=True)
class Transition:
    """One change of a breaker's state, reported exactly once by the caller whose script made it."""

    name: str
    from_state: FleetState
    to_state: FleetState
    generation: int  # the new generation
    reason: str  # failure_rate, failure_streak, probes_failed, probes_passed, open_period_over, isolated, reset
    at_ms: int  # Redis time

    def to_json(self) -> dict[str, object]:
        return {
            "breaker": self.name,
            "fromState": self.from_state.value,
            "toState": self.to_state.value,
            "generation": self.generation,
            "reason": self.reason,
            "atMs": self.at_ms,
        }


Verdict = Literal["closed", "probe", "open", "half_open", "isolated"]


@dataclass(frozen=True, slots=True)
class Admission:
    """The store's answer to "may I call?": admitted as a closed call or a probe, or refused."""

    verdict: Verdict
    generation: int
    now_us: int  # Redis time of the decision: the call's admission time
    permit: int = 0  # the probe's lease id
    wait_ms: int = 0  # refused while open: time until probes are admitted
    transition: Transition | None = None

    @property
    def admitted(self) -> bool:
        return self.verdict in ("closed", "probe")


Recorded = Literal["counted", "stale_generation", "lease_lapsed"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the store did with a call's result. A result of an earlier generation, or of a probe
    whose lease lapsed, changes nothing."""

    recorded: Recorded
    generation: int
    transition: Transition | None = None


@dataclass(frozen=True, slots=True)
class BreakerSnapshot:
    """A breaker as operators see it (GET /v1/breakers)."""

    name: str
    state: FleetState
    generation: int
    calls: int  # outcomes in the current window (closed)
    failures: int
    probes_in_flight: int  # live leases (half-open)
    probes_passed: int
    probes_failed: int
    retry_after_ms: int  # open: until probes are admitted


@dataclass(frozen=True, slots=True)
class BreakerPage:
    items: list[BreakerSnapshot] = field(default_factory=list)
    next_cursor: str | None = None


class BreakerStoreUnavailable(Exception):
    """The shared store cannot decide now (unreachable, timed out, an outage reply). `timeout` says
    whether the caller already waited out a whole read timeout."""

    def __init__(self, reason: str, *, timeout: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.timeout = timeout


class BreakerStore(Protocol):
    """The shared state of every breaker (RedisBreakerStore): every decision and outcome atomic,
    on the store's clock. Raises BreakerStoreUnavailable when it cannot decide."""

    def acquire(self, name: str, config: BreakerConfig) -> Admission: ...

    def record(self, name: str, config: BreakerConfig, admission: Admission, *, success: bool) -> Outcome: ...

    def isolate(self, name: str, config: BreakerConfig) -> tuple[BreakerSnapshot, Transition | None]: ...

    def reset(self, name: str, config: BreakerConfig) -> tuple[BreakerSnapshot, Transition | None]: ...

    def snapshots(self, names: Sequence[str], config: BreakerConfig) -> list[BreakerSnapshot | None]:
        """Each name's breaker, None for one the store holds nothing of."""
        ...

    def names(self, limit: int, after: str | None) -> tuple[list[str], bool]:
        """Known breaker names in order, after `after`; True when more follow."""
        ...

    def is_known(self, name: str) -> bool:
        """Whether the fleet has used (or an operator isolated) this breaker."""
        ...


class TransitionSink(Protocol):
    """Where transitions are reported (the log and a metric, the event bus). Never raises."""

    def report(self, transition: Transition) -> None: ...
