"""Timers as records: their states and transitions, the rules of firing, and the ports they need.

A timer belongs to an owner (a kind and an id, e.g. campaign cmp_…) and lives in its owner's
partition; it knows nothing else about it. Firing is driven by a one-time Scheduler schedule per
*generation*: a move or a retry makes a new generation (and a new schedule), so a late delivery
of an old schedule finds its generation superseded and does nothing. `version` counts every
write; each write is conditioned on it and appends one state-log entry keyed by it
(docs/timers.md). Standard library only.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, Protocol

from gatehouse.errors import ValidationError
from gatehouse.events.records import LifecycleEvent
from gatehouse.times import to_rfc3339
from gatehouse.transactions import Transaction

PENDING: Final = "PENDING"
RUNNING: Final = "RUNNING"
COMPLETED: Final = "COMPLETED"
FAILED: Final = "FAILED"
CANCELLED: Final = "CANCELLED"
STATUSES: Final = (PENDING, RUNNING, COMPLETED, FAILED, CANCELLED)
OPEN: Final = frozenset({PENDING, RUNNING})  # on the due index: still to fire, or firing

# The due index is split over this many partitions (gsi2pk TIMER#DUE#<n>), n from a hash of the
# timer id: creating, firing and sweeping a million timers never leans on one partition
# (docs/timers.md, "A million pending timers"). Changing it needs a backfill of gsi2pk.
TIMER_SHARDS: Final = 16

TIMER_ID: Final = re.compile(r"^tmr_[0-9A-Za-z]{20}$")
OWNER_KIND: Final = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
OWNER_ID: Final = re.compile(r"^[0-9A-Za-z_-]{1,64}$")
TIMER_TYPE: Final = re.compile(r"^[A-Z][A-Z0-9_]{0,31}$")
_INDEX_KEY: Final = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ#tmr_[0-9A-Za-z]{20}$")
_BASE62: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
INDEX_MIN: Final = "0"  # sorts before every index key
INDEX_MAX: Final = "9999-12-31T23:59:59Z#~"  # sorts after every index key


def new_timer_id() -> str:
    return "tmr_" + "".join(secrets.choice(_BASE62) for _ in range(20))


def shard_of(timer_id: str) -> int:
    return zlib.crc32(timer_id.encode()) % TIMER_SHARDS


def owner_partition(owner_kind: str, owner_id: str) -> str:
    """The partition key of an owner's items: a timer lives beside what it belongs to ("CAMPAIGN#cmp_…")."""
    return f"{owner_kind.upper()}#{owner_id}"


def index_key(epoch_seconds: float, timer_id: str) -> str:
    """A timer's sort key on the due index: when it next needs attention, then its id."""
    return f"{to_rfc3339(epoch_seconds)}#{timer_id}"


def schedule_name(timer_id: str, generation: int) -> str:
    """Deterministic, so creating a generation's schedule twice is one schedule (64 characters at most)."""
    return f"{timer_id}-g{generation}"


@dataclass(frozen=True, slots=True)
class TimerSpec:
    """What a user of timers asks for."""

    owner_kind: str
    owner_id: str
    timer_type: str
    due_at: int  # epoch seconds
    max_retries: int


@dataclass(frozen=True, slots=True)
class Timer:
    timer_id: str
    owner_kind: str
    owner_id: str
    timer_type: str
    status: str
    scheduled_at: int  # epoch seconds: when it is meant to fire
    due_at: int  # when the next attempt is due: scheduled_at, or a retry's time
    generation: int  # the live schedule: a move or a retry makes a new one
    version: int  # every write bumps it and is conditioned on it
    max_retries: int
    created_at: int
    updated_at: int
    retry_count: int = 0
    executed_at_ms: int | None = None  # the last firing
    lateness_ms: int | None = None  # executed minus scheduled
    fired_by: str | None = None  # scheduler, sweep, dead-letter, api, process, recovery
    outcome: str | None = None  # what the owner's action did
    last_error: str | None = None
    attempt_id: str | None = None  # the claim of the firing in progress
    lease_until: int | None = None  # when a RUNNING claim may be taken over
    finished_at: int | None = None  # COMPLETED, FAILED or CANCELLED at
    cancel_reason: str | None = None

    @property
    def shard(self) -> int:
        return shard_of(self.timer_id)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def attention_at(self) -> int:
        """When the sweep should look: the due time of a PENDING timer, the lease end of a RUNNING one."""
        if self.status == RUNNING and self.lease_until is not None:
            return self.lease_until
        return self.due_at

    @property
    def index_key(self) -> str:
        return index_key(self.attention_at, self.timer_id)

    @property
    def schedule_name(self) -> str:
        return schedule_name(self.timer_id, self.generation)

    def evolve(self, now: float, **changes: Any) -> Timer:
        """The next version of this timer (every write goes through here)."""
        return replace(self, version=self.version + 1, updated_at=int(now), **changes)


