"""Counts section: AWS calls and Redis round trips per request type, through the whole local stack.

Real HTTP requests go to a LocalStack on template.yaml (DynamoDB Local, moto, the HTTP API
emulator running the authorizer and the handlers in this process). Counting is machine
independent:

- AWS calls: `botocore.client.BaseClient._make_api_call` is wrapped, so every logical API
  call of every client counts once (retries inside botocore are not extra calls), whoever
  built the client (gatehouse.clients.dynamo.dynamodb_client, gatehouse.clients.aws.aws_client,
  the authorizer's own client).
- Redis round trips: `redis.connection.AbstractConnection.send_packed_command` is wrapped;
  one call writes one request and waits for its reply(ies), so a pipeline or a script counts once.
- Work a handler hands to a thread pool (the readiness probes run concurrently) is charged
  to the request that submitted it: `ThreadPoolExecutor.submit` carries the context over.

Only work done while the emulator serves one of our requests is counted (a thread-local set
around `emulator.handle`), and each call is charged to the function that made it (around
`invoker.invoke`): the stack's background runners and bootstrap never pollute the figures.
API Gateway (and the emulator) caches the authorizer's decision per Authorization header for
AuthorizerCacheTtl (60 s by default), so the authorizer's cost is shown apart: per request
the handler's cost, and per authorizer run (once per token per TTL) the authorizer's.
"""

from __future__ import annotations

import contextlib
import io
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import redis.connection
import requests
from botocore.client import BaseClient

from bench.measure import QUIET
from bench.table import Table
from gatehouse.auth import runtime as auth_runtime
from gatehouse.health.runtime import readiness_cache
from local.bootstrap import bootstrap
from local.stack import LocalStack

ROOT = Path(__file__).resolve().parent.parent
REPEATS = 5  # warm requests per type, averaged (the counts should not vary: a check of that)

_state = threading.local()


@dataclass
class _Bucket:
    """What one request cost, by the function that spent it."""

    calls: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (function, kind, what)
    functions: list[str] = field(default_factory=list)
    status: int = 0

    def total(self, function_filter: Callable[[str], bool], kind: str, what: Callable[[str], bool]) -> int:
        return sum(v for (fn, k, w), v in self.calls.items() if function_filter(fn) and k == kind and what(w))

    def ops(self, function_filter: Callable[[str], bool], kind: str, what: Callable[[str], bool]) -> Counter[str]:
        out: Counter[str] = Counter()
        for (fn, k, w), v in self.calls.items():
            if function_filter(fn) and k == kind and what(w):
                out[w] += v
        return out


def _charge(kind: str, what: str) -> None:
    bucket: _Bucket | None = getattr(_state, "bucket", None)
    if bucket is not None:
        bucket.calls[(getattr(_state, "function", "(emulator)"), kind, what)] += 1


