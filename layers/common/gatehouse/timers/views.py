"""Timers as answers: a timer, its history, and the operators' reports (camelCase, RFC 3339 UTC)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import ConfigDict

from gatehouse.models import ApiModel, Timestamp
from gatehouse.timers.records import Timer, TimerLogEntry
from gatehouse.timers.service import RecoveryReport


def _at(epoch_seconds: float | None) -> datetime | None:
    return None if epoch_seconds is None else datetime.fromtimestamp(int(epoch_seconds), UTC)


class _View(ApiModel):
    model_config = ConfigDict(frozen=True)

    def to_public(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True)


class TimerOwnerView(_View):
    kind: str
    id: str


class TimerHistoryView(_View):
    at: Timestamp
    from_status: str | None
    to_status: str
    trigger: str
    actor: str
    generation: int
    detail: str | None = None

    @classmethod
    def of(cls, entry: TimerLogEntry) -> TimerHistoryView:
        return cls(
            at=datetime.fromtimestamp(entry.at_ms / 1000, UTC),
            from_status=entry.from_status,
            to_status=entry.to_status,
            trigger=entry.trigger,
            actor=entry.actor,
            generation=entry.generation,
            detail=entry.detail,
        )


class TimerView(_View):
    """A timer as its owner and operators see it."""

    timer_id: str
    type: str
    status: str
    owner: TimerOwnerView
    scheduled_at: Timestamp
    next_attempt_at: Timestamp | None = None
    executed_at: Timestamp | None = None
    lateness_ms: int | None = None
    fired_by: str | None = None
    outcome: str | None = None
    retry_count: int
    max_retries: int
    last_error: str | None = None
    generation: int
    finished_at: Timestamp | None = None
    cancel_reason: str | None = None
    created_at: Timestamp
    updated_at: Timestamp
    history: list[TimerHistoryView] | None = None

    @classmethod
    def of(cls, timer: Timer, history: Sequence[TimerLogEntry] | None = None) -> TimerView:
        retrying = timer.status == "PENDING" and timer.due_at != timer.scheduled_at
        return cls(
            timer_id=timer.timer_id,
            type=timer.timer_type,
            status=timer.status,
            owner=TimerOwnerView(kind=timer.owner_kind, id=timer.owner_id),
            scheduled_at=_at(timer.scheduled_at),  # type: ignore[arg-type]
            next_attempt_at=_at(timer.due_at) if retrying else None,
            executed_at=None
            if timer.executed_at_ms is None
            else datetime.fromtimestamp(timer.executed_at_ms / 1000, UTC),
            lateness_ms=timer.lateness_ms,
            fired_by=timer.fired_by,
            outcome=timer.outcome,
            retry_count=timer.retry_count,
            max_retries=timer.max_retries,
            last_error=timer.last_error,
            generation=timer.generation,
            finished_at=_at(timer.finished_at),
            cancel_reason=timer.cancel_reason,
            created_at=_at(timer.created_at),  # type: ignore[arg-type]
            updated_at=_at(timer.updated_at),  # type: ignore[arg-type]
            history=None if history is None else [TimerHistoryView.of(e) for e in history],
        )


class TimerPage(_View):
    items: list[TimerView]
    next_cursor: str | None = None

    @classmethod
    def of(cls, timers: Sequence[Timer], next_cursor: str | None) -> TimerPage:
        return cls(items=[TimerView.of(t) for t in timers], next_cursor=next_cursor)


class RecoveryView(_View):
    checked: int
    fired: int
    recreated: int
    events_published: int
    fired_timer_ids: list[str]
    next_cursor: str | None = None

    @classmethod
    def of(cls, report: RecoveryReport) -> RecoveryView:
        return cls(
            checked=report.checked,
            fired=report.fired,
            recreated=report.recreated,
            events_published=report.events_published,
            fired_timer_ids=report.fired_ids,
            next_cursor=report.next_cursor,
        )
