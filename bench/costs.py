"""Costs section: what a million requests of each kind cost on AWS, from durations measured here.

How it is measured: the functions run in-process on the local stack (DynamoDB Local, moto, a private
redis-server), invoked directly with real-shaped events from events/ (no HTTP in the timing). Each
kind runs warm (after a warm-up) N times; the median wall time is taken as the Lambda billed
duration (rounded up to the millisecond), at the function's memory in template.yaml. AWS calls and
Redis round trips are counted per invocation. Prices: us-east-1, arm64, on-demand, as listed in
PRICES (docs/operations.md#cost gives their sources and what is left out).

This machine's core is faster than the fraction of a vCPU Lambda gives 512 MB (about 0.29 of one;
1,769 MB is one vCPU), while DynamoDB Local answers in about the time DynamoDB does in-Region: CPU
time may run up to ~3.5x longer on Lambda, which the "x3.5 CPU" column prices as an upper bound.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import botocore.client
import jwt as pyjwt
import redis.connection

from bench.measure import QUIET
from bench.table import Table
from local.bootstrap import bootstrap
from local.stack import LocalStack

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
PRICES = {
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second_arm64": 0.0000133334,
    "http_api_request": 1.00 / 1e6,
    "dynamodb_read_unit": 0.125 / 1e6,
    "dynamodb_write_unit": 0.625 / 1e6,
    "elasticache_valkey_ecpu": 0.0023 / 1e6,
}
CPU_FACTOR = 3.5  # 1,769 MB / 512 MB: Lambda's share of a vCPU at 512 MB, as an upper bound
_READS = {"GetItem", "Query", "BatchGetItem", "TransactGetItems"}
_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"}


class _Counts:
    def __init__(self) -> None:
        self.aws: Counter[str] = Counter()
        self.read_units = 0.0
        self.write_units = 0.0
        self.redis = 0


_current: list[_Counts] = []
_measuring = threading.local()


def _counted_here() -> bool:
    # The invoking thread, and the readiness probes it hands to the health pool; never the stack's
    # background runners.
    return bool(_current) and (getattr(_measuring, "on", False) or threading.current_thread().name.startswith("health"))


def _quiet_runners(stack: LocalStack) -> None:
    """Stop the stack's pollers (pipes, queues, schedules, bus) so that only the measured call runs."""
    runners: list[Any] = [*stack.pipe_runners, stack.rate_runner, stack.scheduler_runner, *stack.queue_consumers]
    runners += stack.bus_consumers
    for runner in runners:
        if runner is not None:
            runner.stop_event.set()
    for runner in runners:
        if runner is not None:
            runner.stop()


@contextlib.contextmanager
def _counting() -> Iterator[None]:
    make_call = botocore.client.BaseClient._make_api_call
    send = redis.connection.AbstractConnection.send_packed_command

    def counted_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if _counted_here():
            counts = _current[-1]
            service = client.meta.service_model.service_name
            counts.aws[f"{service}:{operation}"] += 1
            if service == "dynamodb":
                if operation in _READS:
                    counts.read_units += 1  # items of at most 4 KB, strongly consistent at worst
                elif operation in _WRITES:
                    counts.write_units += 1  # items of at most 1 KB
                elif operation == "TransactWriteItems":
                    counts.write_units += 2 * len(params.get("TransactItems", []))  # transactions cost double
        return make_call(client, operation, params)

    def counted_send(connection: Any, *args: Any, **kwargs: Any) -> Any:
        if _counted_here():
            _current[-1].redis += 1
        return send(connection, *args, **kwargs)

    botocore.client.BaseClient._make_api_call = counted_call
    redis.connection.AbstractConnection.send_packed_command = counted_send  # type: ignore[assignment]
    try:
        yield
    finally:
        botocore.client.BaseClient._make_api_call = make_call
        redis.connection.AbstractConnection.send_packed_command = send  # type: ignore[method-assign]


def _event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


