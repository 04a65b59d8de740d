"""Helpers of the campaign and timer suites: principals, campaigns, deliveries, and a tap on the event bus."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from local.resources import client
from tests.e2e.tokens import call, mint
from tests.helpers import FakeLambdaContext

CAMPAIGN_SCOPES = "campaigns:read campaigns:write timers:write"
BUS = "gatehouse-local-events"


def at(seconds_from_now: float) -> str:
    """An RFC 3339 UTC time that many seconds from now, on a whole second."""
    moment = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds_from_now)
    return moment.isoformat().replace("+00:00", "Z")


class Caller:
    """A JWT principal of the local dev issuer (its own owner), with a token per scope set."""

    def __init__(self, stack: Any, scope: str = CAMPAIGN_SCOPES) -> None:
        self.stack = stack
        self.sub = f"e2e-{uuid.uuid4().hex}"
        self.token = mint(stack.bootstrap_info, sub=self.sub, scope=scope, tier="enterprise", lifetime=3600)

    def __call__(self, method: str, path: str, **kwargs: Any) -> Any:
        return call(self.stack, method, path, self.token, **kwargs)

    def principal(self) -> Any:
        from gatehouse.principal import Principal

        return Principal(self.sub, self.sub, "jwt", "enterprise", frozenset(CAMPAIGN_SCOPES.split()))

    def create(self, start_in: float = 3600, end_in: float = 7200, **extra: Any) -> dict[str, Any]:
        body = {"name": "e2e campaign", "startTime": at(start_in), "endTime": at(end_in), **extra}
        response = self("POST", "/v1/campaigns", json=body)
        assert response.status_code == 201, response.text
        return response.json()


def timer_of(campaign: dict[str, Any], kind: str) -> dict[str, Any]:
    (timer,) = [t for t in campaign["timers"] if t["type"] == kind]
    return timer


def delivery(campaign_id: str, timer_id: str, generation: int = 1) -> dict[str, Any]:
    """The input Scheduler sends the timer function (placeholders filled in, as they are per attempt)."""
    return {
        "timerId": timer_id,
        "ownerKind": "campaign",
        "ownerId": campaign_id,
        "generation": generation,
        "executionId": uuid.uuid4().hex[:16],
        "attempt": "1",
    }


def all_at_once(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run `work(i)` in `count` threads released together; answers their results (or exceptions)."""
    barrier = threading.Barrier(count)

    def run(i: int) -> Any:
        barrier.wait()
        try:
            return work(i)
        except Exception as error:
            return error

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def deliver_concurrently(stack: Any, event: dict[str, Any], count: int) -> list[Any]:
    """The timer function's handler called `count` times at once with the same delivery (bypassing the
    local invoker's one-instance pool, so the calls really overlap, as parallel Lambda instances do)."""
    handler = stack.function_module("TimerFireFunction").lambda_handler
    return all_at_once(count, lambda i: handler(dict(event), FakeLambdaContext(function_name="timer-fire")))


class BusTap:
    """A rule on the project's bus that copies Gatehouse's own events to a queue the test reads."""

    def __init__(self, stack: Any) -> None:
        self.sqs = client("sqs", stack.aws_endpoint_url)
        self.events = client("events", stack.aws_endpoint_url)
        suffix = uuid.uuid4().hex[:8]
        self.rule = f"e2e-tap-{suffix}"
        self.url = self.sqs.create_queue(QueueName=f"e2e-tap-{suffix}")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        pattern = {"source": ["gatehouse.campaigns", "gatehouse.timers"]}
        self.events.put_rule(Name=self.rule, EventBusName=BUS, EventPattern=json.dumps(pattern))
        self.events.put_targets(
            Rule=self.rule,
            EventBusName=BUS,
            Targets=[
                {
                    "Id": "tap",
                    "Arn": arn,
                    "InputTransformer": {"InputPathsMap": {}, "InputTemplate": "<aws.events.event.json>"},
                }
            ],
        )
        self.seen: list[dict[str, Any]] = []

    def drain(self) -> list[dict[str, Any]]:
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
                "Messages", []
            )
            if not messages:
                return self.seen
            for message in messages:
                self.seen.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])

    def of(self, event_type: str, **detail: Any) -> list[dict[str, Any]]:
        """The events of `event_type` whose detail has these values (after draining the queue)."""
        return [
            e
            for e in self.drain()
            if e["detail-type"] == event_type and all(e["detail"].get(k) == v for k, v in detail.items())
        ]

    def close(self) -> None:
        self.events.remove_targets(Rule=self.rule, EventBusName=BUS, Ids=["tap"])
        self.events.delete_rule(Name=self.rule, EventBusName=BUS)
        self.sqs.delete_queue(QueueUrl=self.url)
