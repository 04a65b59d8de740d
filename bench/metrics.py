"""Metrics section: what counting a request adds to it, and the cost of the write alone.

The ratelimit function runs in-process (tests/inprocess.py: moto's DynamoDB for the override
table, the bench's redis-server), answering `GET /v1/ratelimit/policies` with the metrics write on
and off, interleaved in the same run; the added p50/p99 is the difference. The write alone (one
pipeline) is compared with a bare PING on its own connection. Round trips are counted on the
socket (bench/measure.py), so the "at most one write per request" target is checked, not timed.
"""

from __future__ import annotations

import contextlib
import io
import uuid
from collections.abc import Callable
from typing import Any

import redis
import redis.connection

import gatehouse.api
from bench.measure import CountingConnection, compare
from bench.table import Table
from gatehouse.metrics.records import RequestSample, Tally
from gatehouse.metrics.redis_store import RedisMetricsStore
from gatehouse.metrics.service import MetricsRecorder
from gatehouse.observability import logger, record_invocation
from tests.helpers import FakeLambdaContext, http_event
from tests.inprocess import inprocess_api, load_handler

ON = "request, metrics on"
OFF = "request, metrics off"
WRITE = "metrics write alone (1 pipeline)"
PING = "redis-py PING (same connection)"


def run(redis_url: str, n: int) -> list[Table]:
    with inprocess_api(redis_url) as _:
        handler = load_handler("ratelimit")
        context = {
            "principalId": f"bench-{uuid.uuid4().hex[:8]}",
            "ownerId": "bench",
            "authType": "jwt",
            "tier": "enterprise",
            "scopes": "admin",
        }
        event = http_event("GET", "/v1/ratelimit/policies", authorizer=context)

        def request(record: Callable[..., None]) -> Callable[[], object]:
            def call() -> object:
                gatehouse.api.record_invocation = record
                return handler(dict(event, headers=dict(event["headers"])), FakeLambdaContext())

            return call

        def nothing(*_: Any) -> None:
            return None

        # Every connection counts its round trips here (the function's own client too, not only ours).
        real_send = redis.connection.AbstractConnection.send_packed_command

        def counting_send(self: Any, command: Any, check_health: bool = True) -> None:
            CountingConnection.sent += 1
            real_send(self, command, check_health)

        redis.connection.AbstractConnection.send_packed_command = counting_send  # type: ignore[method-assign]
        client = redis.Redis.from_url(redis_url)
        recorder = MetricsRecorder(lambda: RedisMetricsStore(client))
        sample = RequestSample("GET /v1/ratelimit/policies", 200, "bench", 3.2)
        tally = Tally({"ratelimit.checked": 1})
        cases: dict[str, Callable[[], object]] = {
            PING: client.ping,
            WRITE: lambda: recorder.record(sample, tally),
            OFF: request(nothing),
            ON: request(record_invocation),
        }
        # The function's access log and EMF lines would flood the bench's own output: both still run.
        level = logger.log_level
        logger.setLevel("WARNING")
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                samples = compare(cases, max(n // 5, 500))
        finally:
            logger.setLevel(level)
            gatehouse.api.record_invocation = record_invocation
            redis.connection.AbstractConnection.send_packed_command = real_send  # type: ignore[method-assign]
    by_name = {s.name: s for s in samples}
    on, off = by_name[ON], by_name[OFF]
    added_rt = on.round_trips - off.round_trips
    return [
        Table(
            f"Metrics per request, in-process ratelimit function, interleaved, n={max(n // 5, 500):,} per case",
            ["case", "p50 µs", "p99 µs", "ops/s", "redis round trips"],
            [[s.name, s.p50_us, s.p99_us, s.ops_per_s, s.round_trips] for s in samples],
        ),
        Table(
            "Metrics targets (docs/metrics.md)",
            ["comparison", "measured", "target", "result"],
            [
                ["added p50 (on - off)", f"{on.p50_us - off.p50_us:.0f} µs", "(printed)", "info"],
                ["added p99 (on - off)", f"{on.p99_us - off.p99_us:.0f} µs", "(printed)", "info"],
                ["metrics round trips per request", f"{added_rt:g}", "<= 1", "pass" if added_rt <= 1 else "FAIL"],
                [f"write p50 / {PING}", f"{by_name[WRITE].p50_us / by_name[PING].p50_us:.2f}x", "(printed)", "info"],
            ],
        ),
    ]
