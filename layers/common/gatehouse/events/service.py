"""The relay between the outbox and the bus: publish right after a commit, and again when that failed.

`stage` puts a change's events in its transaction; `publish` sends them once the transaction has
committed and marks them published in the outbox (off its waiting list, kept a while as the record
of what was emitted). A failure there (the bus refusing, the process dying) loses nothing: the
events stay waiting and `relay_pending` (the sweep, the recovery trigger) sends them later. An
event published but not yet marked when the process dies is sent twice; its deterministic id lets
consumers drop the copy (docs/timers.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gatehouse.events.records import EventPublisher, LifecycleEvent, Outbox
from gatehouse.transactions import Transaction

log = logging.getLogger("gatehouse.events")


@dataclass(frozen=True, slots=True)
class RelayReport:
    published: int
    failed: int


class EventRelay:
    """Outbox in, bus out."""

    def __init__(self, outbox: Outbox, publisher: EventPublisher, *, clock: Callable[[], float] = time.time) -> None:
        self._outbox = outbox
        self._publisher = publisher
        self._clock = clock

    def stage(self, tx: Transaction, events: Sequence[LifecycleEvent]) -> None:
        for event in events:
            self._outbox.stage(tx, event)

    def publish(self, events: Sequence[LifecycleEvent]) -> RelayReport:
        """After the commit: send `events` and mark those the bus took. Never raises (the rest keep waiting)."""
        if not events:
            return RelayReport(0, 0)
        try:
            accepted = self._publisher.publish(events)
        except Exception:
            log.exception("publishing events failed; they stay in the outbox", extra={"events": len(events)})
            return RelayReport(0, len(events))
        try:
            self._outbox.mark_published([e for e in events if e.event_id in accepted])
        except Exception:
            # Published but still waiting: the relay sends them again, consumers drop the copy by id.
            log.exception("marking published events in the outbox failed")
        return RelayReport(len(accepted), len(events) - len(accepted))

    def relay_pending(self, *, min_age_seconds: float, limit: int = 500) -> RelayReport:
        """Publish what an earlier `publish` left behind. `min_age_seconds` keeps clear of commits still publishing."""
        before_ms = int((self._clock() - min_age_seconds) * 1000)
        published = failed = 0
        while published + failed < limit:
            batch = self._outbox.unpublished(before_ms, min(100, limit - published - failed))
            if not batch:
                break
            report = self.publish(batch)
            published += report.published
            failed += report.failed
            if report.failed:
                break  # the bus is refusing: try again at the next sweep
        return RelayReport(published, failed)
