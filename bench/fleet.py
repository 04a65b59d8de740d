"""The fleet test: N worker processes call one local HTTP downstream through a breaker; the downstream
turns failing, then recovers (docs/resilience.md#the-fleet-test).

The parent process serves the downstream (threads, one keep-alive connection per worker) and switches
its mode; each request is logged there with its arrival, departure and the mode it was answered in.
Every worker runs the same loop (ask the breaker, call, report), logging each attempt. Clocks are
`time.monotonic()`, one clock for every process on Linux. From the logs, per breaker:

- failing calls: ordinary (not probe) requests answered in failing mode: what reached the failing
  downstream before every worker stopped calling it (a worker that has stopped sends probes only);
- probes while failing: half-open probes answered in failing mode;
- most probes in flight: the most probes the downstream held at once (each request says whether
  the breaker admitted it as a probe: ours from its permit, Powertools' from which of its handler's
  methods runs the call);
- recovery: from the downstream's recovery until every worker calls again and is never refused
  after (its first admitted call after its last refusal), the slowest worker; most of it is where
  the recovery fell in an open period, so also
- close to all: from the fleet's last move to closed until every worker calls again (how fast the
  shared state reaches every instance);
- refusals: attempts answered by the breaker itself.

Counts are machine independent (the `make test` version asserts them); times are not.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from http.client import HTTPConnection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Scenario:
    workers: int = 8
    healthy_s: float = 0.5
    failing_s: float = 2.5
    recovery_timeout_s: float = 20.0
    settle_s: float = 0.5  # after every worker is closed, keep running to see it stays so
    latency_s: float = 0.05  # the downstream's time per request, in every mode
    refused_pause_s: float = 0.005  # a refused worker tries again after this


@dataclass(frozen=True)
class Breaker:
    """Which breaker the workers use, and how it is set (picklable: workers are spawned)."""

    kind: str  # "gatehouse" | "powertools"
    name: str
    settings: dict[str, Any]
    redis_url: str = ""
    dynamodb_endpoint: str = ""
    table: str = ""


@dataclass
class FleetResult:
    breaker: str
    workers: int
    failing_calls: int | None  # None: some worker never stopped
    probes_while_failing: int
    most_probes_in_flight: int
    recovery_s: float | None  # None: not every worker closed within the timeout
    close_to_all_s: float | None  # from the fleet's last move to closed until every worker calls again
    refusals: int
    calls: int
    transitions: list[str] = field(default_factory=list)


# -- the downstream ---------------------------------------------------------------------------------------
class _Downstream:
    def __init__(self, latency_s: float) -> None:
        self.failing = False
        self.latency_s = latency_s
        self.log: list[tuple[float, float, bool, bool]] = []  # arrival, departure, answered failing, probe
        self._lock = threading.Lock()
        downstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                arrival = time.monotonic()
                failing = downstream.failing
                time.sleep(downstream.latency_s)
                self.send_response(503 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                probe = self.headers.get("X-Probe") == "1"
                with downstream._lock:
                    downstream.log.append((arrival, time.monotonic(), failing, probe))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- the workers ----------------------------------------------------------------------------------------------
class _Refused(Exception):
    pass


class _Failed(Exception):
    pass


def _gatehouse_caller(spec: Breaker, transitions: list[tuple[float, str]]) -> Any:
    import redis

    from gatehouse.resilience.errors import BreakerOpenError
    from gatehouse.resilience.fleet import FleetBreaker
    from gatehouse.resilience.records import BreakerConfig, Transition
    from gatehouse.resilience.redis_breaker import RedisBreakerStore

    class Sink:
        def report(self, transition: Transition) -> None:
            transitions.append((time.monotonic(), f"{transition.from_state.value}>{transition.to_state.value}"))

    store = RedisBreakerStore(redis.Redis.from_url(spec.redis_url, socket_timeout=2))
    fleet = FleetBreaker(lambda: store, Sink(), default_config=BreakerConfig(**spec.settings))

    def call(http: Any) -> None:
        try:
            permit = fleet.acquire(spec.name)
        except BreakerOpenError as refused:
            raise _Refused from refused
        status = http(permit.probe)
        fleet.record(permit, success=status < 500)
        if status >= 500:
            raise _Failed

    return call


def local_dynamodb(endpoint: str) -> Any:
    """A client for the local DynamoDB with dummy credentials: nothing here can reach an AWS account."""
    import boto3

    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _powertools_caller(spec: Breaker, transitions: list[tuple[float, str]]) -> Any:
    from aws_lambda_powertools.utilities.circuit_breaker import (
        CircuitBreakerConfig,
        CircuitBreakerOpenError,
        circuit_breaker,
    )
    from aws_lambda_powertools.utilities.circuit_breaker.persistence import CircuitBreakerDynamoDBPersistence

    client = local_dynamodb(spec.dynamodb_endpoint)
    persistence = CircuitBreakerDynamoDBPersistence(table_name=spec.table, boto3_client=client)

    def on_transition(t: Any) -> None:
        transitions.append((time.monotonic(), f"{t.from_state.value.lower()}>{t.to_state.value.lower()}"))

    holder: dict[str, Any] = {}

    @circuit_breaker(
        name=spec.name,
        persistence_store=persistence,
        config=CircuitBreakerConfig(**spec.settings),
        on_transition=on_transition,
    )
    def protected() -> int:
        # Powertools runs a probe from CircuitBreakerHandler._call_probe, an ordinary call from _call_closed.
        probe = sys._getframe(1).f_code.co_name == "_call_probe"
        status = int(holder["http"](probe))
        if status >= 500:
            raise _Failed
        return status

    def call(http: Any) -> None:
        holder["http"] = http
        try:
            protected()
        except CircuitBreakerOpenError as refused:
            raise _Refused from refused

    return call


def _worker(
    index: int, spec: Breaker, port: int, scenario: Scenario, ready: Any, go: Any, stop: Any, seen: Any, out: str
) -> None:
    transitions: list[tuple[float, str]] = []
    call = _gatehouse_caller(spec, transitions) if spec.kind == "gatehouse" else _powertools_caller(spec, transitions)
    conn = HTTPConnection("127.0.0.1", port, timeout=10)

    def http(probe: bool) -> int:
        try:
            conn.request("GET", "/", headers={"X-Worker": str(index), "X-Probe": "1" if probe else "0"})
            response = conn.getresponse()
            response.read()
            return response.status
        except OSError:
            conn.close()
            return 599

    attempts: list[tuple[str, float, float]] = []
    ready.release()
    go.wait()
    while not stop.is_set():
        started = time.monotonic()
        try:
            call(http)
            kind = "ok"
        except _Refused:
            kind = "refused"
        except _Failed:
            kind = "failed"
        attempts.append((kind, started, time.monotonic()))
        # What the parent polls to know when the whole fleet calls again: last refusal, last success.
        if kind == "refused":
            seen[2 * index] = started
            time.sleep(scenario.refused_pause_s)
        elif kind == "ok":
            seen[2 * index + 1] = started
    Path(out).write_text(json.dumps({"attempts": attempts, "transitions": transitions}))


# -- the run --------------------------------------------------------------------------------------------------
def run_fleet(spec: Breaker, scenario: Scenario, label: str | None = None) -> FleetResult:
    """One fleet run; workers are spawned (a clean interpreter each, as on Lambda)."""
    ctx = mp.get_context("spawn")
    downstream = _Downstream(scenario.latency_s)
    ready, go, stop = ctx.Semaphore(0), ctx.Event(), ctx.Event()
    seen = ctx.Array("d", 2 * scenario.workers, lock=False)
    with tempfile.TemporaryDirectory(prefix="gatehouse-fleet-") as tmp:
        outs = [os.path.join(tmp, f"worker-{i}.json") for i in range(scenario.workers)]
        procs = [
            ctx.Process(
                target=_worker,
                args=(i, spec, downstream.port, scenario, ready, go, stop, seen, outs[i]),
                daemon=True,
            )
            for i in range(scenario.workers)
        ]
        try:
            for proc in procs:
                proc.start()
            for _ in procs:
                if not ready.acquire(timeout=60):
                    raise RuntimeError("a fleet worker did not start")
            go.set()
            time.sleep(scenario.healthy_s)
            failing_at = time.monotonic()
            downstream.failing = True
            time.sleep(scenario.failing_s)
            recovered_at = time.monotonic()
            downstream.failing = False
            _until_the_fleet_calls_again(seen, scenario, recovered_at)
        finally:
            stop.set()
            for proc in procs:
                if proc.pid is None:
                    continue  # never started
                proc.join(timeout=30)
                if proc.is_alive():
                    proc.kill()
            downstream.stop()
        logs = [json.loads(Path(out).read_text()) for out in outs if Path(out).exists()]
    if len(logs) != scenario.workers:
        raise RuntimeError("a fleet worker died")
    return _measure(label or spec.kind, scenario, downstream.log, logs, failing_at, recovered_at)


def _until_the_fleet_calls_again(seen: Any, scenario: Scenario, recovered_at: float) -> None:
    """Until every worker's last success is later than its last refusal, and stays so for settle_s
    (or the timeout). The workers' logs then say exactly when each one was closed."""
    all_closed_since: float | None = None
    while time.monotonic() < recovered_at + scenario.recovery_timeout_s:
        now = time.monotonic()
        closed = all(seen[2 * w + 1] > max(seen[2 * w], recovered_at) for w in range(scenario.workers))
        if not closed:
            all_closed_since = None
        elif all_closed_since is None:
            all_closed_since = now
        elif now - all_closed_since >= scenario.settle_s:
            return
        time.sleep(0.02)


