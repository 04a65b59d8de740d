"""The metrics data and its pure rules: buckets, histograms, windows, and the summary built from them.

Standard library only: the HTTP pipeline and every area may note counts through `tally` without
loading Redis or pydantic (cold start). The layout in Redis is in docs/metrics.md.
"""

from __future__ import annotations

import bisect
import contextvars
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

# OpenTelemetry's HTTP server duration buckets (milliseconds): docs/metrics.md.
LATENCY_BOUNDS_MS: Final = (0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000)
# Timer lateness spans seconds to minutes (a missed schedule waits for the one-minute sweep).
LATENESS_BOUNDS_MS: Final = (0, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000, 300000)
WINDOWS: Final = {"5m": 5, "1h": 60, "24h": 1440}
DEFAULT_WINDOW: Final = "5m"
# Principals kept by name per minute (the rest are folded into "other"), and how many are answered.
PRINCIPALS_KEPT_PER_MINUTE: Final = 50
TOP: Final = 10
OTHER: Final = "other"
ANONYMOUS: Final = "anonymous"
MAX_LABEL_CHARS: Final = 128

# Names of the counters other areas note (`tally`), as stored in a minute's hash ("c|<name>").
RATELIMIT_CHECKED: Final = "ratelimit.checked"
RATELIMIT_LIMITED: Final = "ratelimit.limited"
WEBHOOK_OUTCOMES: Final = ("received", "rejected", "duplicates", "processed", "failed")
TIMER_OUTCOMES: Final = ("scheduled", "fired", "failed", "overdue")
UNRECORDED: Final = "metrics.unrecorded"


def bucket_index(value: float, bounds: tuple[int, ...]) -> int:
    """The index of the first bound >= value; len(bounds) is the +Inf bucket."""
    return bisect.bisect_left(bounds, value)


def label(value: str) -> str:
    """A label value short enough to keep (route keys and principal ids are bounded elsewhere)."""
    return value[:MAX_LABEL_CHARS]


@dataclass(frozen=True, slots=True)
class RequestSample:
    """One API request as the pipeline saw it after the answer was built."""

    route: str
    status: int
    principal: str
    latency_ms: float


@dataclass(slots=True)
class Tally:
    """Counters noted during one invocation, written with the request's sample (one round trip)."""

    counts: dict[str, int] = field(default_factory=dict)
    lateness_ms: list[float] = field(default_factory=list)

    def add(self, name: str, amount: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + amount

    def __bool__(self) -> bool:
        return bool(self.counts or self.lateness_ms)


_current: contextvars.ContextVar[Tally | None] = contextvars.ContextVar("gatehouse_metrics_tally", default=None)


def begin_tally() -> Tally:
    """Start collecting this invocation's counters (the HTTP and job pipelines call it)."""
    tally = Tally()
    _current.set(tally)
    return tally


def end_tally() -> Tally:
    tally = _current.get() or Tally()
    _current.set(None)
    return tally


def count(name: str, amount: int = 1) -> None:
    """Note a counter for this invocation; a no-op outside a pipeline (tests, scripts)."""
    tally = _current.get()
    if tally is not None:
        tally.add(name, amount)


def count_webhook(outcome: str, source: str) -> None:
    count(f"webhooks.{outcome}|{label(source)}")


def count_timer(outcome: str, amount: int = 1) -> None:
    count(f"timers.{outcome}", amount)


def note_lateness(ms: float) -> None:
    tally = _current.get()
    if tally is not None:
        tally.lateness_ms.append(max(ms, 0.0))


class MetricsUnavailable(Exception):
    """The metrics store could not be written or read (Redis down, paused, out of memory)."""

    def __init__(self, message: str, *, timeout: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout


class MetricsStore(Protocol):
    """Where minute buckets live (Redis): one write per invocation, a window read back whole."""

    def write(self, minute: int, sample: RequestSample | None, tally: Tally, unrecorded: int) -> None: ...

    def read(self, minutes: list[int]) -> list[MinuteBucket]: ...


@dataclass(slots=True)
class MinuteBucket:
    """A minute's counters (hash fields as stored), its principals and its largest lateness."""

    fields: dict[str, int] = field(default_factory=dict)
    principals: dict[str, int] = field(default_factory=dict)
    lateness_max_ms: float = 0.0


def parse_window(value: str | None) -> tuple[str, int]:
    """`5m|1h|24h` -> (name, minutes); ValueError otherwise."""
    name = value or DEFAULT_WINDOW
    if name not in WINDOWS:
        raise ValueError(f"window must be one of {', '.join(WINDOWS)}")
    return name, WINDOWS[name]


def quantile(counts: list[int], bounds: tuple[int, ...], q: float) -> float:
    """The q-quantile of a bucketed distribution, interpolated inside its bucket like Prometheus'
    histogram_quantile; the +Inf bucket answers the largest bound."""
    total = sum(counts)
    if total == 0:
        return 0.0
    rank = q * total
    seen = 0
    for index, n in enumerate(counts):
        if n and seen + n >= rank:
            if index >= len(bounds):
                return float(bounds[-1])
            upper = bounds[index]
            lower = bounds[index - 1] if index > 0 else 0
            return lower + (upper - lower) * ((rank - seen) / n)
        seen += n
    return float(bounds[-1])


@dataclass(slots=True)
class RouteStats:
    count: int = 0
    sum_us: int = 0
    buckets: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BOUNDS_MS) + 1))


