"""Campaigns as records: the lifecycle and its legal transitions, counters, the state log, the store port.

Standard library only. A campaign's items share its partition `CAMPAIGN#<id>` with its timers
(the timers area files them under their owner, kind "campaign"), so one query reads a lifecycle.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, Protocol

from gatehouse.transactions import Transaction

SCHEDULED: Final = "SCHEDULED"
RUNNING: Final = "RUNNING"
COMPLETED: Final = "COMPLETED"
CANCELLED: Final = "CANCELLED"
STATUSES: Final = (SCHEDULED, RUNNING, COMPLETED, CANCELLED)
TERMINAL: Final = frozenset({COMPLETED, CANCELLED})
_TRANSITIONS: Final = {SCHEDULED: frozenset({RUNNING, CANCELLED}), RUNNING: frozenset({COMPLETED, CANCELLED})}

OWNER_KIND: Final = "campaign"  # the kind of owner a campaign is to the timers area
START: Final = "START"
END: Final = "END"
REMINDER: Final = "REMINDER"
REWARD_CLAIMED: Final = "reward_claimed"  # the engagement type counted as rewardsClaimed

CAMPAIGN_ID: Final = re.compile(r"^cmp_[0-9A-Za-z]{8,40}$")
_BASE62: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def new_campaign_id() -> str:
    return "cmp_" + "".join(secrets.choice(_BASE62) for _ in range(20))


def can_transition(current: str, target: str) -> bool:
    return target in _TRANSITIONS.get(current, frozenset())


@dataclass(frozen=True, slots=True)
class Campaign:
    campaign_id: str
    owner_id: str
    name: str
    status: str
    start_time: int  # epoch seconds, UTC
    end_time: int
    auto_close: bool
    created_at: int
    updated_at: int
    created_by: str
    version: int  # every write bumps it and is conditioned on it; it also numbers the state log
    target_engagements: int | None = None
    metadata: dict[str, Any] | None = None
    callback_url: str | None = None  # stored and validated; deliveries arrive with the resilient client
    reminders: tuple[int, ...] = ()
    started_at: int | None = None
    completed_at: int | None = None
    cancelled_at: int | None = None
    cancel_reason: str | None = None
    completed_by: str | None = None  # the trigger that completed it: timer.END or target_reached
    # The callback secret, sealed (KMS envelope bound to the campaign id, base64): never in an answer.
    callback_secret_sealed: str | None = None

    def evolve(self, now: float, **changes: Any) -> Campaign:
        return replace(self, version=self.version + 1, updated_at=int(now), **changes)


@dataclass(frozen=True, slots=True)
class Counters:
    """Engagement counts, an item of their own so that counting never rewrites (or indexes) the campaign."""

    total_engagements: int = 0
    participants: int = 0
    rewards_claimed: int = 0
    last_updated: int | None = None
    # The count at which the next engagement reaches the target (target - 1), while it is not reached:
    # engagements below it take the uncontended path, the one that reaches it takes the exact one.
    close_threshold: int | None = None


def close_threshold(target: int | None) -> int | None:
    return None if target is None else target - 1


@dataclass(frozen=True, slots=True)
class StateLogEntry:
    """One transition of a campaign, written with it. `seq` is the campaign's version after the transition."""

    seq: int
    at_ms: int
    from_status: str | None
    to_status: str
    trigger: str  # api.create, timer.START, timer.END, api.cancel, target_reached, event.cancelled, …
    actor: str
    timer_id: str | None = None
    reason: str | None = None


CALLBACK_DELIVERED: Final = "callback.delivered"
CALLBACK_FAILED: Final = "callback.failed"


@dataclass(frozen=True, slots=True)
class CallbackLogEntry:
    """What became of the callback of one event: written once per event id (docs/resilience.md)."""

    event_id: str
    outcome: str  # callback.delivered | callback.failed
    at_ms: int
    http_status: int | None = None
    error: str | None = None
    deliveries: int | None = None


class SecretSealer(Protocol):
    """Seals a secret bound to a name (the campaign id): a blob copied onto another campaign does not open."""

    def seal(self, source: str, plaintext: bytes) -> bytes: ...

    def open(self, source: str, sealed: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Engagement:
    campaign_id: str
    user_id: str
    engagement_type: str
    at: int
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class CampaignPage:
    items: list[Campaign] = field(default_factory=list)
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class EngagementWrite:
    """How an engagement is counted: which items to create and what the counters condition on."""

    engagement: Engagement
    new_participant: bool
    # None: the uncontended path (only while below the threshold); an int: the exact count expected.
    expected_total: int | None


class CampaignStore(Protocol):
    """The campaign's items: the campaign, its counters, its state log, its engagements."""

    def stage_put(
        self, tx: Transaction, before: Campaign | None, after: Campaign, entries: Sequence[StateLogEntry] = ()
    ) -> None:
        """Write `after` if the stored campaign is still `before` (absent when None), with its log entries."""
        ...

    def stage_is_running(self, tx: Transaction, campaign: Campaign) -> None:
        """Check, within `tx`, that the campaign is RUNNING (nothing written)."""
        ...

    def stage_new_counters(self, tx: Transaction, campaign_id: str, threshold: int | None) -> None: ...

    def stage_threshold(self, tx: Transaction, campaign_id: str, threshold: int | None) -> None:
        """Set the close threshold, only while the count is still below it."""
        ...

    def stage_engagement(self, tx: Transaction, write: EngagementWrite, *, reached: bool) -> None:
        """Record one engagement and count it (`reached`: it is the one that reaches the target)."""
        ...

    def get(self, campaign_id: str) -> Campaign | None: ...

    def counters(self, campaign_id: str) -> Counters: ...

    def state_log(self, campaign_id: str) -> list[StateLogEntry]: ...

    def record_callback(self, campaign_id: str, entry: CallbackLogEntry) -> bool:
        """Write `entry` unless one for its event id exists (answers whether it was written)."""
        ...

    def callback_log(self, campaign_id: str) -> list[CallbackLogEntry]: ...

    def list_by_owner(self, owner_id: str, limit: int, cursor: str | None) -> CampaignPage: ...

    def list_all(self, limit: int, cursor: str | None) -> CampaignPage: ...
