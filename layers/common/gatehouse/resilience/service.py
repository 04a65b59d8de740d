"""The operators' use cases of the fleet breakers: list them, isolate one, reset one, count by state.

The hot path (acquire and record for every protected call) is `fleet.FleetBreaker`; this is what
`GET /v1/breakers`, `POST /v1/breakers/{name}/isolate|reset` and readiness ask of the area.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections import Counter
from collections.abc import Callable

from gatehouse.errors import NotFoundError, ServiceUnavailableError, ValidationError
from gatehouse.resilience.records import (
    BreakerConfig,
    BreakerPage,
    BreakerSnapshot,
    BreakerStore,
    BreakerStoreUnavailable,
    FleetState,
    TransitionSink,
    valid_breaker_name,
)

logger = logging.getLogger(__name__)

UNAVAILABLE = "Breaker state is temporarily unavailable."


def encode_cursor(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        name = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, ValueError) as error:
        raise ValidationError(details=[{"field": "cursor", "message": "is not a cursor of this list"}]) from error
    if not valid_breaker_name(name):
        raise ValidationError(details=[{"field": "cursor", "message": "is not a cursor of this list"}])
    return name


def _closed(name: str) -> BreakerSnapshot:
    """A breaker the store holds nothing of: closed, nothing counted."""
    return BreakerSnapshot(name, FleetState.CLOSED, 0, 0, 0, 0, 0, 0, 0)


class BreakersService:
    def __init__(
        self,
        store_factory: Callable[[], BreakerStore],
        sink: TransitionSink,
        config_for: Callable[[str], BreakerConfig],
    ) -> None:
        self._store_factory = store_factory
        self._sink = sink
        self._config_for = config_for

    def list_breakers(self, limit: int, cursor: str | None) -> BreakerPage:
        """Every breaker the fleet has used (or an operator isolated), by name."""
        after = decode_cursor(cursor) if cursor else None
        store = self._store()
        try:
            names, more = store.names(limit, after)
            found = store.snapshots(names, self._config_for(""))
        except BreakerStoreUnavailable as exc:
            raise self._unavailable(exc) from exc
        items = [snapshot or _closed(name) for name, snapshot in zip(names, found, strict=True)]
        return BreakerPage(items, encode_cursor(names[-1]) if more and names else None)

    def isolate(self, name: str) -> BreakerSnapshot:
        """Open `name` until an operator resets it (no probes): for a downstream known to be bad."""
        self._check_name(name)
        try:
            snapshot, transition = self._store().isolate(name, self._config_for(name))
        except BreakerStoreUnavailable as exc:
            raise self._unavailable(exc) from exc
        if transition is not None:
            self._sink.report(transition)
        return snapshot

    def reset(self, name: str) -> BreakerSnapshot:
        """Close `name` now, with an empty window, whatever its state (an isolated one included)."""
        self._check_name(name)
        store = self._store()
        try:
            if not store.is_known(name):
                raise NotFoundError("No such breaker.")
            snapshot, transition = store.reset(name, self._config_for(name))
        except BreakerStoreUnavailable as exc:
            raise self._unavailable(exc) from exc
        if transition is not None:
            self._sink.report(transition)
        return snapshot

    def count_by_state(self, max_names: int = 200) -> tuple[Counter[FleetState], bool]:
        """How many breakers are in each state (the first `max_names` by name), and whether there
        were more. Raises BreakerStoreUnavailable: readiness reports it."""
        store = self._store()
        names, more = store.names(max_names, None)
        found = store.snapshots(names, self._config_for(""))
        return Counter(s.state if s else FleetState.CLOSED for s in found), more

    def _store(self) -> BreakerStore:
        return self._store_factory()

    @staticmethod
    def _check_name(name: str) -> None:
        if not valid_breaker_name(name):
            raise ValidationError(
                details=[{"field": "name", "message": "1-300 characters of letters, digits and . _ : - [ ]"}]
            )

    @staticmethod
    def _unavailable(exc: BreakerStoreUnavailable) -> ServiceUnavailableError:
        logger.warning("breaker store unavailable: %s", exc.reason)
        return ServiceUnavailableError(UNAVAILABLE)