@dataclass(slots=True)
class Merged:
    """A window's buckets added up: what both the summary and the Prometheus text are made of."""

    series: dict[tuple[str, str], RouteStats] = field(default_factory=dict)  # (route, status)
    counters: dict[str, int] = field(default_factory=dict)
    principals: dict[str, int] = field(default_factory=dict)
    lateness: list[int] = field(default_factory=lambda: [0] * (len(LATENESS_BOUNDS_MS) + 1))
    lateness_max_ms: float = 0.0
    lateness_sum_ms: int = 0

    @classmethod
    def of(cls, minutes: Iterable[MinuteBucket]) -> Merged:
        merged = cls()
        for minute in minutes:
            for name, value in minute.fields.items():
                merged._add_field(name, value)
            for principal, n in minute.principals.items():
                merged.principals[principal] = merged.principals.get(principal, 0) + n
            merged.lateness_max_ms = max(merged.lateness_max_ms, minute.lateness_max_ms)
        return merged

    def _add_field(self, name: str, value: int) -> None:
        kind, _, rest = name.partition("|")
        if kind == "r":
            route, status, part = rest.rsplit("|", 2)
            stats = self.series.setdefault((route, status), RouteStats())
            if part == "n":
                stats.count += value
            elif part == "s":
                stats.sum_us += value
            elif part.startswith("b") and part[1:].isdigit() and int(part[1:]) < len(stats.buckets):
                stats.buckets[int(part[1:])] += value
        elif kind == "c":
            self.counters[rest] = self.counters.get(rest, 0) + value
        elif kind == "l" and rest == "sum":
            self.lateness_sum_ms += value
        elif kind == "l" and rest.isdigit() and int(rest) < len(self.lateness):
            self.lateness[int(rest)] += value

    @property
    def total(self) -> int:
        return sum(stats.count for stats in self.series.values())

    def top_principals(self) -> list[tuple[str, int]]:
        """The TOP principals by volume, then everything else as `other` (names trimmed per minute included)."""
        named = sorted(((p, n) for p, n in self.principals.items() if p != OTHER), key=lambda item: (-item[1], item[0]))
        top = named[:TOP]
        rest = self.total - sum(n for _, n in top)
        return top + ([(OTHER, rest)] if rest > 0 else [])


def _ms(value: float) -> float:
    return round(value, 3)


def summary(window: str, minutes: int, merged: Merged, breakers: Mapping[str, str]) -> dict[str, Any]:
    """The answer of GET /v1/metrics (docs/metrics.md)."""
    total = merged.total
    by_status: dict[str, int] = {}
    routes: dict[str, RouteStats] = {}
    buckets = [0] * (len(LATENCY_BOUNDS_MS) + 1)
    sum_us = 0
    for (route, status), stats in merged.series.items():
        by_status[status] = by_status.get(status, 0) + stats.count
        into = routes.setdefault(route, RouteStats())
        into.count += stats.count
        into.sum_us += stats.sum_us
        for index, n in enumerate(stats.buckets):
            into.buckets[index] += n
            buckets[index] += n
        sum_us += stats.sum_us
    errors_by_route = {
        route: sum(s.count for (r, st), s in merged.series.items() if r == route and st.startswith("5"))
        for route in routes
    }
    successes = sum(n for status, n in by_status.items() if status[:1] in ("2", "3"))
    server_errors = sum(n for status, n in by_status.items() if status.startswith("5"))
    counters = merged.counters
    by_source: dict[str, dict[str, int]] = {}
    webhooks = dict.fromkeys(WEBHOOK_OUTCOMES, 0)
    for name, value in counters.items():
        if name.startswith("webhooks."):
            outcome, _, source = name[len("webhooks.") :].partition("|")
            if outcome in webhooks:
                webhooks[outcome] += value
                by_source.setdefault(source, dict.fromkeys(WEBHOOK_OUTCOMES, 0))[outcome] += value
    top_routes = sorted(routes.items(), key=lambda item: (-item[1].count, item[0]))[:TOP]
    return {
        "window": window,
        "requests": {
            "total": total,
            "byStatus": dict(sorted(by_status.items())),
            "successRate": round(successes / total, 4) if total else 0.0,
            "errorRate": round(server_errors / total, 4) if total else 0.0,
            "perSecond": round(total / (minutes * 60), 4),
            "latencyMs": {
                "avg": _ms(sum_us / 1000 / total) if total else 0.0,
                "p50": _ms(quantile(buckets, LATENCY_BOUNDS_MS, 0.50)),
                "p95": _ms(quantile(buckets, LATENCY_BOUNDS_MS, 0.95)),
                "p99": _ms(quantile(buckets, LATENCY_BOUNDS_MS, 0.99)),
            },
            "topRoutes": [
                {
                    "route": route,
                    "requests": stats.count,
                    "errors": errors_by_route[route],
                    "p95Ms": _ms(quantile(stats.buckets, LATENCY_BOUNDS_MS, 0.95)),
                }
                for route, stats in top_routes
            ],
            "topPrincipals": [{"principal": p, "requests": n} for p, n in merged.top_principals()],
            "unrecorded": counters.get(UNRECORDED, 0),
        },
        "rateLimit": {"checked": counters.get(RATELIMIT_CHECKED, 0), "limited": counters.get(RATELIMIT_LIMITED, 0)},
        "webhooks": {**webhooks, "bySource": dict(sorted(by_source.items()))},
        "timers": {
            **{outcome: counters.get(f"timers.{outcome}", 0) for outcome in TIMER_OUTCOMES},
            "latenessMs": {
                "p50": _ms(quantile(merged.lateness, LATENESS_BOUNDS_MS, 0.50)),
                "p95": _ms(quantile(merged.lateness, LATENESS_BOUNDS_MS, 0.95)),
                "max": _ms(merged.lateness_max_ms),
            },
        },
        "breakers": dict(sorted(breakers.items())),
    }
