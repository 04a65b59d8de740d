"""The metrics a known burst of traffic leaves behind, read back through GET /v1/metrics and the
Prometheus text; and what happens to them while Redis is paused or refusing writes.

The functions run in-process (functions/metrics and functions/ratelimit) against a redis-server of
this module's own, with request latencies scripted through `gatehouse.api.request_clock`, so the
numbers expected are known exactly (docs/metrics.md).
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

import gatehouse.api
from gatehouse.metrics.records import LATENCY_BOUNDS_MS, RequestSample, Tally, bucket_index
from gatehouse.metrics.redis_store import RedisMetricsStore, keys_for
from gatehouse.metrics.runtime import recorder
from gatehouse.metrics.service import MetricsRecorder, MetricsService
from local.redis_server import RedisServer
from tests import stack_runs
from tests.helpers import FakeLambdaContext, http_event
from tests.inprocess import inprocess_api, load_handler

POLICIES_ROUTE = "GET /v1/ratelimit/policies"
CHECK_ROUTE = "POST /v1/ratelimit/check"


class ScriptedClock:
    """`gatehouse.api.request_clock`: each request reads it twice (start, end); the end is start + its latency."""

    def __init__(self) -> None:
        self.latencies_ms: list[float] = []
        self._now = 1000.0
        self._started = False

    def __call__(self) -> float:
        if not self._started:
            self._started = True
            return self._now
        self._started = False
        self._now += (self.latencies_ms.pop(0) if self.latencies_ms else 1.0) / 1000
        return self._now


class Client:
    def __init__(self, clock: ScriptedClock) -> None:
        self.clock = clock
        self.handlers = {"ratelimit": load_handler("ratelimit"), "metrics": load_handler("metrics")}

    def call(
        self,
        route_key: str,
        *,
        principal: str,
        scopes: str = "admin",
        body: Any = None,
        query: str = "",
        latency_ms: float = 1.0,
    ) -> dict[str, Any]:
        method, path = route_key.split(" ", 1)
        function = "metrics" if path.startswith("/v1/metrics") else "ratelimit"
        context = {
            "principalId": principal,
            "ownerId": "org-metrics",
            "authType": "jwt",
            "tier": "enterprise",
            "scopes": scopes,
        }
        event = http_event(method, path, route_key=route_key, body=body, query=query, authorizer=context)
        self.clock.latencies_ms.append(latency_ms)
        return self.handlers[function](event, FakeLambdaContext())

    def metrics(self, window: str = "5m") -> dict[str, Any]:
        answer = self.call("GET /v1/metrics", principal="operator", scopes="metrics:read", query=f"window={window}")
        assert answer["statusCode"] == 200, answer
        return json.loads(answer["body"])

    def prometheus(self) -> str:
        answer = self.call("GET /v1/metrics/prometheus", principal="operator", scopes="metrics:read")
        assert answer["statusCode"] == 200, answer
        assert answer["headers"]["Content-Type"].startswith("text/plain; version=0.0.4")
        return answer["body"]


@pytest.fixture(scope="module")
def metrics_redis() -> Iterator[RedisServer]:
    """A redis-server for this module alone: its counts, pauses and OOM reach no other test."""
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def control(metrics_redis: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(metrics_redis.url, socket_timeout=5)
    client.flushall()
    yield client
    client.config_set("maxmemory", 0)
    client.close()


@pytest.fixture
def client(metrics_redis: RedisServer, control: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    clock = ScriptedClock()
    monkeypatch.setattr(gatehouse.api, "request_clock", clock)
    with inprocess_api(metrics_redis.url):
        yield Client(clock)


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


def within_one_bucket(reported: float, true_value: float) -> bool:
    return abs(bucket_index(reported, LATENCY_BOUNDS_MS) - bucket_index(true_value, LATENCY_BOUNDS_MS)) <= 1


def test_a_known_burst_is_counted_exactly_and_its_percentiles_land_within_one_bucket(client: Client) -> None:
    # Given: 40 policy reads of known latencies by 13 principals (alice 20, bob 8, 11 others once each
    # but "zed" twice) and 5 checks of a 2-per-minute window (2 allowed, 3 limited), and 2 bad bodies.
    latencies = [3.0] * 18 + [30.0] * 10 + [80.0] * 7 + [300.0] * 3 + [2000.0] * 2
    principals = ["alice"] * 20 + ["bob"] * 8 + [f"user-{i:02d}" for i in range(10)] + ["zed"] * 2
    statuses: Counter[str] = Counter()
    by_principal: Counter[str] = Counter()
    for principal, latency in zip(principals, latencies, strict=True):
        statuses[str(client.call(POLICIES_ROUTE, principal=principal, latency_ms=latency)["statusCode"])] += 1
        by_principal[principal] += 1
    window = [{"name": "minute", "limit": 2, "periodSeconds": 60, "algorithm": "sliding"}]
    subject = f"burst-{uuid.uuid4().hex[:8]}"
    check_answers = [
        client.call(CHECK_ROUTE, principal="checker", body={"subject": subject, "limits": window}) for _ in range(5)
    ]
    for answer in check_answers:
        statuses[str(answer["statusCode"])] += 1
    limited = sum(1 for a in check_answers if json.loads(a["body"]).get("allowed") is False)
    bad = [client.call(CHECK_ROUTE, principal="checker", body={"subject": ""}) for _ in range(2)]
    for answer in bad:
        statuses[str(answer["statusCode"])] += 1
    by_principal["checker"] += 7

    # When
    summary = client.metrics("5m")

    # Then: counts exactly (the metrics request itself is written after its own answer)
    requests = summary["requests"]
    assert summary["window"] == "5m"
    assert requests["total"] == 47
    assert requests["byStatus"] == dict(statuses)
    assert statuses["400"] == 2 and limited == 3
    assert requests["unrecorded"] == 0
    routes = {r["route"]: r["requests"] for r in requests["topRoutes"]}
    assert routes == {POLICIES_ROUTE: 40, CHECK_ROUTE: 7}
    # Every request is charged by the guard, and each of the 5 check-API calls is one more check.
    assert summary["rateLimit"] == {"checked": 47 + 5, "limited": 3}
    top = {p["principal"]: p["requests"] for p in requests["topPrincipals"]}
    assert top["alice"] == 20 and top["bob"] == 8 and top["checker"] == 7 and top["zed"] == 2
    assert len(top) == 11 and top["other"] == 47 - sum(n for p, n in top.items() if p != "other")
    assert sum(top.values()) == 47
    # Percentiles within one histogram bucket of the truth (the check calls took 1 ms each).
    truth = latencies + [1.0] * 7
    for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        assert within_one_bucket(requests["latencyMs"][name], nearest_rank(truth, q)), (name, requests["latencyMs"])
    assert requests["latencyMs"]["avg"] == pytest.approx(sum(truth) / len(truth), rel=1e-6)
    assert requests["perSecond"] == pytest.approx(47 / 300, abs=1e-4)
    assert requests["errorRate"] == 0.0
    assert requests["successRate"] == pytest.approx(statuses["200"] / 47, abs=1e-4)
    assert summary["breakers"] == {"metrics.redis": "closed", "ratelimit.redis": "closed"}

    # And the Prometheus text parses and says the same (it now includes that one metrics read).
    families = {f.name: f for f in text_string_to_metric_families(client.prometheus())}
    duration = families["http_server_request_duration_seconds"]
    assert duration.type == "histogram"
    counts = {
        (s.labels["http_request_method"], s.labels["http_route"], s.labels["http_response_status_code"]): s.value
        for s in duration.samples
        if s.name.endswith("_count")
    }
    assert counts[("GET", "/v1/ratelimit/policies", "200")] == 40
    assert counts[("GET", "/v1/metrics", "200")] == 1
    assert sum(counts.values()) == 48
    buckets = [
        s for s in duration.samples if s.name.endswith("_bucket") and s.labels["http_route"] == "/v1/ratelimit/policies"
    ]
    assert {s.labels["le"] for s in buckets} == {str(b / 1000) for b in LATENCY_BOUNDS_MS} | {"+Inf"}
    assert next(s.value for s in buckets if s.labels["le"] == "0.005") == 18
    checks = {s.labels["decision"]: s.value for s in families["gatehouse_ratelimit_checks"].samples}
    assert checks == {"checked": 53.0, "limited": 3.0}
    principal_samples = {s.labels["principal"]: s.value for s in families["gatehouse_principal_requests"].samples}
    assert principal_samples["alice"] == 20
    breaker = {
        (s.labels["breaker"], s.labels["state"]): s.value for s in families["gatehouse_circuit_breaker_state"].samples
    }
    assert breaker[("metrics.redis", "closed")] == 1


def test_a_request_costs_one_metrics_round_trip(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given: a warm function (its first request connected and loaded the limiter's script)
    client.call(POLICIES_ROUTE, principal="warm")
    sent: list[int] = []
    real_send = redis.connection.AbstractConnection.send_packed_command

    def counting_send(self: Any, command: Any, check_health: bool = True) -> None:
        sent.append(1)
        real_send(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting_send)
    # When
    for _ in range(10):
        client.call(POLICIES_ROUTE, principal="counted")
    monkeypatch.undo()
    # Then: two round trips a request: the rate-limit check (one EVALSHA) and the metrics write (one pipeline)
    assert len(sent) == 20
    assert client.metrics()["requests"]["total"] == 11


def test_a_window_other_than_5m_1h_24h_is_a_400(client: Client) -> None:
    for window in ("7m", "", "1d", "5M"):
        answer = client.call("GET /v1/metrics", principal="operator", scopes="metrics:read", query=f"window={window}")
        assert answer["statusCode"] == 400, (window, answer)
        assert json.loads(answer["body"])["error"]["code"] == "VALIDATION_ERROR"


def test_metrics_need_the_metrics_read_scope(client: Client) -> None:
    answer = client.call("GET /v1/metrics", principal="nosy", scopes="keys:read")
    assert answer["statusCode"] == 403


def test_requests_are_served_while_redis_is_paused_and_the_metrics_say_so_after(
    client: Client, control: redis.Redis
) -> None:
    # Given: counting works
    for _ in range(3):
        assert client.call(POLICIES_ROUTE, principal="before")["statusCode"] == 200
    # When: Redis refuses to answer writes for a while (the limiter falls back, the metrics write times out)
    control.execute_command("CLIENT", "PAUSE", 1500, "WRITE")
    served = [client.call(POLICIES_ROUTE, principal="during")["statusCode"] for _ in range(5)]
    assert recorder().breaker.state.value in {"open", "half_open"}
    time.sleep(1.6)  # the pause ends; the breaker's cool-down (1 s) lets one probe through
    for _ in range(3):
        assert client.call(POLICIES_ROUTE, principal="after")["statusCode"] == 200
    # Then: every request was served, and the ones not counted are reported as unrecorded
    assert served == [200] * 5
    summary = client.metrics("5m")
    assert summary["requests"]["total"] == 6
    assert summary["requests"]["unrecorded"] == 5
    assert summary["breakers"]["metrics.redis"] == "closed"


def test_requests_are_served_while_redis_refuses_writes_and_the_metrics_say_so_after(
    client: Client, control: redis.Redis
) -> None:
    assert client.call(POLICIES_ROUTE, principal="before")["statusCode"] == 200
    control.config_set("maxmemory", 1)  # every write answers OOM under noeviction
    try:
        served = [client.call(POLICIES_ROUTE, principal="during")["statusCode"] for _ in range(6)]
        assert recorder().breaker.state.value in {"open", "half_open"}
    finally:
        control.config_set("maxmemory", 0)
    time.sleep(1.1)
    assert client.call(POLICIES_ROUTE, principal="after")["statusCode"] == 200
    assert served == [200] * 6
    summary = client.metrics("5m")
    assert summary["requests"]["total"] == 2
    assert summary["requests"]["unrecorded"] == 6


def test_principals_beyond_the_kept_few_fold_into_other(metrics_redis: RedisServer, control: redis.Redis) -> None:
    store = RedisMetricsStore(redis.Redis.from_url(metrics_redis.url), principals_kept=3)
    recorder_ = MetricsRecorder(lambda: store, clock=lambda: 600.0)
    volumes = {"a": 5, "b": 4, "c": 3, "d": 1, "e": 1}
    for principal, n in volumes.items():
        for _ in range(n):
            assert recorder_.record(RequestSample("GET /x", 200, principal, 2.0), Tally())
    assert control.zcard(keys_for(10)[1]) == 3
    assert 0 < control.ttl(keys_for(10)[0]) <= 24 * 3600 + 600
    summary = MetricsService(store, dict, clock=lambda: 600.0).summary("5m")
    top = {p["principal"]: p["requests"] for p in summary["requests"]["topPrincipals"]}
    assert top == {"a": 5, "b": 4, "c": 3, "other": 2}


def test_a_job_writes_its_timer_and_webhook_counts_once(metrics_redis: RedisServer, control: redis.Redis) -> None:
    from gatehouse import wiring
    from gatehouse.jobs import make_job
    from gatehouse.metrics.records import count_timer, count_webhook, note_lateness
    from gatehouse.metrics.runtime import metrics_service

    def fire(event: Any, context: Any) -> dict[str, Any]:
        count_timer("fired")
        count_timer("overdue")
        note_lateness(1200.0)
        note_lateness(80.0)
        count_webhook("processed", "stripe")
        return {"status": "fired"}

    # The process's wiring follows REDIS_URL meanwhile: a local stack's timed runs are held, so no
    # timer or sweep of theirs counts into this Redis, and none keeps that wiring afterwards.
    with stack_runs.timed_runs_held():
        try:
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv("REDIS_URL", metrics_redis.url)
                wiring.reset()
                assert make_job(fire, name="Bench")({}, FakeLambdaContext()) == {"status": "fired"}
                summary = metrics_service().summary("1h")
        finally:
            wiring.reset()
    assert summary["requests"]["total"] == 0  # a job is not an API request
    timers = summary["timers"]
    assert (timers["fired"], timers["overdue"], timers["scheduled"], timers["failed"]) == (1, 1, 0, 0)
    assert timers["latenessMs"]["max"] == 1200.0
    assert 80 <= timers["latenessMs"]["p50"] <= 1000  # within the bucket of 80 ms (0.1 s) or the next
    assert summary["webhooks"]["processed"] == 1
    assert summary["webhooks"]["bySource"]["stripe"]["processed"] == 1
