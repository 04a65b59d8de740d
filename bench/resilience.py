"""Resilience section: the fleet test, Gatehouse's breaker beside Powertools' on DynamoDB Local, and the
cost of one decision against a bare PING on the same connection (docs/resilience.md#the-fleet-test)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import redis
from aws_lambda_powertools.utilities.circuit_breaker import CircuitBreakerConfig
from aws_lambda_powertools.utilities.circuit_breaker.persistence import CircuitBreakerDynamoDBPersistence

from bench.fleet import Breaker, FleetResult, Scenario, local_dynamodb, run_fleet
from bench.measure import CountingConnection, Sample, compare
from bench.table import Table
from gatehouse.resilience.fleet import FleetBreaker
from gatehouse.resilience.records import BreakerConfig
from gatehouse.resilience.redis_breaker import RedisBreakerStore
from gatehouse.resilience.reporting import RecordingSink
from local.services import LocalServices

SCENARIO = Scenario(workers=8, healthy_s=0.5, failing_s=2.5, latency_s=0.05)
# Gatehouse: ten calls in the window at 50 % (or ten failures in a row), open 1 s, three probes.
OURS = {
    "window_ms": 10_000,
    "buckets": 10,
    "minimum_calls": 10,
    "failure_rate_percent": 50,
    "slow_call_ms": 1_000,
    "open_ms": 1_000,
    "half_open_permits": 3,
    "probe_lease_ms": 2_000,
}
# Powertools: its defaults (5 failures in a row per instance, 3 probe successes, a 5 s local cache)
# with the same open period (its recovery_timeout is whole seconds).
POWERTOOLS: dict[str, Any] = {"failure_threshold": 5, "recovery_timeout": 1, "success_threshold": 3}
TABLE = "gatehouse-bench-breakers"
PING = "redis-py PING (same connection)"
DECIDE = "gatehouse FleetBreaker.acquire (a decision)"


def run(redis_url: str, n: int) -> list[Table]:
    services = LocalServices(external_redis_url=redis_url).start()
    try:
        dynamodb = services.dynamodb_endpoint_url
        where = "DynamoDB Local" if services.dynamodb_fallback_reason is None else "moto (no java)"
        _create_table(dynamodb)
        results = [
            run_fleet(Breaker("gatehouse", _name(), OURS, redis_url=redis_url), SCENARIO, "gatehouse (Redis, Lua)"),
            run_fleet(
                Breaker(
                    "powertools",
                    _name(),
                    {**POWERTOOLS, "local_cache_max_age": 5},
                    dynamodb_endpoint=dynamodb,
                    table=TABLE,
                ),
                SCENARIO,
                f"powertools 3.37 ({where}, cache 5 s)",
            ),
            run_fleet(
                Breaker(
                    "powertools",
                    _name(),
                    {**POWERTOOLS, "local_cache_max_age": 0},
                    dynamodb_endpoint=dynamodb,
                    table=TABLE,
                ),
                SCENARIO,
                f"powertools 3.37 ({where}, cache 0 s)",
            ),
        ]
        costs = _decision_costs(redis_url, dynamodb, n)
    finally:
        services.stop()
    return [_fleet_table(results), _cost_table(costs, n), _targets(results[0], costs)]


def _name() -> str:
    return f"bench-fleet-{uuid.uuid4().hex[:8]}"


def _create_table(endpoint: str) -> None:
    client = local_dynamodb(endpoint)
    if TABLE in client.list_tables()["TableNames"]:
        return
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def _fleet_table(results: list[FleetResult]) -> Table:
    bound = OURS["minimum_calls"] + SCENARIO.workers
    rows: list[list[object]] = []
    for r in results:
        rows.append(
            [
                r.breaker,
                "never stopped" if r.failing_calls is None else r.failing_calls,
                r.probes_while_failing,
                r.most_probes_in_flight,
                "not within 20 s" if r.recovery_s is None else f"{r.recovery_s:.2f}",
                "-" if r.close_to_all_s is None else f"{r.close_to_all_s:.3f}",
                r.refusals,
                len(r.transitions),
            ]
        )
    return Table(
        f"Fleet test: {SCENARIO.workers} worker processes, one downstream "
        f"({SCENARIO.latency_s * 1000:.0f} ms per call) healthy {SCENARIO.healthy_s} s, "
        f"failing {SCENARIO.failing_s} s, then recovered; open period 1 s "
        f"(gatehouse: minimum calls {OURS['minimum_calls']}, {OURS['half_open_permits']} probes; bound on failing "
        f"calls {bound})",
        [
            "breaker",
            "failing calls before all stopped",
            "probes while failing",
            "most probes in flight",
            "recovery until all closed (s)",
            "last close to all closed (s)",
            "refusals",
            "transitions reported",
        ],
        rows,
    )


def _decision_costs(redis_url: str, dynamodb: str, n: int) -> dict[str, tuple[Sample, float]]:
    client = redis.Redis.from_url(redis_url, connection_class=CountingConnection)
    store = RedisBreakerStore(client)
    fleet = FleetBreaker(lambda: store, RecordingSink(), default_config=BreakerConfig(**OURS))
    name = _name()

    def acquire_and_record() -> None:
        fleet.record(fleet.acquire(name), success=True)

    dynamo = local_dynamodb(dynamodb)
    calls = _count_api_calls(dynamo)
    cached = CircuitBreakerDynamoDBPersistence(table_name=TABLE, boto3_client=dynamo)
    cached.configure(CircuitBreakerConfig(**POWERTOOLS, local_cache_max_age=5), name)
    uncached = CircuitBreakerDynamoDBPersistence(table_name=TABLE, boto3_client=dynamo)
    uncached.configure(CircuitBreakerConfig(**POWERTOOLS, local_cache_max_age=0), name)

    powertools_warm = "powertools get_state, cache 5 s (a decision, warm)"
    powertools_cold = "powertools get_state, cache 0 s (a decision)"
    redis_cases: dict[str, Callable[[], object]] = {
        PING: client.ping,
        DECIDE: lambda: fleet.acquire(name),
        "gatehouse acquire + record (a whole call's breaker cost)": acquire_and_record,
        powertools_warm: lambda: cached.get_state(name),
    }
    samples = compare(redis_cases, n)
    samples += compare({powertools_cold: lambda: uncached.get_state(name)}, max(200, n // 10))
    per_decision = {
        powertools_warm: _calls_per(calls, lambda: cached.get_state(name)),
        powertools_cold: _calls_per(calls, lambda: uncached.get_state(name)),
    }
    return {s.name: (s, per_decision.get(s.name, 0.0)) for s in samples}


def _calls_per(calls: list[int], decide: Callable[[], object], times: int = 100) -> float:
    before = calls[0]
    for _ in range(times):
        decide()
    return (calls[0] - before) / times


def _count_api_calls(client: Any) -> list[int]:
    """Counts every DynamoDB API call the client makes (botocore's _make_api_call)."""
    count = [0]
    original = client._make_api_call

    def counted(*args: Any, **kwargs: Any) -> Any:
        count[0] += 1
        return original(*args, **kwargs)

    client._make_api_call = counted
    return count


def _cost_table(costs: dict[str, tuple[Sample, float]], n: int) -> Table:
    return Table(
        f"Breaker decision cost, sequential, interleaved, n={n:,} per Redis case (loopback)",
        ["case", "p50 µs", "p99 µs", "Redis round trips", "DynamoDB calls"],
        [[name, s.p50_us, s.p99_us, f"{s.round_trips:g}", f"{d:g}"] for name, (s, d) in costs.items()],
    )


def _targets(ours: FleetResult, costs: dict[str, tuple[Sample, float]]) -> Table:
    bound = OURS["minimum_calls"] + SCENARIO.workers
    ping, decide = costs[PING][0], costs[DECIDE][0]
    ratio = decide.p50_us / ping.p50_us
    failing = ours.failing_calls
    rows: list[list[object]] = [
        [
            "failing calls <= minimum calls + workers",
            f"{failing}",
            f"<= {bound}",
            _ok(failing is not None and failing <= bound),
        ],
        [
            "most probes in flight == permitted",
            f"{ours.most_probes_in_flight}",
            f"== {OURS['half_open_permits']}",
            _ok(ours.most_probes_in_flight == OURS["half_open_permits"]),
        ],
        ["decision p50 / PING p50", f"{ratio:.2f}x", "<= 1.3x", _ok(ratio <= 1.3)],
        ["Redis round trips per decision", f"{decide.round_trips:g}", "1", _ok(decide.round_trips == 1)],
        [
            "every worker closed again",
            "yes" if ours.recovery_s is not None else "no",
            "yes",
            _ok(ours.recovery_s is not None),
        ],
    ]
    return Table(
        "Breaker targets (docs/resilience.md#the-fleet-test)", ["comparison", "measured", "target", "result"], rows
    )


def _ok(passed: bool) -> str:
    return "pass" if passed else "FAIL"