@dataclass(frozen=True, slots=True)
class TimerLogEntry:
    """One transition of one timer, written in the same transaction as the transition."""

    timer_id: str
    version: int
    at_ms: int
    from_status: str | None
    to_status: str
    trigger: str
    actor: str
    generation: int
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Firing:
    """Who fires a timer: `source` is scheduler, sweep, dead-letter, api, process or recovery."""

    source: str
    actor: str

    @property
    def trigger(self) -> str:
        return f"fire.{self.source}"


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What an owner's action did when its timer fired, and the events that reports."""

    outcome: str
    events: tuple[LifecycleEvent, ...] = ()


class TimerAction(Protocol):
    """What firing a timer means to its owner (one per owner kind).

    It stages its writes on `tx`, conditioned on what it read; the timer's completion is staged
    on the same transaction, so the effect and the completion land together or not at all. A
    failed condition makes the runner call it again on fresh state; an exception is a failed
    attempt (retried with backoff up to the timer's max_retries).
    """

    def __call__(self, timer: Timer, tx: Transaction, firing: Firing, now: float) -> ActionResult: ...


@dataclass(frozen=True, slots=True)
class TimerDelivery:
    """The input of a timer's schedule, as the timer function receives it."""

    timer_id: str
    owner_kind: str
    owner_id: str
    generation: int
    execution_id: str | None = None

    def schedule_input(self) -> dict[str, Any]:
        return {
            "timerId": self.timer_id,
            "ownerKind": self.owner_kind,
            "ownerId": self.owner_id,
            "generation": self.generation,
            # Scheduler fills these in per attempt: logged, never used to dedupe (they change on a retry).
            "executionId": "<aws.scheduler.execution-id>",
            "attempt": "<aws.scheduler.attempt-number>",
        }

    @classmethod
    def for_timer(cls, timer: Timer) -> TimerDelivery:
        return cls(timer.timer_id, timer.owner_kind, timer.owner_id, timer.generation)

    @classmethod
    def parse(cls, event: object) -> TimerDelivery:
        """The delivery in a Scheduler event (or a dead-lettered one); ValueError when it is not one of ours."""
        if isinstance(event, str):
            try:
                event = json.loads(event)
            except ValueError:
                raise ValueError("not JSON") from None
        if not isinstance(event, Mapping):
            raise ValueError("not an object")
        timer_id, kind, owner, generation = (event.get(k) for k in ("timerId", "ownerKind", "ownerId", "generation"))
        if not isinstance(timer_id, str) or not TIMER_ID.match(timer_id):
            raise ValueError("timerId is missing or malformed")
        if not isinstance(kind, str) or not OWNER_KIND.match(kind):
            raise ValueError("ownerKind is missing or malformed")
        if not isinstance(owner, str) or not OWNER_ID.match(owner):
            raise ValueError("ownerId is missing or malformed")
        if isinstance(generation, bool) or not isinstance(generation, int) or not 1 <= generation < 1_000_000:
            raise ValueError("generation is missing or malformed")
        execution = event.get("executionId")
        return cls(timer_id, kind, owner, generation, execution if isinstance(execution, str) else None)


@dataclass(frozen=True, slots=True)
class IndexPage:
    timers: list[Timer]
    more: bool


class TimerStore(Protocol):
    """The timers' items: one per timer in its owner's partition, its log beside it, the due index."""

    def stage_write(self, tx: Transaction, before: Timer | None, after: Timer, entry: TimerLogEntry) -> None:
        """Write `after` if the stored timer is still `before` (absent when None), with its log entry."""
        ...

    def get(self, owner_kind: str, owner_id: str, timer_id: str) -> Timer | None: ...

    def list_for_owner(self, owner_kind: str, owner_id: str) -> list[Timer]: ...

    def log_for_owner(self, owner_kind: str, owner_id: str) -> list[TimerLogEntry]: ...

    def due_page(self, shard: int, after: str | None, upper: str, limit: int) -> IndexPage:
        """Open timers of one shard with `after` < index key <= `upper`, soonest first."""
        ...


