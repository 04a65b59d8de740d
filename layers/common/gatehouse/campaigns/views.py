"""Campaigns as answers: a campaign, a page of them, its lifecycle, an engagement (camelCase, RFC 3339 UTC)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import ConfigDict

from gatehouse.campaigns.records import (
    CALLBACK_DELIVERED,
    CALLBACK_FAILED,
    CallbackLogEntry,
    Campaign,
    Counters,
    StateLogEntry,
)
from gatehouse.models import ApiModel, Timestamp
from gatehouse.timers.records import PENDING as TIMER_PENDING
from gatehouse.timers.records import Timer, TimerLogEntry
from gatehouse.timers.views import TimerView


def _at(epoch_seconds: float | None) -> datetime | None:
    return None if epoch_seconds is None else datetime.fromtimestamp(int(epoch_seconds), UTC)


class _View(ApiModel):
    model_config = ConfigDict(frozen=True)

    def to_public(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True)


class CampaignView(_View):
    id: str
    owner_id: str
    name: str
    status: str
    start_time: Timestamp
    end_time: Timestamp
    target_engagements: int | None = None
    auto_close: bool
    metadata: dict[str, Any] | None = None
    callback_url: str | None = None
    reminders: list[Timestamp]
    created_at: Timestamp
    updated_at: Timestamp
    started_at: Timestamp | None = None
    completed_at: Timestamp | None = None
    completed_by: str | None = None
    cancelled_at: Timestamp | None = None
    cancel_reason: str | None = None

    @classmethod
    def of(cls, campaign: Campaign) -> CampaignView:
        return cls(
            id=campaign.campaign_id,
            owner_id=campaign.owner_id,
            name=campaign.name,
            status=campaign.status,
            start_time=_at(campaign.start_time),  # type: ignore[arg-type]
            end_time=_at(campaign.end_time),  # type: ignore[arg-type]
            target_engagements=campaign.target_engagements,
            auto_close=campaign.auto_close,
            metadata=campaign.metadata,
            callback_url=campaign.callback_url,
            reminders=[_at(r) for r in campaign.reminders],  # type: ignore[misc]
            created_at=_at(campaign.created_at),  # type: ignore[arg-type]
            updated_at=_at(campaign.updated_at),  # type: ignore[arg-type]
            started_at=_at(campaign.started_at),
            completed_at=_at(campaign.completed_at),
            completed_by=campaign.completed_by,
            cancelled_at=_at(campaign.cancelled_at),
            cancel_reason=campaign.cancel_reason,
        )


class CreatedCampaignView(CampaignView):
    """The answer to a create: the campaign and the timers that drive it; with a callbackUrl, the
    callback secret, this once (docs/resilience.md#how-callbacks-are-wired)."""

    timers: list[TimerView]
    callback_secret: str | None = None

    @classmethod
    def with_timers(
        cls, campaign: Campaign, timers: Sequence[Timer], callback_secret: str | None = None
    ) -> CreatedCampaignView:
        return cls(
            **CampaignView.of(campaign).model_dump(),
            timers=[TimerView.of(t) for t in timers],
            callback_secret=callback_secret,
        )


class UpdatedCampaignView(CampaignView):
    """The answer to a PATCH: `callbackSecret` only when this change gave the campaign its first callbackUrl."""

    callback_secret: str | None = None


class CampaignPageView(_View):
    items: list[CampaignView]
    next_cursor: str | None = None


class StateChangeView(_View):
    at: Timestamp
    from_status: str | None
    to_status: str
    trigger: str
    actor: str
    timer_id: str | None = None
    reason: str | None = None

    @classmethod
    def of(cls, entry: StateLogEntry) -> StateChangeView:
        return cls(
            at=datetime.fromtimestamp(entry.at_ms / 1000, UTC),
            from_status=entry.from_status,
            to_status=entry.to_status,
            trigger=entry.trigger,
            actor=entry.actor,
            timer_id=entry.timer_id,
            reason=entry.reason,
        )


class TimerSummaryView(_View):
    total: int
    pending: int
    completed: int
    failed: int
    details: list[TimerView]


class MetricsView(_View):
    total_engagements: int
    participants: int
    rewards_claimed: int
    last_updated: Timestamp | None = None


class NextEventView(_View):
    timer_id: str
    type: str
    scheduled_at: Timestamp
    time_until: int  # milliseconds from now (negative when overdue)


class CallbackEntryView(_View):
    event_id: str
    outcome: str  # callback.delivered | callback.failed
    at: Timestamp
    http_status: int | None = None
    error: str | None = None

    @classmethod
    def of(cls, entry: CallbackLogEntry) -> CallbackEntryView:
        return cls(
            event_id=entry.event_id,
            outcome=entry.outcome,
            at=datetime.fromtimestamp(entry.at_ms / 1000, UTC),
            http_status=entry.http_status,
            error=entry.error,
        )


class CallbacksView(_View):
    delivered: int
    failed: int
    last_error: str | None = None
    events: list[CallbackEntryView]

    @classmethod
    def of(cls, log: Sequence[CallbackLogEntry]) -> CallbacksView:
        failures = [e for e in log if e.outcome == CALLBACK_FAILED]
        return cls(
            delivered=sum(1 for e in log if e.outcome == CALLBACK_DELIVERED),
            failed=len(failures),
            last_error=failures[-1].error if failures else None,
            events=[CallbackEntryView.of(e) for e in log],
        )


class LifecycleView(_View):
    campaign: CampaignView
    timers: TimerSummaryView
    metrics: MetricsView
    state_history: list[StateChangeView]
    next_events: list[NextEventView]
    callbacks: CallbacksView

    @classmethod
    def of(
        cls,
        campaign: Campaign,
        counters: Counters,
        log: Sequence[StateLogEntry],
        timers: Sequence[Timer],
        timer_log: Sequence[TimerLogEntry],
        *,
        now: float,
        callback_log: Sequence[CallbackLogEntry] = (),
    ) -> LifecycleView:
        history: dict[str, list[TimerLogEntry]] = {}
        for entry in sorted(timer_log, key=lambda e: (e.timer_id, e.version)):
            history.setdefault(entry.timer_id, []).append(entry)
        pending = [t for t in timers if t.status == TIMER_PENDING]
        return cls(
            campaign=CampaignView.of(campaign),
            timers=TimerSummaryView(
                total=len(timers),
                pending=len(pending),
                completed=sum(1 for t in timers if t.status == "COMPLETED"),
                failed=sum(1 for t in timers if t.status == "FAILED"),
                details=[TimerView.of(t, history.get(t.timer_id, [])) for t in timers],
            ),
            metrics=MetricsView(
                total_engagements=counters.total_engagements,
                participants=counters.participants,
                rewards_claimed=counters.rewards_claimed,
                last_updated=_at(counters.last_updated or campaign.updated_at),
            ),
            state_history=[StateChangeView.of(e) for e in sorted(log, key=lambda e: e.seq)],
            next_events=[
                NextEventView(
                    timer_id=t.timer_id,
                    type=t.timer_type,
                    scheduled_at=_at(t.due_at),  # type: ignore[arg-type]
                    time_until=int(t.due_at * 1000 - now * 1000),
                )
                for t in sorted(pending, key=lambda t: (t.due_at, t.timer_id))[:5]
            ],
            callbacks=CallbacksView.of(callback_log),
        )


class EngagementView(_View):
    campaign_id: str
    user_id: str
    engagement_type: str
    duplicate: bool
    target_reached: bool
    campaign_status: str
    metrics: MetricsView
