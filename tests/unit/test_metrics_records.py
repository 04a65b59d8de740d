"""The metrics area's pure rules and its recorder, on fakes: windows, quantiles, the tally, the breaker."""

from __future__ import annotations

import pytest

from gatehouse.metrics import records
from gatehouse.metrics.records import (
    LATENCY_BOUNDS_MS,
    MetricsUnavailable,
    MinuteBucket,
    RequestSample,
    Tally,
    bucket_index,
    parse_window,
    quantile,
)
from gatehouse.metrics.service import MetricsRecorder
from gatehouse.resilience.local_breaker import LocalBreaker


class FlakyStore:
    def __init__(self) -> None:
        self.down = False
        self.writes: list[tuple[RequestSample | None, dict[str, int], int]] = []

    def write(self, minute: int, sample: RequestSample | None, tally: Tally, unrecorded: int) -> None:
        if self.down:
            raise MetricsUnavailable("down", timeout=True)
        self.writes.append((sample, dict(tally.counts), unrecorded))

    def read(self, minutes: list[int]) -> list[MinuteBucket]:
        return []


@pytest.mark.parametrize("window", ["7m", "", "1d", "5M", "24H", " 5m"])
def test_only_three_windows_are_known(window: str) -> None:
    if window == "":
        assert parse_window(window) == ("5m", 5)  # absent means the default
        return
    with pytest.raises(ValueError):
        parse_window(window)


def test_a_quantile_lands_in_the_bucket_of_the_true_value() -> None:
    values = [1.0] * 50 + [40.0] * 45 + [900.0] * 5
    counts = [0] * (len(LATENCY_BOUNDS_MS) + 1)
    for value in values:
        counts[bucket_index(value, LATENCY_BOUNDS_MS)] += 1
    assert bucket_index(quantile(counts, LATENCY_BOUNDS_MS, 0.5), LATENCY_BOUNDS_MS) == bucket_index(
        1.0, LATENCY_BOUNDS_MS
    )
    assert bucket_index(quantile(counts, LATENCY_BOUNDS_MS, 0.9), LATENCY_BOUNDS_MS) == bucket_index(
        40.0, LATENCY_BOUNDS_MS
    )
    assert bucket_index(quantile(counts, LATENCY_BOUNDS_MS, 0.99), LATENCY_BOUNDS_MS) == bucket_index(
        900.0, LATENCY_BOUNDS_MS
    )
    assert quantile([0] * len(counts), LATENCY_BOUNDS_MS, 0.5) == 0.0
    over = [0] * len(counts)
    over[-1] = 3  # everything above 10 s answers the largest bound
    assert quantile(over, LATENCY_BOUNDS_MS, 0.99) == 10000.0


def test_counts_outside_a_pipeline_are_dropped_and_inside_are_kept() -> None:
    records.count("ratelimit.checked")  # no tally begun: a no-op
    tally = records.begin_tally()
    records.count("ratelimit.checked")
    records.count_webhook("received", "stripe")
    records.count_timer("fired")
    records.note_lateness(-5)
    assert records.end_tally() is tally
    assert tally.counts == {"ratelimit.checked": 1, "webhooks.received|stripe": 1, "timers.fired": 1}
    assert tally.lateness_ms == [0.0]
    assert not records.end_tally()


def test_requests_served_while_the_store_is_down_are_reported_by_the_next_write() -> None:
    now = [0.0]
    store = FlakyStore()
    recorder = MetricsRecorder(lambda: store, breaker=LocalBreaker(clock=lambda: now[0]), clock=lambda: 60.0)
    sample = RequestSample("GET /x", 200, "p", 1.0)
    assert recorder.record(sample, Tally())
    store.down = True
    assert not recorder.record(sample, Tally())  # a timeout opens the breaker at once
    assert not recorder.record(sample, Tally())  # skipped: nothing sent
    assert len(store.writes) == 1 and recorder.unrecorded == 2
    store.down = False
    now[0] = 1.5  # past the cool-down: one probe
    assert recorder.record(sample, Tally())
    assert store.writes[-1][2] == 2 and recorder.unrecorded == 0
    assert recorder.record(None, Tally())  # nothing to write: no write
    assert len(store.writes) == 2