class ScheduleGateway(Protocol):
    """One-time schedules, one per timer generation. Every call is idempotent."""

    def create(self, timer: Timer) -> None: ...

    def delete(self, timer_id: str, generation: int) -> None: ...

    def exists(self, timer: Timer) -> bool: ...


class ScheduleUnavailable(Exception):
    """Scheduler refused or did not answer (throttled, down): the sweep makes up for it."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    receipt: str
    body: str


class DeadLetters(Protocol):
    """Deliveries Scheduler gave up on (its dead-letter queue)."""

    def receive(self, limit: int) -> list[DeadLetter]: ...

    def delete(self, receipts: Sequence[str]) -> None: ...


# --- list cursors ---------------------------------------------------------------------------

_DONE: Final = "!"


@dataclass(frozen=True, slots=True)
class ShardCursor:
    """Where a merged walk over every shard of the due index stands: per shard, after which key (or done)."""

    kind: str
    bound: str  # the walk's upper index key, fixed at its first page so pages never shift
    positions: tuple[str | None, ...] = field(default_factory=lambda: (None,) * TIMER_SHARDS)

    def done(self, shard: int) -> bool:
        return self.positions[shard] == _DONE

    def after(self, shard: int) -> str | None:
        position = self.positions[shard]
        return None if position in (None, _DONE) else position

    @property
    def finished(self) -> bool:
        return all(p == _DONE for p in self.positions)

    def encode(self) -> str:
        raw = json.dumps({"k": self.kind, "b": self.bound, "p": list(self.positions)}, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()

    @classmethod
    def decode(cls, text: str, kind: str) -> ShardCursor:
        """Only a cursor this service wrote for this very list: anything else is a 400."""
        try:
            raw = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
            raise _invalid_cursor() from None
        if not isinstance(raw, dict) or set(raw) != {"k", "b", "p"} or raw["k"] != kind:
            raise _invalid_cursor()
        bound, positions = raw["b"], raw["p"]
        if not isinstance(bound, str) or not (_INDEX_KEY.match(bound) or bound == INDEX_MAX):
            raise _invalid_cursor()
        if not isinstance(positions, list) or len(positions) != TIMER_SHARDS:
            raise _invalid_cursor()
        for position in positions:
            if position is None or position == _DONE:
                continue
            if not isinstance(position, str) or not _INDEX_KEY.match(position) or position > bound:
                raise _invalid_cursor()
        return cls(kind, bound, tuple(positions))

    def advanced(self, shard: int, position: str | None, *, done: bool) -> ShardCursor:
        positions = list(self.positions)
        positions[shard] = _DONE if done else position
        return replace(self, positions=tuple(positions))


def _invalid_cursor() -> ValidationError:
    return ValidationError("The cursor is not valid.", details=[{"field": "cursor", "message": "invalid"}])


def merge_shard_pages(
    cursor: ShardCursor, pages: Mapping[int, IndexPage], limit: int
) -> tuple[list[Timer], ShardCursor | None]:
    """One globally ordered page from each shard's next page, and the cursor after it.

    A shard that has more than it returned bounds what may be taken from the others (its next
    key could be smaller than theirs), so pages come out in index order across shards.
    """
    horizon: str | None = None
    for page in pages.values():
        if page.more and page.timers:
            last = page.timers[-1].index_key
            horizon = last if horizon is None or last < horizon else horizon
    candidates = sorted(
        ((t.index_key, shard, t) for shard, page in pages.items() for t in page.timers),
        key=lambda row: row[0],
    )
    taken = [row for row in candidates if horizon is None or row[0] <= horizon][:limit]
    taken_by_shard: dict[int, list[str]] = {}
    for key, shard, _ in taken:
        taken_by_shard.setdefault(shard, []).append(key)
    after = cursor
    for shard, page in pages.items():
        keys = taken_by_shard.get(shard, [])
        everything_taken = len(keys) == len(page.timers)
        if not page.more and everything_taken:
            after = after.advanced(shard, None, done=True)
        elif keys:
            after = after.advanced(shard, keys[-1], done=False)
    return [t for _, _, t in taken], (None if after.finished else after)
