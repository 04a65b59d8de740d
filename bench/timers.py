"""Timers section: firings per second in-process against DynamoDB Local, lateness seen locally, AWS calls counted.

- Throughput: campaigns are created (with their timers, no schedules) and their START timers are
  fired in-process through the real TimersService and the campaigns' action on DynamoDB Local,
  one at a time and from 8 threads: each firing is a read, a claim, the action's read, the
  commit of effect + completion + outbox, the publish (moto's EventBridge) and marking the outbox item published.
- Lateness: campaigns starting a few seconds out are fired by the local scheduler runner from
  real (moto) schedules; lateness is executedAt minus scheduledAt. Locally that is the runner's
  polling plus the work; on AWS, Scheduler's one-minute precision dominates (docs/timers.md).
- Calls: AWS API calls per create, firing, duplicate delivery, cancel and idle sweep, counted
  with the stack's background runners stopped, so every call counted is the operation's own.
"""

from __future__ import annotations

import contextlib
import io
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.client import BaseClient

from bench.measure import QUIET
from bench.table import Table
from local.stack import LocalStack

ROOT = Path(__file__).resolve().parent.parent
LATENESS_CAMPAIGNS = 12


def _at(seconds: float) -> str:
    return (datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds)).isoformat()


class _NoSchedules:
    """A ScheduleGateway that keeps nothing: the throughput part measures firing, not moto's Scheduler."""

    def create(self, timer: Any) -> None:
        return None

    def delete(self, timer_id: str, generation: int) -> None:
        return None

    def exists(self, timer: Any) -> bool:
        return True