@contextmanager
def _counting(stack: LocalStack) -> Iterator[list[_Bucket]]:
    """Patches the counters in; yields the list each served request appends its bucket to."""
    buckets: list[_Bucket] = []
    original_api_call = BaseClient._make_api_call
    original_send = redis.connection.AbstractConnection.send_packed_command
    emulator, invoker = stack.emulator, stack.invoker
    assert emulator is not None and invoker is not None
    original_handle, original_invoke = emulator.handle, invoker.invoke
    original_submit = ThreadPoolExecutor.submit

    def make_api_call(self: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
        _charge("aws", f"{self.meta.service_model.service_name}:{operation_name}")
        return original_api_call(self, operation_name, api_params)

    def send_packed_command(self: Any, command: Any, check_health: bool = True) -> Any:
        _charge("redis", "round trip")
        return original_send(self, command, check_health)

    def handle(req: Any, domain: str) -> Any:
        bucket = _Bucket()
        _state.bucket = bucket
        try:
            response = original_handle(req, domain)
            bucket.status = response.status
            return response
        finally:
            _state.bucket = None
            buckets.append(bucket)

    def submit(self: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        bucket, function = getattr(_state, "bucket", None), getattr(_state, "function", "(emulator)")
        if bucket is None:
            return original_submit(self, fn, *args, **kwargs)

        def in_context() -> Any:
            _state.bucket, _state.function = bucket, function
            try:
                return fn(*args, **kwargs)
            finally:
                _state.bucket = None

        return original_submit(self, in_context)

    def invoke(function: Any, event: Any) -> Any:
        name = function if isinstance(function, str) else function.logical_id
        outer = getattr(_state, "function", "(emulator)")
        bucket: _Bucket | None = getattr(_state, "bucket", None)
        if bucket is not None:
            bucket.functions.append(name)
        _state.function = name
        try:
            return original_invoke(function, event)
        finally:
            _state.function = outer

    BaseClient._make_api_call = make_api_call
    redis.connection.AbstractConnection.send_packed_command = send_packed_command  # type: ignore[method-assign]
    emulator.handle = handle  # type: ignore[method-assign]
    invoker.invoke = invoke  # type: ignore[method-assign]
    ThreadPoolExecutor.submit = submit  # type: ignore[assignment,method-assign]
    try:
        yield buckets
    finally:
        BaseClient._make_api_call = original_api_call
        redis.connection.AbstractConnection.send_packed_command = original_send  # type: ignore[method-assign]
        emulator.handle = original_handle  # type: ignore[method-assign]
        invoker.invoke = original_invoke  # type: ignore[method-assign]
        ThreadPoolExecutor.submit = original_submit  # type: ignore[method-assign]


@dataclass(frozen=True)
class _Request:
    label: str
    method: str
    path: str
    credential: str | None  # "apiKey", "jwt" or None (public)
    body: dict[str, Any] | None = None
    prepare: Callable[[], None] | None = None  # run before each request


def _expire_readiness() -> None:
    readiness_cache.reset()


REQUESTS = (
    _Request("GET /health", "GET", "/health", None),
    _Request("GET /health/ready (result cached)", "GET", "/health/ready", None),
    _Request("GET /health/ready (cache expired)", "GET", "/health/ready", None, prepare=_expire_readiness),
    _Request("GET /v1/me (API key)", "GET", "/v1/me", "apiKey"),
    _Request("GET /v1/me (JWT)", "GET", "/v1/me", "jwt"),
    _Request("POST /v1/ratelimit/check (API key)", "POST", "/v1/ratelimit/check", "apiKey", {"subject": "bench"}),
    _Request("GET /v1/keys (API key)", "GET", "/v1/keys", "apiKey"),
    _Request("POST /v1/keys (API key)", "POST", "/v1/keys", "apiKey", {"name": "bench", "scopes": ["keys:read"]}),
)


def _fmt_ops(ops: Counter[str], repeats: int) -> str:
    if not ops:
        return "-"
    return ", ".join(f"{name.split(':', 1)[1]} {count / repeats:g}" for name, count in sorted(ops.items()))


def run(redis_url: str, n: int) -> list[Table]:
    del n  # counts, not timings: a fixed number of requests
    started = time.perf_counter()
    stack = LocalStack(
        ROOT / "template.yaml", bootstrap=bootstrap, external_redis_url=redis_url, parameter_overrides=QUIET
    )
    stack.start()
    try:
        return _run(stack, started)
    finally:
        stack.stop()


def _run(stack: LocalStack, started: float) -> list[Table]:
    info = stack.bootstrap_info
    issuer = info["jwt"]
    now = int(time.time())
    token = jwt.encode(
        {
            "iss": issuer["issuer"],
            "aud": issuer["audience"],
            "sub": f"bench-{uuid.uuid4().hex[:8]}",
            "exp": now + 3600,
            "scope": "keys:read keys:write ratelimit:check",
            "tier": "starter",
        },
        issuer["secret"],
        algorithm="HS256",
    )
    credentials = {"apiKey": f"Bearer {info['adminKey']}", "jwt": f"Bearer {token}"}
    emulator = stack.emulator
    assert emulator is not None and stack.template is not None
    authorizer_fns = {spec.function for spec in stack.template.authorizers.values()}

    def is_authorizer(fn: str) -> bool:
        return fn in authorizer_fns

    def is_handler(fn: str) -> bool:
        return fn not in authorizer_fns

    def is_dynamodb(what: str) -> bool:
        return what.startswith("dynamodb:")

    def is_other(what: str) -> bool:
        return not what.startswith("dynamodb:")

    def anything(what: str) -> bool:
        return True

    session = requests.Session()

    def send(req: _Request) -> int:
        if req.prepare is not None:
            req.prepare()
        headers = {"Authorization": credentials[req.credential]} if req.credential else {}
        response = session.request(req.method, stack.api_url + req.path, headers=headers, json=req.body, timeout=30)
        return response.status_code

    rows: list[list[object]] = []
    auth_rows: list[list[object]] = []
    emf_lines = io.StringIO()  # Powertools Metrics prints EMF lines to stdout: keep the tables readable
    with _counting(stack) as buckets, contextlib.redirect_stdout(emf_lines):
        for req in REQUESTS:
            send(req)  # the first request of a type warms its function instance; not counted
            del buckets[:]
            for _ in range(REPEATS):
                send(req)
            measured = list(buckets)
            del buckets[:]
            # One row per status: a 429 (say, the key-creation limit) costs something else than a 201.
            for status in sorted({b.status for b in measured}):
                group = [b for b in measured if b.status == status]
                merged = _Bucket()
                for bucket in group:
                    merged.calls.update(bucket.calls)
                    merged.functions.extend(bucket.functions)
                k = len(group)
                handler_fns = sorted({f for f in merged.functions if not is_authorizer(f)})
                authorizer_runs = sum(1 for f in merged.functions if is_authorizer(f)) / k
                dynamo = merged.ops(is_handler, "aws", is_dynamodb)
                other = merged.ops(is_handler, "aws", is_other)
                rows.append(
                    [
                        req.label,
                        ", ".join(handler_fns) or "-",
                        f"{status} x{k}",
                        f"{sum(dynamo.values()) / k:g}",
                        _fmt_ops(dynamo, k),
                        f"{sum(other.values()) / k:g}",
                        _fmt_ops(other, k),
                        f"{merged.total(is_handler, 'redis', anything) / k:g}",
                        f"{authorizer_runs:g}",
                    ]
                )

        # The authorizer, once per Authorization header per TTL: in-process caches cold, then warm.
        for credential in ("apiKey", "jwt"):
            for state in ("in-process caches cold (new instance)", "in-process caches warm"):
                if state.startswith("in-process caches cold"):
                    auth_runtime.authenticator.reset()
                emulator.clear_authorizer_cache()
                del buckets[:]
                status = send(_Request("GET /v1/me", "GET", "/v1/me", credential))
                bucket = buckets[-1]
                dynamo = bucket.ops(is_authorizer, "aws", is_dynamodb)
                other = bucket.ops(is_authorizer, "aws", is_other)
                auth_rows.append(
                    [
                        f"authorizer, {'API key' if credential == 'apiKey' else 'JWT HS256'}, {state}",
                        status,
                        sum(dynamo.values()),
                        _fmt_ops(dynamo, 1),
                        sum(other.values()),
                        bucket.total(is_authorizer, "redis", anything),
                        sum(1 for f in bucket.functions if is_authorizer(f)),
                    ]
                )
        del buckets[:]

    handlers = Table(
        f"Per request, handler only (authorizer decision cached by the emulator, as API Gateway does for "
        f"{_ttl(stack)} s): mean of {REPEATS} warm requests each, by status; DynamoDB: {_store(stack)}; "
        f"section took {time.perf_counter() - started:.0f} s",
        [
            "request",
            "function",
            "status x requests",
            "DynamoDB calls",
            "DynamoDB ops",
            "other AWS calls",
            "other AWS ops",
            "Redis round trips",
            "authorizer runs/req",
        ],
        rows,
    )
    authorizer = Table(
        "Per authorizer run (once per Authorization header per TTL), GET /v1/me",
        ["authorizer run", "status", "DynamoDB calls", "DynamoDB ops", "other AWS calls", "Redis round trips", "runs"],
        auth_rows,
    )
    return [handlers, authorizer]


def _store(stack: LocalStack) -> str:
    reason = stack.services.dynamodb_fallback_reason
    return "DynamoDB Local" if reason is None else f"moto ({reason})"


def _ttl(stack: LocalStack) -> str:
    assert stack.template is not None
    ttls = sorted({spec.ttl for spec in stack.template.authorizers.values()})
    return "/".join(str(t) for t in ttls) or "?"
