"""The timer use cases: create, move and cancel timers for an owner; fire them exactly once; sweep; recover.

Firing (docs/timers.md, "Exactly-once effects"):

1. *claim*: PENDING (of the delivered generation) -> RUNNING, one conditional write with a fresh
   attempt id and a lease. Of twenty concurrent deliveries exactly one claims; the others see the
   timer RUNNING (or already COMPLETED) and do nothing.
2. *act and complete*: the owner's action stages its effect on a transaction that also writes
   RUNNING -> COMPLETED (conditioned on the attempt id) and the events to publish (the outbox).
   The effect and the completion land together or not at all, so a process dying anywhere in
   between leaves a RUNNING timer whose effect has not happened: after its lease the sweep claims
   it again and runs the action again. That is how an at-least-once scheduler gives
   exactly-once effects.
3. *publish*: after the commit the events go to the bus; if that fails they stay in the outbox
   for the sweep.

A failing action goes back to PENDING with a new generation and a backoff (a new schedule),
up to max_retries, then FAILED with its last error.
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from gatehouse.errors import ConflictError, NotFoundError, ValidationError
from gatehouse.events.records import LifecycleEvent, event_id_for
from gatehouse.events.service import EventRelay
from gatehouse.metrics.records import count_timer, note_lateness
from gatehouse.timers.records import (
    CANCELLED,
    COMPLETED,
    FAILED,
    INDEX_MAX,
    OWNER_ID,
    OWNER_KIND,
    PENDING,
    RUNNING,
    TIMER_SHARDS,
    TIMER_TYPE,
    ActionResult,
    DeadLetters,
    Firing,
    IndexPage,
    ScheduleGateway,
    ScheduleUnavailable,
    ShardCursor,
    Timer,
    TimerAction,
    TimerDelivery,
    TimerLogEntry,
    TimerSpec,
    TimerStore,
    index_key,
    merge_shard_pages,
    new_timer_id,
)
from gatehouse.times import to_rfc3339
from gatehouse.transactions import Transaction, TransactionConflict

log = logging.getLogger("gatehouse.timers")

EVENT_SOURCE = "gatehouse.timers"
_ACTION_ATTEMPTS = 4  # an action whose reads went stale is run again on fresh state this many times
_MAX_ERROR = 500


@dataclass(frozen=True, slots=True)
class TimerPolicy:
    """The knobs of firing and recovery (settings TIMER_*, docs/reference.md#configuration)."""

    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 900.0
    lease_seconds: int = 120
    grace_seconds: int = 120
    verify_ahead_seconds: int = 300
    verify_per_sweep: int = 500
    relay_min_age_seconds: float = 30.0
    dead_letters_per_sweep: int = 100


@dataclass(frozen=True, slots=True)
class FireResult:
    """`fired`, `retrying` or `failed` when this call moved the timer; `ignored` when it changed nothing."""

    status: str
    reason: str
    timer: Timer | None = None

    @property
    def moved(self) -> bool:
        return self.status != "ignored"


@dataclass(slots=True)
class SweepReport:
    fired: int = 0
    ignored: int = 0
    verified: int = 0
    recreated: int = 0
    dead_letters: int = 0
    events_published: int = 0
    events_failed: int = 0
    stopped_early: bool = False

    def count(self, result: FireResult) -> None:
        if result.moved:
            self.fired += 1
        else:
            self.ignored += 1


@dataclass(slots=True)
class RecoveryReport:
    checked: int = 0
    fired: int = 0
    recreated: int = 0
    events_published: int = 0
    next_cursor: str | None = None
    fired_ids: list[str] = field(default_factory=list)


def _counted(result: FireResult, firing: Firing) -> FireResult:
    """Note a claimed firing's outcome and lateness for the metrics (docs/metrics.md#timers)."""
    if result.status == "fired":
        count_timer("fired")
        if firing.source == "sweep":
            count_timer("overdue")  # its schedule never delivered: the sweep found it past due
        if result.timer is not None and result.timer.lateness_ms is not None:
            note_lateness(result.timer.lateness_ms)
    elif result.status == "failed":
        count_timer("failed")
    return result


def _error_text(error: BaseException | str) -> str:
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return text[:_MAX_ERROR]


class TimersService:
    """Timers over a TimerStore, a ScheduleGateway and the event relay; time and ids are injectable."""

    def __init__(
        self,
        store: TimerStore,
        schedules: ScheduleGateway,
        relay: EventRelay,
        *,
        new_transaction: Callable[[], Transaction],
        dead_letters: DeadLetters | None = None,
        policy: TimerPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._schedules = schedules
        self._relay = relay
        self._new_tx = new_transaction
        self._dead_letters = dead_letters
        self.policy = policy or TimerPolicy()
        self._clock = clock

    # --- timers of an owner (staged on the owner's transaction) --------------------------------

    def new_timer(self, spec: TimerSpec, now: float) -> Timer:
        if not OWNER_KIND.match(spec.owner_kind) or not OWNER_ID.match(spec.owner_id):
            raise ValueError("a timer's owner kind or id is malformed")
        if not TIMER_TYPE.match(spec.timer_type) or not 0 <= spec.max_retries <= 20:
            raise ValueError("a timer's type or max_retries is malformed")
        return Timer(
            timer_id=new_timer_id(),
            owner_kind=spec.owner_kind,
            owner_id=spec.owner_id,
            timer_type=spec.timer_type,
            status=PENDING,
            scheduled_at=spec.due_at,
            due_at=spec.due_at,
            generation=1,
            version=1,
            max_retries=spec.max_retries,
            created_at=int(now),
            updated_at=int(now),
        )

    def stage_create(self, tx: Transaction, timer: Timer, *, trigger: str, actor: str, now: float) -> None:
        self._store.stage_write(tx, None, timer, self._entry(None, timer, trigger, actor, now))

    def stage_move(self, tx: Transaction, timer: Timer, due_at: int, *, trigger: str, actor: str, now: float) -> Timer:
        """PENDING only: the timer moves to `due_at` under a new generation (so the old schedule's delivery is void)."""
        if timer.status != PENDING:
            raise ConflictError(f"Timer {timer.timer_id} is {timer.status}; only a PENDING timer can move.")
        moved = timer.evolve(
            now, scheduled_at=due_at, due_at=due_at, generation=timer.generation + 1, retry_count=0, last_error=None
        )
        self._store.stage_write(
            tx, timer, moved, self._entry(timer, moved, trigger, actor, now, detail=f"to {to_rfc3339(due_at)}")
        )
        return moved

    def stage_cancel(
        self, tx: Transaction, timer: Timer, *, trigger: str, actor: str, reason: str | None, now: float
    ) -> Timer:
        """PENDING or FAILED only (a RUNNING timer finishes its firing; its owner's action sees the new state)."""
        if timer.status not in (PENDING, FAILED):
            raise ConflictError(
                f"Timer {timer.timer_id} is {timer.status}; only a PENDING or FAILED timer can be cancelled."
            )
        cancelled = timer.evolve(now, status=CANCELLED, finished_at=int(now), cancel_reason=reason, lease_until=None)
        self._store.stage_write(tx, timer, cancelled, self._entry(timer, cancelled, trigger, actor, now, detail=reason))
        return cancelled

    def schedule(self, timers: Sequence[Timer]) -> int:
        """After the commit: a schedule per PENDING timer. Answers how many failed (the sweep makes up for them)."""
        missing = 0
        for timer in timers:
            if timer.status != PENDING:
                continue
            try:
                self._schedules.create(timer)
                count_timer("scheduled")
            except ScheduleUnavailable:
                missing += 1
                log.warning("schedule not created; the sweep will", extra={"timerId": timer.timer_id})
        return missing

    def moved(self, before: Timer, after: Timer) -> None:
        """After the commit of a move: the new generation's schedule, and the old one gone."""
        self.schedule([after])
        self._forget_schedule(before)

    def cancelled(self, timers: Sequence[Timer]) -> None:
        """After the commit of cancellations: their schedules gone."""
        for timer in timers:
            self._forget_schedule(timer)

    # --- reading -------------------------------------------------------------------------------

    def get(self, owner_kind: str, owner_id: str, timer_id: str) -> Timer:
        timer = self._store.get(owner_kind, owner_id, timer_id)
        if timer is None:
            raise NotFoundError("No such timer.")
        return timer

    def list_for_owner(self, owner_kind: str, owner_id: str) -> list[Timer]:
        return sorted(self._store.list_for_owner(owner_kind, owner_id), key=lambda t: (t.scheduled_at, t.timer_id))

    def log_for_owner(self, owner_kind: str, owner_id: str) -> list[TimerLogEntry]:
        return self._store.log_for_owner(owner_kind, owner_id)

    def pending(self, limit: int, cursor: str | None) -> tuple[list[Timer], str | None]:
        """PENDING timers across every shard, soonest first."""
        timers, after = self._walk("pending", INDEX_MAX, limit, cursor)
        return [t for t in timers if t.status == PENDING], after

    def overdue(self, limit: int, cursor: str | None) -> tuple[list[Timer], str | None]:
        """PENDING timers due more than the grace period ago: what the next sweep fires."""
        bound = index_key(self._clock() - self.policy.grace_seconds, "tmr_" + "z" * 20)
        timers, after = self._walk("overdue", bound, limit, cursor)
        return [t for t in timers if t.status == PENDING], after

    # --- firing --------------------------------------------------------------------------------

    def fire_delivery(self, delivery: TimerDelivery, actions: Mapping[str, TimerAction], source: str) -> FireResult:
        """A Scheduler delivery (or a dead-lettered one): fires the delivered generation only."""
        action = actions.get(delivery.owner_kind)
        return self.fire(
            delivery.owner_kind,
            delivery.owner_id,
            delivery.timer_id,
            generation=delivery.generation,
            firing=Firing(source, source),
            action=action,
        )

    def execute(self, timer: Timer, action: TimerAction, actor: str) -> FireResult:
        """Fire now on request: only a PENDING timer (409 otherwise, also when a delivery got there first)."""
        if timer.status != PENDING:
            raise ConflictError(f"Timer {timer.timer_id} is {timer.status}; only a PENDING timer can be executed.")
        result = self.fire(
            timer.owner_kind,
            timer.owner_id,
            timer.timer_id,
            generation=None,
            firing=Firing("api", actor),
            action=action,
        )
        if not result.moved:
            raise ConflictError(f"Timer {timer.timer_id} is no longer PENDING ({result.reason}).")
        return result

    def fire(
        self,
        owner_kind: str,
        owner_id: str,
        timer_id: str,
        *,
        generation: int | None,
        firing: Firing,
        action: TimerAction | None,
    ) -> FireResult:
        """Claim, act and complete (see the module's docstring). Never raises for a duplicate or late delivery."""
        now = self._clock()
        timer = self._store.get(owner_kind, owner_id, timer_id)
        refusal, trigger = self._claimable(timer, generation, firing, now)
        if refusal is not None or timer is None:
            return FireResult("ignored", refusal or "no such timer", timer)
        now_ms = int(now * 1000)
        claimed = timer.evolve(
            now,
            status=RUNNING,
            attempt_id=secrets.token_hex(8),
            lease_until=int(now) + self.policy.lease_seconds,
            executed_at_ms=now_ms,
            lateness_ms=now_ms - timer.scheduled_at * 1000,
            fired_by=firing.source,
        )
        tx = self._new_tx()
        self._store.stage_write(tx, timer, claimed, self._entry(timer, claimed, trigger, firing.actor, now))
        try:
            tx.commit()
        except TransactionConflict:
            return FireResult("ignored", "another delivery claimed it first", timer)
        if action is None:
            return _counted(
                self._attempt_failed(claimed, f"no action for timers of kind {owner_kind!r}", firing), firing
            )
        return _counted(self._run(claimed, firing, action), firing)

    @staticmethod
    def _claimable(timer: Timer | None, generation: int | None, firing: Firing, now: float) -> tuple[str | None, str]:
        """Why this delivery must not claim `timer` (None: it may), and the trigger to log when it does."""
        if timer is None:
            return "no such timer", ""
        if generation is not None and generation != timer.generation:
            return f"generation {generation} was superseded by {timer.generation}", ""
        if timer.status == RUNNING:
            if timer.lease_until is None or timer.lease_until > now:
                return "already firing", ""
            return None, "lease-expired"  # the process that claimed it died or hung: its effect never committed
        if timer.status != PENDING:
            return f"timer is {timer.status}", ""
        return None, firing.trigger

    def _run(self, timer: Timer, firing: Firing, action: TimerAction) -> FireResult:
        for _ in range(_ACTION_ATTEMPTS):
            now = self._clock()
            tx = self._new_tx()
            try:
                result: ActionResult = action(timer, tx, firing, now)
            except Exception as error:
                log.exception("timer action failed", extra={"timerId": timer.timer_id})
                return self._attempt_failed(timer, error, firing)
            done = timer.evolve(now, status=COMPLETED, outcome=result.outcome, finished_at=int(now), lease_until=None)
            events = (*result.events, self._event("timer.fired", done, now))
            self._store.stage_write(
                tx, timer, done, self._entry(timer, done, firing.trigger, firing.actor, now, detail=result.outcome)
            )
            self._relay.stage(tx, events)
            try:
                tx.commit()
            except TransactionConflict as conflict:
                if conflict.involves(f"timer:{timer.timer_id}"):
                    return FireResult("ignored", "its claim was taken over", timer)
                continue  # what the action read changed under it: decide again on fresh state
            self._relay.publish(events)
            if firing.source != "scheduler":
                self._forget_schedule(timer)  # fired early or by the sweep: its schedule would only deliver a no-op
            return FireResult("fired", result.outcome, done)
        return self._attempt_failed(timer, "kept conflicting with concurrent changes", firing)

    def _attempt_failed(self, timer: Timer, error: BaseException | str, firing: Firing) -> FireResult:
        now = self._clock()
        message = _error_text(error)
        events: tuple[LifecycleEvent, ...] = ()
        if timer.retry_count < timer.max_retries:
            delay = self._backoff(timer.retry_count)
            after = timer.evolve(
                now,
                status=PENDING,
                generation=timer.generation + 1,
                retry_count=timer.retry_count + 1,
                due_at=int(now + delay),
                last_error=message,
                attempt_id=None,
                lease_until=None,
            )
            trigger, status = "retry", "retrying"
        else:
            after = timer.evolve(
                now, status=FAILED, last_error=message, attempt_id=None, lease_until=None, finished_at=int(now)
            )
            events = (self._event("timer.failed", after, now),)
            trigger, status = "retries-exhausted", "failed"
        tx = self._new_tx()
        self._store.stage_write(tx, timer, after, self._entry(timer, after, trigger, firing.actor, now, detail=message))
        self._relay.stage(tx, events)
        try:
            tx.commit()
        except TransactionConflict:
            return FireResult("ignored", "its claim was taken over", timer)
        self._relay.publish(events)
        if after.status == PENDING:
            self.schedule([after])
        return FireResult(status, message, after)

    def _backoff(self, retry_count: int) -> float:
        """Exponential with equal jitter: retries of many timers failing together spread out."""
        ceiling = min(self.policy.retry_max_seconds, self.policy.retry_base_seconds * 2**retry_count)
        return max(1.0, ceiling / 2 + random.uniform(0, ceiling / 2))  # noqa: S311 - spreading, not secrecy

    # --- recovery ------------------------------------------------------------------------------

    def sweep(self, actions: Mapping[str, TimerAction], *, deadline: float | None = None) -> SweepReport:
        """Every minute: fire what is overdue by more than the grace period (and claims whose lease ran out),
        fire what Scheduler dead-lettered, check the schedules of timers coming due, publish what the
        outbox still holds. `deadline` (time.monotonic) stops it starting new work in time."""
        report = SweepReport()
        now = self._clock()
        upper = index_key(now - self.policy.grace_seconds, "tmr_" + "z" * 20)

        def out_of_time() -> bool:
            return deadline is not None and time.monotonic() >= deadline

        def sweep_shard(shard: int) -> SweepReport:
            part = SweepReport()
            after: str | None = None
            while not out_of_time():
                page = self._store.due_page(shard, after, upper, 50)
                for timer in page.timers:
                    if out_of_time():
                        part.stopped_early = True
                        return part
                    part.count(
                        self.fire(
                            timer.owner_kind,
                            timer.owner_id,
                            timer.timer_id,
                            generation=None,
                            firing=Firing("sweep", "sweep"),
                            action=actions.get(timer.owner_kind),
                        )
                    )
                    after = timer.index_key
                if not page.more:
                    break
            return part

        with ThreadPoolExecutor(max_workers=8) as pool:
            for part in pool.map(sweep_shard, range(TIMER_SHARDS)):
                report.fired += part.fired
                report.ignored += part.ignored
                report.stopped_early |= part.stopped_early
        if not out_of_time():
            self._drain_dead_letters(actions, report)
        if not out_of_time():
            self._verify_coming(now, report)
        relayed = self._relay.relay_pending(min_age_seconds=self.policy.relay_min_age_seconds)
        report.events_published, report.events_failed = relayed.published, relayed.failed
        return report

    def _drain_dead_letters(self, actions: Mapping[str, TimerAction], report: SweepReport) -> None:
        if self._dead_letters is None:
            return
        while report.dead_letters < self.policy.dead_letters_per_sweep:
            letters = self._dead_letters.receive(10)
            if not letters:
                return
            handled = []
            for letter in letters:
                try:
                    delivery = TimerDelivery.parse(letter.body)
                except ValueError:
                    log.warning("dropping a dead letter that is not a timer delivery")
                else:
                    report.count(self.fire_delivery(delivery, actions, "dead-letter"))
                handled.append(letter.receipt)
                report.dead_letters += 1
            self._dead_letters.delete(handled)

    def _verify_coming(self, now: float, report: SweepReport) -> None:
        """Timers due one minute-wide band ahead get their schedule checked (and re-created if gone):
        each timer passes through the band about once, so this costs about one GetSchedule per timer."""
        if self.policy.verify_ahead_seconds <= 0:
            return
        start = now + self.policy.verify_ahead_seconds
        lower = index_key(start, "tmr_" + "0" * 20)
        upper = index_key(start + 65, "tmr_" + "z" * 20)  # a little overlap: a late sweep misses nothing
        for shard in range(TIMER_SHARDS):
            after: str | None = lower
            while report.verified < self.policy.verify_per_sweep:
                page = self._store.due_page(shard, after, upper, 50)
                for timer in page.timers:
                    if timer.status == PENDING:
                        report.verified += 1
                        report.recreated += self._ensure_schedule(timer)
                    after = timer.index_key
                if not page.more:
                    break

    def _ensure_schedule(self, timer: Timer) -> int:
        try:
            if self._schedules.exists(timer):
                return 0
            self._schedules.create(timer)
        except ScheduleUnavailable:
            log.warning("could not check or re-create a schedule", extra={"timerId": timer.timer_id})
            return 0
        log.warning("re-created a missing schedule", extra={"timerId": timer.timer_id, "generation": timer.generation})
        return 1

    def process_due(self, actions: Mapping[str, TimerAction], limit: int, actor: str) -> RecoveryReport:
        """Fire now every PENDING timer already due (no grace), soonest first, at most `limit`."""
        report = RecoveryReport()
        bound = index_key(self._clock(), "tmr_" + "z" * 20)
        timers, _ = self._walk("process", bound, limit, None)
        for timer in timers:
            if timer.status != PENDING:
                continue
            report.checked += 1
            result = self.fire(
                timer.owner_kind,
                timer.owner_id,
                timer.timer_id,
                generation=None,
                firing=Firing("process", actor),
                action=actions.get(timer.owner_kind),
            )
            if result.moved:
                report.fired += 1
                report.fired_ids.append(timer.timer_id)
        return report

    def recover(self, actions: Mapping[str, TimerAction], limit: int, cursor: str | None, actor: str) -> RecoveryReport:
        """One page of a full reconciliation: every open timer is fired if due (or its claim expired),
        else its schedule is checked and re-created if missing; then the outbox is relayed."""
        report = RecoveryReport()
        now = self._clock()
        timers, report.next_cursor = self._walk("recovery", INDEX_MAX, limit, cursor)
        for timer in timers:
            report.checked += 1
            if timer.attention_at <= now:
                result = self.fire(
                    timer.owner_kind,
                    timer.owner_id,
                    timer.timer_id,
                    generation=None,
                    firing=Firing("recovery", actor),
                    action=actions.get(timer.owner_kind),
                )
                if result.moved:
                    report.fired += 1
                    report.fired_ids.append(timer.timer_id)
            elif timer.status == PENDING:
                report.recreated += self._ensure_schedule(timer)
        report.events_published = self._relay.relay_pending(min_age_seconds=self.policy.relay_min_age_seconds).published
        return report

    # --- helpers -------------------------------------------------------------------------------

    def _walk(self, kind: str, bound: str, limit: int, cursor: str | None) -> tuple[list[Timer], str | None]:
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise ValidationError(details=[{"field": "limit", "message": "must be an integer from 1 to 1000"}])
        position = ShardCursor.decode(cursor, kind) if cursor else ShardCursor(kind, bound)
        pages: dict[int, IndexPage] = {}
        for shard in range(TIMER_SHARDS):
            if not position.done(shard):
                pages[shard] = self._store.due_page(shard, position.after(shard), position.bound, limit)
        timers, after = merge_shard_pages(position, pages, limit)
        return timers, after.encode() if after else None

    def _forget_schedule(self, timer: Timer) -> None:
        try:
            self._schedules.delete(timer.timer_id, timer.generation)
        except ScheduleUnavailable:
            log.warning("could not delete a schedule; its delivery will be a no-op", extra={"timerId": timer.timer_id})

    @staticmethod
    def _entry(
        before: Timer | None, after: Timer, trigger: str, actor: str, now: float, *, detail: str | None = None
    ) -> TimerLogEntry:
        return TimerLogEntry(
            timer_id=after.timer_id,
            version=after.version,
            at_ms=int(now * 1000),
            from_status=before.status if before else None,
            to_status=after.status,
            trigger=trigger,
            actor=actor,
            generation=after.generation,
            detail=detail,
        )

    @staticmethod
    def _event(event_type: str, timer: Timer, now: float) -> LifecycleEvent:
        return LifecycleEvent(
            event_id=event_id_for(event_type, timer.timer_id),
            type=event_type,
            source=EVENT_SOURCE,
            occurred_at=to_rfc3339(now),
            detail={
                "timerId": timer.timer_id,
                "timerType": timer.timer_type,
                "owner": {"kind": timer.owner_kind, "id": timer.owner_id},
                "status": timer.status,
                "scheduledAt": to_rfc3339(timer.scheduled_at),
                "executedAt": to_rfc3339((timer.executed_at_ms or 0) / 1000),
                "latenessMs": timer.lateness_ms,
                "firedBy": timer.fired_by,
                "retryCount": timer.retry_count,
                "outcome": timer.outcome,
                "lastError": timer.last_error,
            },
        )
