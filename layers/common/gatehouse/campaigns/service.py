"""The campaign use cases: create, read, change, cancel, engage; the timers' action; events from the bus.

Every transition is one transaction that writes the campaign (conditioned on its version), its
state-log entry, the timers it creates, moves or cancels, and the events it publishes (the
outbox). A transaction that finds the campaign changed under it is decided again on fresh state,
a few times, before the caller gets 409 (docs/timers.md). Objects of another owner are 404,
exactly like missing ones; `admin` sees every campaign.
"""

from __future__ import annotations

import base64
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pydantic
from pydantic.alias_generators import to_camel

from gatehouse.callbacks.records import new_callback_secret
from gatehouse.campaigns.bus_requests import CampaignCancelledEvent, CampaignCreatedEvent, CampaignUpdatedEvent
from gatehouse.campaigns.records import (
    CALLBACK_DELIVERED,
    CALLBACK_FAILED,
    CAMPAIGN_ID,
    CANCELLED,
    COMPLETED,
    END,
    OWNER_KIND,
    REMINDER,
    RUNNING,
    SCHEDULED,
    START,
    TERMINAL,
    CallbackLogEntry,
    Campaign,
    CampaignStore,
    Counters,
    Engagement,
    EngagementWrite,
    SecretSealer,
    StateLogEntry,
    can_transition,
    close_threshold,
    new_campaign_id,
)
from gatehouse.campaigns.requests import (
    CreateCampaignRequest,
    EngagementRequest,
    UpdateCampaignRequest,
)
from gatehouse.campaigns.views import (
    CampaignPageView,
    CampaignView,
    CreatedCampaignView,
    EngagementView,
    LifecycleView,
    MetricsView,
    UpdatedCampaignView,
)
from gatehouse.errors import ConflictError, NotFoundError, ValidationError
from gatehouse.events.records import LifecycleEvent, event_id_for
from gatehouse.events.service import EventRelay
from gatehouse.principal import Principal
from gatehouse.scopes import ADMIN
from gatehouse.timers.records import FAILED as TIMER_FAILED
from gatehouse.timers.records import PENDING as TIMER_PENDING
from gatehouse.timers.records import TIMER_ID, ActionResult, Firing, Timer, TimerSpec
from gatehouse.timers.service import TimersService
from gatehouse.timers.views import TimerPage, TimerView
from gatehouse.times import to_rfc3339
from gatehouse.transactions import Transaction, TransactionConflict

log = logging.getLogger("gatehouse.campaigns")

EVENT_SOURCE = "gatehouse.campaigns"
MAX_HORIZON_SECONDS = 10 * 366 * 86400  # a campaign is scheduled at most ten years ahead
_ATTEMPTS = 6  # a change that keeps meeting concurrent ones is decided again this often before a 409
DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def _invalid(field: str, message: str) -> ValidationError:
    return ValidationError(f"{field}: {message}", details=[{"field": field, "message": message}])


