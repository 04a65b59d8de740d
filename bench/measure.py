"""Latency sampling and a connection class that counts Redis round trips."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis


class CountingConnection(redis.Connection):
    """Counts requests written to the socket: one per round trip (a pipeline counts once)."""

    sent = 0

    def send_packed_command(self, command, check_health=True):
        CountingConnection.sent += 1
        return super().send_packed_command(command, check_health)


@dataclass
class Sample:
    name: str
    p50_us: float
    p99_us: float
    ops_per_s: float
    round_trips: float


def compare(cases: dict[str, Callable[[], object]], n: int, chunk: int = 50, warmup: int = 200) -> list[Sample]:
    """Run every case n times, sequentially, interleaved in chunks of `chunk` calls.

    Interleaving makes the comparison fair on a shared machine: a burst of load elsewhere
    slows every case alike instead of whichever happened to be running. Throughput is
    calls per second of time spent inside the calls."""
    for op in cases.values():
        for _ in range(warmup):
            op()
    timings: dict[str, list[int]] = {name: [] for name in cases}
    sent: dict[str, int] = dict.fromkeys(cases, 0)
    clock = time.perf_counter_ns
    gc.collect()
    gc.disable()  # a collection landing in one case's chunk would be charged to it alone
    try:
        done = 0
        while done < n:
            size = min(chunk, n - done)
            for name, op in cases.items():
                record = timings[name].append
                before = CountingConnection.sent
                for _ in range(size):
                    t0 = clock()
                    op()
                    record(clock() - t0)
                sent[name] += CountingConnection.sent - before
            done += size
    finally:
        gc.enable()
    samples = []
    for name, values in timings.items():
        values.sort()
        samples.append(
            Sample(
                name=name,
                p50_us=statistics.median(values) / 1000,
                p99_us=values[min(len(values) - 1, int(len(values) * 0.99))] / 1000,
                ops_per_s=len(values) / (sum(values) / 1e9),
                round_trips=sent[name] / len(values),
            )
        )
    return samples


# The template's LogLevel for a bench's stack: the functions run in this process, and a request log
# line per call would bury the tables.
QUIET = {"LogLevel": "WARNING"}