@contextmanager
def _aws_calls() -> Iterator[Counter[str]]:
    calls: Counter[str] = Counter()
    original = BaseClient._make_api_call

    def counted(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        calls[f"{client.meta.service_model.service_name}:{operation}"] += 1
        return original(client, operation, params)

    BaseClient._make_api_call = counted
    try:
        yield calls
    finally:
        BaseClient._make_api_call = original


def _fmt(calls: Counter[str], service: str) -> str:
    picked = sorted((k.split(":", 1)[1], v) for k, v in calls.items() if k.startswith(service + ":"))
    return ", ".join(f"{op} {n}" for op, n in picked) or "-"


def run(redis_url: str, n: int) -> list[Table]:
    count = max(40, min(400, n // 20))
    stack = LocalStack(
        ROOT / "template.yaml",
        external_redis_url=redis_url,
        extra_env={"GATEHOUSE_LOCAL_SCHEDULER_POLL_SECONDS": "0.2"},
        parameter_overrides=QUIET,
    )
    stack.start()
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # Powertools prints EMF lines: keep the tables readable
            return _run(stack, count)
    finally:
        stack.stop()


def _run(stack: LocalStack, count: int) -> list[Table]:
    from gatehouse.campaigns.dynamo import DynamoCampaignStore
    from gatehouse.campaigns.requests import CreateCampaignRequest
    from gatehouse.campaigns.runtime import campaigns_service
    from gatehouse.campaigns.service import CampaignsService
    from gatehouse.clients.dynamo import dynamodb_client, table_name
    from gatehouse.events.runtime import event_relay
    from gatehouse.principal import Principal
    from gatehouse.timer_actions import timer_actions
    from gatehouse.timers.dynamo import DynamoTimerStore
    from gatehouse.timers.records import TimerDelivery
    from gatehouse.timers.runtime import new_transaction, timers_service
    from gatehouse.timers.service import TimersService

    owner = f"bench-{uuid.uuid4().hex[:8]}"
    caller = Principal(
        owner, owner, "jwt", "enterprise", frozenset({"campaigns:read", "campaigns:write", "timers:write"})
    )

    # -- throughput -----------------------------------------------------------------------------------
    timers = TimersService(
        DynamoTimerStore(dynamodb_client(), table_name()),
        _NoSchedules(),
        event_relay(),
        new_transaction=new_transaction,
    )
    campaigns = CampaignsService(
        DynamoCampaignStore(dynamodb_client(), table_name()), timers, event_relay(), new_transaction=new_transaction
    )
    actions = {"campaign": campaigns.run_timer}

    def batch(size: int) -> list[TimerDelivery]:
        body = CreateCampaignRequest.model_validate({"name": "bench", "startTime": _at(86400), "endTime": _at(90000)})
        created = [campaigns.create(caller, body) for _ in range(size)]
        return [
            TimerDelivery(next(t.timer_id for t in c.timers if t.type == "START"), "campaign", c.id, 1) for c in created
        ]

    throughput_rows = []
    for workers in (1, 8):
        deliveries = batch(count)
        started = time.perf_counter()
        if workers == 1:
            results = [timers.fire_delivery(d, actions, "scheduler") for d in deliveries]
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                results = list(pool.map(lambda d: timers.fire_delivery(d, actions, "scheduler"), deliveries))
        elapsed = time.perf_counter() - started
        fired = sum(1 for r in results if r.status == "fired")
        throughput_rows.append([f"{workers} thread{'s' if workers > 1 else ''}", fired, elapsed, fired / elapsed,
                                elapsed / max(fired, 1) * 1000])  # fmt: skip
        # and the same deliveries again: every one a duplicate
        started = time.perf_counter()
        duplicates = [timers.fire_delivery(d, actions, "scheduler") for d in deliveries[: min(100, count)]]
        elapsed = time.perf_counter() - started
        assert all(r.status == "ignored" for r in duplicates)
        if workers == 1:
            throughput_rows.append(["1 thread, duplicate deliveries", len(duplicates), elapsed,
                                    len(duplicates) / elapsed, elapsed / len(duplicates) * 1000])  # fmt: skip

    # -- lateness from real schedules fired by the local scheduler runner ------------------------------
    service = campaigns_service()
    created = [
        service.create(
            caller,
            CreateCampaignRequest.model_validate(
                {"name": "lateness", "startTime": _at(3 + i % 4), "endTime": _at(3600)}
            ),
        )
        for i in range(LATENESS_CAMPAIGNS)
    ]
    deadline = time.monotonic() + 30
    lateness: list[int] = []
    while time.monotonic() < deadline:
        lateness = []
        for campaign in created:
            start = next(t for t in timers_service().list_for_owner("campaign", campaign.id) if t.timer_type == "START")
            if start.status == "COMPLETED" and start.lateness_ms is not None:
                lateness.append(start.lateness_ms)
        if len(lateness) == len(created):
            break
        time.sleep(0.25)
    lateness.sort()
    p95 = lateness[min(len(lateness) - 1, round(0.95 * (len(lateness) - 1)))] if lateness else 0
    lateness_row = [len(lateness), statistics.median(lateness) if lateness else 0, p95, max(lateness, default=0),
                    stack.scheduler_runner.poll_seconds * 1000 if stack.scheduler_runner else 0]  # fmt: skip

    # -- AWS calls per operation (runners stopped: nothing else calls AWS meanwhile) -------------------
    for runner in [stack.rate_runner, stack.scheduler_runner, *stack.queue_consumers, *stack.bus_consumers]:
        if runner is not None:
            runner.stop()
    body = CreateCampaignRequest.model_validate({"name": "calls", "startTime": _at(3600), "endTime": _at(7200)})
    rows: list[tuple[str, Counter[str]]] = []
    with _aws_calls() as calls:
        campaign = service.create(caller, body)
    rows.append(("create a campaign (START + END timers)", calls))
    first = next(t for t in campaign.timers if t.type == "START")
    delivery = TimerDelivery(first.timer_id, "campaign", campaign.id, 1)
    with _aws_calls() as calls:
        timers_service().fire_delivery(delivery, timer_actions(), "scheduler")
    rows.append(("fire a timer (Scheduler delivery, START)", calls))
    with _aws_calls() as calls:
        timers_service().fire_delivery(delivery, timer_actions(), "scheduler")
    rows.append(("duplicate delivery of a fired timer", calls))
    with _aws_calls() as calls:
        service.cancel(caller, campaign.id, "bench")
    rows.append(("cancel a RUNNING campaign (END pending)", calls))
    with _aws_calls() as calls:
        timers_service().sweep(timer_actions())
    rows.append(("sweep with nothing due (per minute)", calls))
    call_rows = [
        [label, sum(v for k, v in c.items() if k.startswith("dynamodb:")), _fmt(c, "dynamodb"),
         sum(v for k, v in c.items() if k.startswith("scheduler:")), _fmt(c, "scheduler"),
         sum(v for k, v in c.items() if not k.startswith(("dynamodb:", "scheduler:"))),
         ", ".join(f"{k} {v}" for k, v in sorted(c.items()) if not k.startswith(("dynamodb:", "scheduler:"))) or "-"]
        for label, c in rows
    ]  # fmt: skip
    store = "DynamoDB Local" if stack.services.dynamodb_fallback_reason is None else "moto (no Java)"
    return [
        Table(
            f"Timer firings in-process against {store} (campaign action, outbox and publish included; "
            f"{count} timers per row)",
            ["firing", "timers", "seconds", "firings/s", "ms per firing"],
            throughput_rows,
        ),
        Table(
            "Lateness seen locally: executedAt - scheduledAt of START timers fired from real schedules by the "
            "local scheduler runner (AWS: within the scheduled minute, docs/timers.md)",
            ["timers fired", "p50 ms", "p95 ms", "max ms", "runner poll ms"],
            [lateness_row],
        ),
        Table(
            "AWS calls per timer operation (counted; the same numbers tests/integration/test_timer_costs.py asserts)",
            ["operation", "DynamoDB", "DynamoDB ops", "Scheduler", "Scheduler ops", "other", "other ops"],
            call_rows,
        ),
    ]
