"""Breakers as answers (GET /v1/breakers, isolate, reset): the state operators act on."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict

from gatehouse.models import ApiModel
from gatehouse.resilience.records import BreakerPage, BreakerSnapshot, FleetState


class _View(ApiModel):
    model_config = ConfigDict(frozen=True)


class WindowView(_View):
    calls: int
    failures: int
    failure_rate_percent: float | None = None


class ProbesView(_View):
    in_flight: int
    passed: int
    failed: int


class BreakerView(_View):
    """`state` is the state in effect: an open breaker whose open period is over reads `half_open`
    (the next call moves it there and probes)."""

    name: str
    state: Literal["closed", "open", "half_open", "isolated"]
    generation: int
    window: WindowView
    probes: ProbesView
    retry_after_seconds: int | None = None

    @classmethod
    def of(cls, snapshot: BreakerSnapshot) -> BreakerView:
        rate = round(100 * snapshot.failures / snapshot.calls, 1) if snapshot.calls else None
        return cls(
            name=snapshot.name,
            state=snapshot.state.value,
            generation=snapshot.generation,
            window=WindowView(calls=snapshot.calls, failures=snapshot.failures, failure_rate_percent=rate),
            probes=ProbesView(
                in_flight=snapshot.probes_in_flight, passed=snapshot.probes_passed, failed=snapshot.probes_failed
            ),
            retry_after_seconds=-(-snapshot.retry_after_ms // 1000) if snapshot.state is FleetState.OPEN else None,
        )

    def to_public(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True)


class BreakerPageView(_View):
    items: list[BreakerView]
    next_cursor: str | None = None

    @classmethod
    def of(cls, page: BreakerPage) -> BreakerPageView:
        return cls(items=[BreakerView.of(s) for s in page.items], next_cursor=page.next_cursor)

    def to_public(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True)