def _kinds(stack: LocalStack) -> list[tuple[str, str, bool, Callable[[], dict[str, Any]]]]:
    """(label, function, behind API Gateway, event factory) for each request kind measured."""
    admin = stack.bootstrap_info["adminKey"]
    authorizer_event = _event("authorizer-apikey-ok")
    authorizer_event["headers"]["authorization"] = f"Bearer {admin}"
    me, check = _event("keys-me"), _event("ratelimit-check")
    github = _event("webhooks-intake-github")

    from gatehouse.webhooks.runtime import webhook_sources_service

    webhook_sources_service().put_source("sample-github", scheme="github", secrets=["It's a Secret to Everybody"])

    def fresh_delivery() -> dict[str, Any]:
        event = copy.deepcopy(github)
        event["headers"]["x-github-delivery"] = str(uuid.uuid4())  # a new delivery each time (not a duplicate)
        return event

    from gatehouse.auth.runtime import authenticator

    issuer = stack.bootstrap_info["jwt"]
    jwt_event = copy.deepcopy(authorizer_event)
    claims = {"iss": issuer["issuer"], "aud": issuer["audience"], "sub": "bench", "exp": int(time.time()) + 3600}
    jwt_event["headers"]["authorization"] = "Bearer " + pyjwt.encode(claims, issuer["secret"], algorithm="HS256")

    def key_cache_cold() -> dict[str, Any]:
        authenticator().api_keys()._cache.clear()  # as on a key this instance has not seen: one GetItem
        return authorizer_event

    return [
        ("authorizer, API key (in-process cache warm)", "AuthorizerFunction", False, lambda: authorizer_event),
        ("authorizer, API key (key not cached: 1 read)", "AuthorizerFunction", False, key_cache_cold),
        ("authorizer, JWT HS256", "AuthorizerFunction", False, lambda: jwt_event),
        ("GET /v1/me (rate-limited, any caller)", "KeysFunction", True, lambda: copy.deepcopy(me)),
        ("POST /v1/ratelimit/check", "RateLimitFunction", True, lambda: copy.deepcopy(check)),
        ("POST /webhooks/{source} (new GitHub delivery)", "WebhookIntakeFunction", True, fresh_delivery),
        ("GET /health/ready (cache miss)", "HealthFunction", True, lambda: _event("health-ready")),
    ]


def _cost(memory_mb: int, billed_ms: int, counts: _Counts, repeats: int, behind_api: bool) -> float:
    lambda_cost = PRICES["lambda_request"] + memory_mb / 1024 * billed_ms / 1000 * PRICES["lambda_gb_second_arm64"]
    dynamo = (
        counts.read_units * PRICES["dynamodb_read_unit"] + counts.write_units * PRICES["dynamodb_write_unit"]
    ) / repeats
    cache = counts.redis / repeats * PRICES["elasticache_valkey_ecpu"]  # about one ECPU per small command
    return (lambda_cost + dynamo + cache + (PRICES["http_api_request"] if behind_api else 0.0)) * 1e6


def run(redis_url: str, n: int) -> list[Table]:
    repeats = max(50, min(n, 300))
    stack = LocalStack(
        ROOT / "template.yaml",
        bootstrap=bootstrap,
        external_redis_url=redis_url,
        extra_env={"HEALTH_CACHE_SECONDS": "0"},
        parameter_overrides=QUIET,
    )
    stack.start()
    rows: list[list[object]] = []
    try:
        assert stack.template is not None
        _quiet_runners(stack)
        with _counting(), contextlib.redirect_stdout(io.StringIO()):  # EMF lines off the table
            for label, function, behind_api, make_event in _kinds(stack):
                for _ in range(20):
                    stack.invoke(function, make_event())
                durations, counts = [], _Counts()
                _current.append(counts)
                _measuring.on = True
                try:
                    for _ in range(repeats):
                        event = make_event()
                        started = time.perf_counter()
                        stack.invoke(function, event)
                        durations.append((time.perf_counter() - started) * 1000)
                finally:
                    _measuring.on = False
                    _current.pop()
                memory = stack.template.functions[function].memory
                median = statistics.median(durations)
                billed, pessimistic = math.ceil(median), math.ceil(median * CPU_FACTOR)
                aws = ", ".join(f"{op} {c / repeats:g}" for op, c in sorted(counts.aws.items())) or "-"
                rows.append(
                    [
                        label,
                        f"{memory} MB",
                        f"{median:.2f}",
                        f"{statistics.quantiles(durations, n=20)[-1]:.2f}",
                        aws,
                        f"{counts.redis / repeats:g}",
                        f"{_cost(memory, billed, counts, repeats, behind_api):.2f}",
                        f"{_cost(memory, pessimistic, counts, repeats, behind_api):.2f}",
                    ]
                )
    finally:
        stack.stop()
    return [
        Table(
            f"USD per million requests (us-east-1, arm64): Lambda requests and GB-s at the measured median, HTTP API, "
            f"DynamoDB on-demand units, Valkey ECPUs; {repeats} warm in-process invocations each",
            ["request", "memory", "median ms", "p95 ms", "AWS calls/req", "Redis/req", "$ per 1M", "$ per 1M x3.5 CPU"],
            rows,
        )
    ]