def _epoch(value: datetime) -> int:
    """Whole seconds (Scheduler's at() has no finer precision): fractions are dropped."""
    return int(value.timestamp() // 1)


@dataclass(frozen=True, slots=True)
class EngagementOutcome:
    view: EngagementView
    created: bool


class CampaignsService:
    """Campaigns over a CampaignStore, the timers area and the event relay; time is injectable."""

    def __init__(
        self,
        store: CampaignStore,
        timers: TimersService,
        relay: EventRelay,
        *,
        new_transaction: Callable[[], Transaction],
        timer_max_retries: int = 3,
        clock: Callable[[], float] = time.time,
        sealer: SecretSealer | None = None,
    ) -> None:
        self._store = store
        self._sealer = sealer
        self._timers = timers
        self._relay = relay
        self._new_tx = new_transaction
        self._max_retries = timer_max_retries
        self._clock = clock

    # --- create --------------------------------------------------------------------------------

    def create(self, caller: Principal, request: CreateCampaignRequest) -> CreatedCampaignView:
        # With a callbackUrl, a new secret: returned in this answer only, stored sealed (docs/resilience.md).
        secret = new_callback_secret() if request.callback_url else None
        campaign, timers, _ = self.create_for(
            caller.owner_id, request, actor=caller.principal_id, trigger="api.create", callback_secret=secret
        )
        return CreatedCampaignView.with_timers(campaign, timers, secret)

    def create_for(
        self,
        owner_id: str,
        request: CreateCampaignRequest,
        *,
        actor: str,
        trigger: str,
        campaign_id: str | None = None,
        callback_secret: str | None = None,
    ) -> tuple[Campaign, list[Timer], bool]:
        """The campaign, its timers, and whether it is new (False: `campaign_id` existed already)."""
        now = self._clock()
        start = _epoch(request.start_time)
        end = self._window(start, request.end_time, request.duration_hours, now, new_start=True)
        reminders = self._reminders(request.reminders or [], end, now)
        new_id = campaign_id or new_campaign_id()
        campaign = Campaign(
            campaign_id=new_id,
            owner_id=owner_id,
            name=request.name,
            status=SCHEDULED,
            start_time=start,
            end_time=end,
            auto_close=request.auto_close,
            created_at=int(now),
            updated_at=int(now),
            created_by=actor,
            version=1,
            target_engagements=request.target_engagements,
            metadata=request.metadata,
            callback_url=request.callback_url,
            reminders=reminders,
            callback_secret_sealed=self._seal(new_id, callback_secret),
        )
        specs = [(START, start), (END, end), *((REMINDER, at) for at in reminders)]
        timers = [
            self._timers.new_timer(TimerSpec(OWNER_KIND, campaign.campaign_id, kind, at, self._max_retries), now)
            for kind, at in specs
        ]
        tx = self._new_tx()
        self._store.stage_put(tx, None, campaign, [self._entry(None, campaign, trigger, actor, now)])
        self._store.stage_new_counters(tx, campaign.campaign_id, close_threshold(campaign.target_engagements))
        for timer in timers:
            self._timers.stage_create(tx, timer, trigger=trigger, actor=actor, now=now)
        try:
            tx.commit()
        except TransactionConflict:
            existing = self._store.get(campaign.campaign_id) if campaign_id else None
            if existing is None:
                raise ConflictError("The campaign could not be created; try again.") from None
            return existing, self._timers.list_for_owner(OWNER_KIND, existing.campaign_id), False
        self._timers.schedule(timers)
        return campaign, timers, True

    # --- read ----------------------------------------------------------------------------------

    def get(self, caller: Principal, campaign_id: str) -> CampaignView:
        return CampaignView.of(self._owned(caller, campaign_id))

    def list_campaigns(
        self, caller: Principal, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> CampaignPageView:
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise _invalid("limit", f"must be an integer from 1 to {MAX_LIMIT}")
        if ADMIN in caller.scopes:
            page = self._store.list_all(limit, cursor or None)
        else:
            page = self._store.list_by_owner(caller.owner_id, limit, cursor or None)
        return CampaignPageView(items=[CampaignView.of(c) for c in page.items], next_cursor=page.next_cursor)

    def lifecycle(self, caller: Principal, campaign_id: str) -> LifecycleView:
        campaign = self._owned(caller, campaign_id)
        return LifecycleView.of(
            campaign,
            self._store.counters(campaign.campaign_id),
            self._store.state_log(campaign.campaign_id),
            self._timers.list_for_owner(OWNER_KIND, campaign.campaign_id),
            self._timers.log_for_owner(OWNER_KIND, campaign.campaign_id),
            now=self._clock(),
            callback_log=self._store.callback_log(campaign.campaign_id),
        )

    def timers(
        self,
        caller: Principal,
        campaign_id: str,
        *,
        status: str | None = None,
        timer_type: str | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> TimerPage:
        """A campaign's timers, soonest first (a campaign has a dozen at most: paged in memory, by a strict cursor)."""
        campaign = self._owned(caller, campaign_id)
        timers = [
            t
            for t in self._timers.list_for_owner(OWNER_KIND, campaign.campaign_id)
            if (status is None or t.status == status) and (timer_type is None or t.timer_type == timer_type)
        ]
        start = 0
        if cursor:
            if not TIMER_ID.match(cursor) or cursor not in [t.timer_id for t in timers]:
                raise _invalid("cursor", "invalid")
            start = [t.timer_id for t in timers].index(cursor) + 1
        page = timers[start : start + limit]
        more = start + limit < len(timers)
        return TimerPage.of(page, page[-1].timer_id if more and page else None)

    # --- change --------------------------------------------------------------------------------

    def update(self, caller: Principal, campaign_id: str, request: UpdateCampaignRequest) -> UpdatedCampaignView:
        current = self._owned(caller, campaign_id)
        # The first callbackUrl of a campaign brings its secret, shown in this answer only.
        secret = None
        if request.callback_url and current.callback_secret_sealed is None:
            secret = new_callback_secret()
        sealed = self._seal(campaign_id, secret)
        updated = self.update_for(
            campaign_id, request, actor=caller.principal_id, trigger="api.update", current=current, sealed_secret=sealed
        )
        if sealed is None or updated.callback_secret_sealed != sealed:
            secret = None  # a concurrent change gave it a secret first: that one stands, this one was never stored
        return UpdatedCampaignView(**CampaignView.of(updated).model_dump(), callback_secret=secret)

    def update_for(
        self,
        campaign_id: str,
        request: UpdateCampaignRequest,
        *,
        actor: str,
        trigger: str,
        current: Campaign | None = None,
        sealed_secret: str | None = None,
    ) -> Campaign:
        """Change what the request names. Changing a time moves its PENDING timer (a new generation)."""
        given = request.model_fields_set
        required = sorted(
            f
            for f in ("name", "start_time", "end_time", "duration_hours", "auto_close")
            if f in given and getattr(request, f) is None
        )
        if required:
            field = to_camel(required[0])
            raise _invalid(field, "cannot be null (leave it out to keep it)")
        for campaign in self._reads(campaign_id, current):
            now = self._clock()
            if campaign.status in TERMINAL:
                raise ConflictError(f"The campaign is {campaign.status}; it can no longer change.")
            start, end = self._changed_window(campaign, request, now)
            target = request.target_engagements if "target_engagements" in given else campaign.target_engagements
            changes: dict[str, Any] = {"start_time": start, "end_time": end, "target_engagements": target}
            for name in ("name", "metadata", "callback_url", "auto_close"):
                if name in given:
                    changes[name] = getattr(request, name)  # metadata and callbackUrl may be cleared with null
            changes.update(_first_secret(campaign, sealed_secret))
            after = campaign.evolve(now, **changes)
            tx = self._new_tx()
            moves: list[tuple[Timer, Timer]] = []
            timers = {
                t.timer_type: t
                for t in self._timers.list_for_owner(OWNER_KIND, campaign_id)
                if t.timer_type != REMINDER
            }
            for kind, old_at, new_at in ((START, campaign.start_time, start), (END, campaign.end_time, end)):
                timer = timers.get(kind)
                if new_at != old_at and timer is not None:
                    if timer.status != TIMER_PENDING:
                        raise ConflictError(f"The {kind} timer is {timer.status}; its time can no longer change.")
                    moves.append(
                        (timer, self._timers.stage_move(tx, timer, new_at, trigger=trigger, actor=actor, now=now))
                    )
            if target != campaign.target_engagements:
                self._store.stage_threshold(tx, campaign_id, close_threshold(target))
            self._store.stage_put(tx, campaign, after)
            try:
                tx.commit()
            except TransactionConflict as conflict:
                if conflict.involves("counters:"):
                    raise ConflictError("targetEngagements is already reached; it can only grow.") from None
                continue
            for before, moved in moves:
                self._timers.moved(before, moved)
            return after
        raise ConflictError("The campaign kept changing concurrently; try again.")

    def _changed_window(self, campaign: Campaign, request: UpdateCampaignRequest, now: float) -> tuple[int, int]:
        start, end = campaign.start_time, campaign.end_time
        if request.start_time is not None:
            if campaign.status != SCHEDULED:
                raise ConflictError(f"The campaign is {campaign.status}; its startTime can no longer change.")
            start = _epoch(request.start_time)
            if start <= now:
                raise _invalid("startTime", "must be in the future")
        if request.end_time is not None or request.duration_hours is not None:
            end = self._window(start, request.end_time, request.duration_hours, now, new_start=False)
            if end <= now:
                raise _invalid("endTime" if request.end_time is not None else "durationHours", "must end in the future")
        elif start >= end:
            raise _invalid("startTime", "must be before endTime")
        if start > now + MAX_HORIZON_SECONDS:
            raise _invalid("startTime", "must be within ten years")
        return start, end

    def cancel(self, caller: Principal, campaign_id: str, reason: str | None) -> CampaignView:
        current = self._owned(caller, campaign_id)
        campaign = self.cancel_for(
            campaign_id, reason, actor=caller.principal_id, trigger="api.cancel", current=current
        )
        return CampaignView.of(campaign)

    def cancel_for(
        self, campaign_id: str, reason: str | None, *, actor: str, trigger: str, current: Campaign | None = None
    ) -> Campaign:
        """SCHEDULED or RUNNING -> CANCELLED, with its PENDING and FAILED timers (and their schedules)."""
        for campaign in self._reads(campaign_id, current):
            now = self._clock()
            if not can_transition(campaign.status, CANCELLED):
                raise ConflictError(f"The campaign is {campaign.status}; it cannot be cancelled.")
            after = campaign.evolve(now, status=CANCELLED, cancelled_at=int(now), cancel_reason=reason)
            tx = self._new_tx()
            self._store.stage_put(
                tx, campaign, after, [self._entry(campaign, after, trigger, actor, now, reason=reason)]
            )
            cancelled = [
                self._timers.stage_cancel(tx, t, trigger=trigger, actor=actor, reason=reason, now=now)
                for t in self._timers.list_for_owner(OWNER_KIND, campaign_id)
                if t.status in (TIMER_PENDING, TIMER_FAILED)
            ]
            events = [self._event("campaign.cancelled", after, now, trigger, reason=reason)]
            self._relay.stage(tx, events)
            try:
                tx.commit()
            except TransactionConflict:
                continue  # a timer fired or the campaign changed meanwhile: decide again
            self._relay.publish(events)
            self._timers.cancelled(cancelled)
            return after
        raise ConflictError("The campaign kept changing concurrently; try again.")

    # --- engagements ---------------------------------------------------------------------------

    def engage(self, caller: Principal, campaign_id: str, request: EngagementRequest) -> EngagementOutcome:
        """Count an engagement once per (user, type). Reaching the target while RUNNING publishes
        target_reached and, with autoClose, completes the campaign and cancels its END timer."""
        current = self._owned(caller, campaign_id)
        new_participant = True
        # Events this campaign already emitted: a target raised after it was reached is reached again, but
        # campaign.target_reached has one id per campaign and the outbox keeps it 15 days (docs/timers.md).
        emitted: set[str] = set()
        for campaign in self._reads(campaign_id, current):
            now = self._clock()
            if campaign.status != RUNNING:
                raise ConflictError(f"The campaign is {campaign.status}; engagements count only while it is RUNNING.")
            at = _epoch(request.occurred_at) if request.occurred_at else int(now)
            engagement = Engagement(campaign_id, request.user_id, request.engagement_type, at, request.metadata)
            tx = self._new_tx()
            # The uncontended path: any engagement that does not reach the target.
            self._store.stage_is_running(tx, campaign)
            self._store.stage_engagement(tx, EngagementWrite(engagement, new_participant, None), reached=False)
            try:
                tx.commit()
                return self._engaged(campaign, engagement, reached=False, now=now)
            except TransactionConflict as conflict:
                if conflict.involves("engagement:"):
                    return self._engaged(campaign, engagement, reached=False, now=now, duplicate=True)
                if conflict.involves("participant:"):
                    new_participant = False
                    continue
                if not conflict.involves("counters:"):
                    continue  # the campaign changed: look again
            # This engagement would reach the target: count it and act on it in one exact transaction.
            counters = self._store.counters(campaign_id)
            if counters.close_threshold is None or counters.total_engagements != counters.close_threshold:
                continue
            tx = self._new_tx()
            write = EngagementWrite(engagement, new_participant, counters.close_threshold)
            self._store.stage_engagement(tx, write, reached=True)
            events = [self._event("campaign.target_reached", campaign, now, "target_reached")]
            end_timers: list[Timer] = []
            if campaign.auto_close:
                after = campaign.evolve(now, status=COMPLETED, completed_at=int(now), completed_by="target_reached")
                self._store.stage_put(
                    tx, campaign, after, [self._entry(campaign, after, "target_reached", caller.principal_id, now)]
                )
                end_timers = [
                    self._timers.stage_cancel(
                        tx, t, trigger="target_reached", actor=caller.principal_id, reason="target reached", now=now
                    )
                    for t in self._timers.list_for_owner(OWNER_KIND, campaign_id)
                    if t.timer_type in (END, REMINDER) and t.status in (TIMER_PENDING, TIMER_FAILED)
                ]
                events.append(self._event("campaign.completed", after, now, "target_reached"))
            else:
                self._store.stage_is_running(tx, campaign)
            events = [e for e in events if e.event_id not in emitted]
            self._relay.stage(tx, events)
            try:
                tx.commit()
            except TransactionConflict as conflict:
                if conflict.involves("engagement:"):
                    return self._engaged(campaign, engagement, reached=False, now=now, duplicate=True)
                if conflict.involves("participant:"):
                    new_participant = False
                emitted.update(e.event_id for e in events if conflict.involves(f"event:{e.event_id}"))
                continue
            self._relay.publish(events)
            self._timers.cancelled(end_timers)
            return self._engaged(campaign, engagement, reached=True, now=now)
        raise ConflictError("The campaign kept changing concurrently; try again.")

    def _engaged(
        self, campaign: Campaign, engagement: Engagement, *, reached: bool, now: float, duplicate: bool = False
    ) -> EngagementOutcome:
        counters = self._store.counters(campaign.campaign_id)
        status = COMPLETED if reached and campaign.auto_close else campaign.status
        view = EngagementView(
            campaign_id=campaign.campaign_id,
            user_id=engagement.user_id,
            engagement_type=engagement.engagement_type,
            duplicate=duplicate,
            target_reached=reached,
            campaign_status=status,
            metrics=_metrics(counters, campaign),
        )
        return EngagementOutcome(view, created=not duplicate)

    # --- timers of a campaign ------------------------------------------------------------------

    def execute_timer(self, caller: Principal, campaign_id: str, timer_id: str) -> TimerView:
        """Fire a PENDING timer now (409 for any other state, or when a delivery got there first)."""
        campaign = self._owned(caller, campaign_id)
        timer = self._timer_of(campaign, timer_id)
        result = self._timers.execute(timer, self.run_timer, caller.principal_id)
        return TimerView.of(result.timer or timer)

    def cancel_timer(self, caller: Principal, campaign_id: str, timer_id: str, reason: str | None) -> TimerView:
        """PENDING or FAILED -> CANCELLED (409 otherwise); its schedule is deleted."""
        campaign = self._owned(caller, campaign_id)
        for _ in self._attempts():
            timer = self._timer_of(campaign, timer_id)
            tx = self._new_tx()
            cancelled = self._timers.stage_cancel(
                tx, timer, trigger="api.cancel", actor=caller.principal_id, reason=reason, now=self._clock()
            )
            try:
                tx.commit()
            except TransactionConflict:
                continue
            self._timers.cancelled([cancelled])
            return TimerView.of(cancelled)
        raise ConflictError("The timer kept changing concurrently; try again.")

    def run_timer(self, timer: Timer, tx: Transaction, firing: Firing, now: float) -> ActionResult:
        """The timers' action for campaigns: START runs it, END completes it, a REMINDER is only reported.

        An END that finds the campaign still SCHEDULED (its START was late: a lost schedule the
        sweep has not fired yet) runs and completes it in one step, so a campaign never stays
        RUNNING past its end because its timers fired out of order. Completing cancels whatever
        timer is still pending (that late START, a REMINDER after a moved end).
        """
        campaign = self._store.get(timer.owner_id)
        if campaign is None:
            return ActionResult("skipped: the campaign does not exist")
        trigger = f"timer.{timer.timer_type}"
        if timer.timer_type == REMINDER or campaign.status in TERMINAL:
            outcome = "reminder" if campaign.status not in TERMINAL else f"skipped: the campaign is {campaign.status}"
            return ActionResult(outcome)
        if timer.timer_type == START:
            if campaign.status != SCHEDULED:
                return ActionResult(f"skipped: the campaign is {campaign.status}")
            after = campaign.evolve(now, status=RUNNING, started_at=int(now))
            entries = [self._entry(campaign, after, trigger, firing.actor, now, timer_id=timer.timer_id)]
            self._store.stage_put(tx, campaign, after, entries)
            return ActionResult(
                "campaign SCHEDULED -> RUNNING", (self._event("campaign.started", after, now, trigger),)
            )
        if timer.timer_type != END:
            return ActionResult(f"skipped: no rule for a {timer.timer_type} timer")
        events: list[LifecycleEvent] = []
        entries = []
        running = campaign
        if campaign.status == SCHEDULED:
            running = campaign.evolve(now, status=RUNNING, started_at=int(now))
            entries.append(
                self._entry(
                    campaign, running, trigger, firing.actor, now, timer_id=timer.timer_id, reason="started late"
                )
            )
            events.append(self._event("campaign.started", running, now, trigger))
        # What is still pending (a late START, a REMINDER after a moved end) has nothing left to do.
        # Their schedules, if any, deliver to a CANCELLED timer: a one-read no-op.
        for other in self._timers.list_for_owner(OWNER_KIND, campaign.campaign_id):
            if other.timer_id != timer.timer_id and other.status in (TIMER_PENDING, TIMER_FAILED):
                self._timers.stage_cancel(
                    tx, other, trigger=trigger, actor=firing.actor, reason="the campaign ended", now=now
                )
        after = running.evolve(now, status=COMPLETED, completed_at=int(now), completed_by=trigger)
        entries.append(self._entry(running, after, trigger, firing.actor, now, timer_id=timer.timer_id))
        events.append(self._event("campaign.completed", after, now, trigger))
        self._store.stage_put(tx, campaign, after, entries)
        return ActionResult(f"campaign {campaign.status} -> COMPLETED", tuple(events))

    # --- events from the bus -------------------------------------------------------------------

    def apply_event(self, detail_type: str, source: str, event_id: str, detail: object) -> str:
        """`campaign.created|updated|cancelled` from another service, with the API's effects.

        Idempotent under redelivery: a created campaign's id is the event's `campaignId` or derives
        from the bus's event id, so a second delivery finds it exists. Answers what was done;
        raises ValidationError for a malformed event (the caller drops it: retrying cannot help).
        """
        actor = f"event:{source}"
        try:
            if detail_type == "campaign.created":
                created = CampaignCreatedEvent.model_validate(detail)
                campaign_id = created.campaign_id or "cmp_" + uuid.uuid5(uuid.NAMESPACE_URL, f"{source}/{event_id}").hex
                _, _, new = self.create_for(
                    created.owner_id, created, actor=actor, trigger="event.created", campaign_id=campaign_id
                )
                return f"created {campaign_id}" if new else f"duplicate: {campaign_id} exists"
            if detail_type == "campaign.updated":
                updated = CampaignUpdatedEvent.model_validate(detail)
                current = self._owned_by(updated.owner_id, updated.campaign_id)
                self.update_for(updated.campaign_id, updated, actor=actor, trigger="event.updated", current=current)
                return f"updated {updated.campaign_id}"
            if detail_type == "campaign.cancelled":
                cancelled = CampaignCancelledEvent.model_validate(detail)
                campaign = self._owned_by(cancelled.owner_id, cancelled.campaign_id)
                if campaign.status == CANCELLED:
                    return f"duplicate: {cancelled.campaign_id} is cancelled"
                self.cancel_for(
                    cancelled.campaign_id, cancelled.reason, actor=actor, trigger="event.cancelled", current=campaign
                )
                return f"cancelled {cancelled.campaign_id}"
        except pydantic.ValidationError as error:
            details = [
                {"field": ".".join(str(p) for p in e.get("loc", ())) or "detail", "message": str(e.get("msg"))}
                for e in error.errors()
            ]
            raise ValidationError("The event's detail is not valid.", details=details) from None
        raise ValidationError(f"Unknown event type {detail_type!r}.")

    # --- callbacks (docs/resilience.md#how-callbacks-are-wired) ---------------------------------

    def callback_target(self, campaign_id: str) -> tuple[str, str] | None:
        """The campaign's callbackUrl and its secret, or None (no such campaign, no callbackUrl)."""
        campaign = self._store.get(campaign_id) if CAMPAIGN_ID.match(campaign_id or "") else None
        if campaign is None or not campaign.callback_url:
            return None
        if campaign.callback_secret_sealed is None or self._sealer is None:
            return campaign.callback_url, ""  # no secret (an event-created campaign): the delivery fails, recorded
        try:
            secret = self._sealer.open(campaign_id, base64.b64decode(campaign.callback_secret_sealed)).decode("utf-8")
        except ValueError:
            # A blob that does not open (tampered, copied from another campaign) never will: the
            # delivery fails and is recorded, rather than retried. A KMS outage raises on (a retry).
            return campaign.callback_url, ""
        return campaign.callback_url, secret

    def record_callback(
        self,
        campaign_id: str,
        event_id: str,
        outcome: str,
        *,
        http_status: int | None = None,
        error: str | None = None,
        deliveries: int | None = None,
    ) -> bool:
        """Append a callback's outcome to the campaign's log, once per event id; the status never changes."""
        entry = CallbackLogEntry(event_id, outcome, int(self._clock() * 1000), http_status, error, deliveries)
        return self._store.record_callback(campaign_id, entry)

    def _seal(self, campaign_id: str, secret: str | None) -> str | None:
        if secret is None:
            return None
        if self._sealer is None:
            raise RuntimeError("no sealer: a callback secret cannot be stored")
        return base64.b64encode(self._sealer.seal(campaign_id, secret.encode("utf-8"))).decode("ascii")

    # --- helpers -------------------------------------------------------------------------------

    @staticmethod
    def _attempts() -> Iterator[int]:
        return iter(range(_ATTEMPTS))

    def _reads(self, campaign_id: str, first: Campaign | None) -> Iterator[Campaign]:
        """The campaign for each attempt of a change: the copy the caller just read, then fresh reads."""
        for attempt in self._attempts():
            yield first if attempt == 0 and first is not None else self._require(campaign_id)

    def _require(self, campaign_id: str) -> Campaign:
        campaign = self._store.get(campaign_id)
        if campaign is None:
            raise NotFoundError("No such campaign.")
        return campaign

    def _owned(self, caller: Principal, campaign_id: str) -> Campaign:
        campaign = self._store.get(campaign_id) if CAMPAIGN_ID.match(campaign_id or "") else None
        # Another owner's campaign answers exactly like a missing one (docs/reference.md: 404, not 403).
        if campaign is None or (campaign.owner_id != caller.owner_id and ADMIN not in caller.scopes):
            raise NotFoundError("No such campaign.")
        return campaign

    def _owned_by(self, owner_id: str, campaign_id: str) -> Campaign:
        campaign = self._store.get(campaign_id)
        if campaign is None or campaign.owner_id != owner_id:
            raise NotFoundError("No such campaign.")
        return campaign

    def _timer_of(self, campaign: Campaign, timer_id: str) -> Timer:
        if not TIMER_ID.match(timer_id or ""):
            raise NotFoundError("No such timer.")
        return self._timers.get(OWNER_KIND, campaign.campaign_id, timer_id)

    @staticmethod
    def _window(
        start: int, end_time: datetime | None, duration_hours: float | None, now: float, *, new_start: bool
    ) -> int:
        """The end of a window from `start` (epoch seconds), checked; with `new_start`, start must be in the future."""
        if end_time is not None and duration_hours is not None:
            raise _invalid("durationHours", "give endTime or durationHours, not both")
        if end_time is None and duration_hours is None:
            raise _invalid("endTime", "endTime or durationHours is required")
        if new_start and start <= now:
            raise _invalid("startTime", "must be in the future")
        if start > now + MAX_HORIZON_SECONDS:
            raise _invalid("startTime", "must be within ten years")
        if end_time is not None:
            end, field = _epoch(end_time), "endTime"
        else:
            end, field = start + round((duration_hours or 0) * 3600), "durationHours"
        if end <= start:
            raise _invalid(field, "must end after startTime (by one second at least)")
        if end > now + MAX_HORIZON_SECONDS:
            raise _invalid(field, "must end within ten years")
        return end

    @staticmethod
    def _reminders(reminders: Sequence[datetime], end: int, now: float) -> tuple[int, ...]:
        times = sorted({_epoch(r) for r in reminders})
        for at in times:
            if not now < at < end:
                raise _invalid("reminders", "each must be in the future and before the campaign ends")
        return tuple(times)

    @staticmethod
    def _entry(
        before: Campaign | None,
        after: Campaign,
        trigger: str,
        actor: str,
        now: float,
        *,
        timer_id: str | None = None,
        reason: str | None = None,
    ) -> StateLogEntry:
        return StateLogEntry(
            seq=after.version,
            at_ms=int(now * 1000),
            from_status=before.status if before else None,
            to_status=after.status,
            trigger=trigger,
            actor=actor,
            timer_id=timer_id,
            reason=reason,
        )

    @staticmethod
    def _event(
        event_type: str, campaign: Campaign, now: float, trigger: str, *, reason: str | None = None
    ) -> LifecycleEvent:
        detail: dict[str, Any] = {
            "campaignId": campaign.campaign_id,
            "ownerId": campaign.owner_id,
            "name": campaign.name,
            "status": campaign.status,
            "trigger": trigger,
            "startTime": to_rfc3339(campaign.start_time),
            "endTime": to_rfc3339(campaign.end_time),
        }
        if campaign.target_engagements is not None:
            detail["targetEngagements"] = campaign.target_engagements
        if reason:
            detail["reason"] = reason
        return LifecycleEvent(
            event_id=event_id_for(event_type, campaign.campaign_id),
            type=event_type,
            source=EVENT_SOURCE,
            occurred_at=to_rfc3339(now),
            detail=detail,
        )


class CampaignCallbackOutcomes:
    """The callbacks area's CallbackOutcomes, recorded on the campaign (its lifecycle shows them)."""

    def __init__(self, campaigns: CampaignsService) -> None:
        self._campaigns = campaigns

    def delivered(self, campaign_id: str, event_id: str, *, http_status: int, deliveries: int) -> None:
        self._campaigns.record_callback(
            campaign_id, event_id, CALLBACK_DELIVERED, http_status=http_status, deliveries=deliveries
        )

    def failed(self, campaign_id: str, event_id: str, error: str) -> None:
        self._campaigns.record_callback(campaign_id, event_id, CALLBACK_FAILED, error=error)


def _first_secret(campaign: Campaign, sealed: str | None) -> dict[str, Any]:
    """A campaign keeps its first callback secret: a later one (a concurrent PATCH's) is not stored."""
    return {"callback_secret_sealed": sealed} if sealed is not None and campaign.callback_secret_sealed is None else {}


def _metrics(counters: Counters, campaign: Campaign) -> MetricsView:
    last = counters.last_updated or campaign.updated_at
    return MetricsView(
        total_engagements=counters.total_engagements,
        participants=counters.participants,
        rewards_claimed=counters.rewards_claimed,
        last_updated=datetime.fromtimestamp(last, UTC),
    )