def _measure(
    label: str,
    scenario: Scenario,
    served: list[tuple[float, float, bool, bool]],
    logs: list[dict[str, Any]],
    failing_at: float,
    recovered_at: float,
) -> FleetResult:
    # Every worker refused at least once after the downstream turned failing: the fleet stopped.
    stopped = all(any(kind == "refused" and start >= failing_at for kind, start, _ in log["attempts"]) for log in logs)
    transitions = sorted((t, move) for log in logs for t, move in log["transitions"])
    failing_calls = sum(1 for _, _, failing, probe in served if failing and not probe)
    probes_while_failing = sum(1 for _, _, failing, probe in served if failing and probe)
    probes = [(a, d) for a, d, _, probe in served if probe]

    recovery: float | None = 0.0
    last_closed_worker = 0.0
    for log in logs:
        after = [(kind, start) for kind, start, _ in log["attempts"] if start >= recovered_at]
        last_refusal = max((s for k, s in after if k == "refused"), default=None)
        closed = [s for k, s in after if k == "ok" and (last_refusal is None or s > last_refusal)]
        if not closed or after[-1][0] == "refused":
            recovery = None
            break
        assert recovery is not None
        recovery = max(recovery, min(closed) - recovered_at)
        last_closed_worker = max(last_closed_worker, min(closed))
    closes = [t for t, move in transitions if move.endswith(">closed") and t >= recovered_at]
    close_to_all = None if recovery is None or not closes else max(0.0, last_closed_worker - max(closes))

    return FleetResult(
        breaker=label,
        workers=scenario.workers,
        failing_calls=failing_calls if stopped else None,
        probes_while_failing=probes_while_failing,
        most_probes_in_flight=_most_at_once(probes),
        recovery_s=recovery,
        close_to_all_s=close_to_all,
        refusals=sum(1 for log in logs for kind, _, _ in log["attempts"] if kind == "refused"),
        calls=len(served),
        transitions=[move for _, move in transitions],
    )


def _most_at_once(intervals: list[tuple[float, float]]) -> int:
    edges = sorted([(a, 1) for a, _ in intervals] + [(d, -1) for _, d in intervals], key=lambda e: (e[0], e[1]))
    most = current = 0
    for _, step in edges:
        current += step
        most = max(most, current)
    return most


def result_json(result: FleetResult) -> dict[str, Any]:
    return asdict(result)
