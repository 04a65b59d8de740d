"""A window's metrics in the Prometheus text format, named after OpenTelemetry's semantic conventions.

`http_server_request_duration_seconds` is OpenTelemetry's `http.server.request.duration` as
Prometheus spells it (seconds, `_bucket{le}`, `_sum`, `_count`, `http_request_method`, `http_route`,
`http_response_status_code`); the other families are Gatehouse's own, under `gatehouse_`.
The values are the totals of the requested window (docs/metrics.md explains why not since-start).
"""

from __future__ import annotations

from collections.abc import Mapping

from gatehouse.metrics.records import (
    LATENCY_BOUNDS_MS,
    LATENESS_BOUNDS_MS,
    RATELIMIT_CHECKED,
    RATELIMIT_LIMITED,
    TIMER_OUTCOMES,
    UNRECORDED,
    WEBHOOK_OUTCOMES,
    Merged,
)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BREAKER_STATES = ("closed", "open", "half_open")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: str) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{name}="{_escape(value)}"' for name, value in labels.items()) + "}"


def _seconds(bound_ms: int) -> str:
    return repr(bound_ms / 1000)


def _histogram(
    lines: list[str],
    name: str,
    *,
    labels: dict[str, str],
    buckets: list[int],
    bounds: tuple[int, ...],
    total_seconds: float,
) -> None:
    cumulative = 0
    for bound, n in zip(bounds, buckets, strict=False):
        cumulative += n
        lines.append(f"{name}_bucket{_labels(**labels, le=_seconds(bound))} {cumulative}")
    cumulative += buckets[len(bounds)]
    lines.append(f"{name}_bucket{_labels(**labels, le='+Inf')} {cumulative}")
    lines.append(f"{name}_sum{_labels(**labels)} {total_seconds!r}")
    lines.append(f"{name}_count{_labels(**labels)} {cumulative}")


def render(merged: Merged, breakers: Mapping[str, str]) -> str:
    lines: list[str] = []
    name = "http_server_request_duration_seconds"
    lines.append(f"# HELP {name} Duration of HTTP server requests.")
    lines.append(f"# TYPE {name} histogram")
    for (route_key, status), stats in sorted(merged.series.items()):
        method, _, route = route_key.partition(" ")
        labels = {"http_request_method": method, "http_route": route or method, "http_response_status_code": status}
        _histogram(
            lines,
            name,
            labels=labels,
            buckets=stats.buckets,
            bounds=LATENCY_BOUNDS_MS,
            total_seconds=stats.sum_us / 1_000_000,
        )

    def counter(family: str, help_text: str, samples: list[tuple[dict[str, str], int]]) -> None:
        # The text format 0.0.4 names a counter's family after its sample, `_total` included.
        lines.append(f"# HELP {family}_total {help_text}")
        lines.append(f"# TYPE {family}_total counter")
        for labels, value in samples:
            lines.append(f"{family}_total{_labels(**labels)} {value}")

    counter(
        "gatehouse_principal_requests",
        "Requests by principal: the busiest by name, the rest as other.",
        [({"principal": p}, n) for p, n in merged.top_principals()],
    )
    counters = merged.counters
    counter(
        "gatehouse_ratelimit_checks",
        "Rate-limit checks, by decision.",
        [
            ({"decision": "checked"}, counters.get(RATELIMIT_CHECKED, 0)),
            ({"decision": "limited"}, counters.get(RATELIMIT_LIMITED, 0)),
        ],
    )
    webhook_samples = []
    for key, value in sorted(counters.items()):
        if key.startswith("webhooks."):
            outcome, _, source = key[len("webhooks.") :].partition("|")
            if outcome in WEBHOOK_OUTCOMES:
                webhook_samples.append(({"webhook_source": source, "outcome": outcome}, value))
    counter("gatehouse_webhook_events", "Webhook deliveries and events, by source and outcome.", webhook_samples)
    counter(
        "gatehouse_timer_events",
        "Timers scheduled, fired, failed and fired overdue.",
        [({"outcome": outcome}, counters.get(f"timers.{outcome}", 0)) for outcome in TIMER_OUTCOMES],
    )
    counter(
        "gatehouse_metrics_unrecorded_requests",
        "Requests served while the metrics store was unreachable.",
        [({}, counters.get(UNRECORDED, 0))],
    )
    lateness = "gatehouse_timer_lateness_seconds"
    lines.append(f"# HELP {lateness} How late timers fired after their due time.")
    lines.append(f"# TYPE {lateness} histogram")
    _histogram(
        lines,
        lateness,
        labels={},
        buckets=merged.lateness,
        bounds=LATENESS_BOUNDS_MS,
        total_seconds=merged.lateness_sum_ms / 1000,
    )
    gauge = "gatehouse_circuit_breaker_state"
    lines.append(f"# HELP {gauge} 1 for the state each circuit breaker is in, as this process sees it.")
    lines.append(f"# TYPE {gauge} gauge")
    for breaker, state in sorted(breakers.items()):
        for candidate in BREAKER_STATES:
            lines.append(f"{gauge}{_labels(breaker=breaker, state=candidate)} {1 if state == candidate else 0}")
    return "\n".join(lines) + "\n"
