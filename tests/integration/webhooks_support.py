"""Helpers for the webhook tests on the local stack: sources, HTTP deliveries, a bus capture, item reads."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import requests

from local.resources import client
from local.stack import LocalStack


def admin(stack: LocalStack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.bootstrap_info['adminKey']}"}


def new_source_name(prefix: str = "src") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def put_source(stack: LocalStack, name: str, scheme: str, secrets: list[str], **extra: Any) -> requests.Response:
    body = {"scheme": scheme, "secrets": secrets, **extra}
    return requests.put(f"{stack.api_url}/v1/webhook-sources/{name}", json=body, headers=admin(stack), timeout=30)


def deliver(stack: LocalStack, name: str, body: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(f"{stack.api_url}/webhooks/{name}", data=body, headers=headers, timeout=30)


def event(stack: LocalStack, event_id: str) -> dict[str, Any]:
    answer = requests.get(f"{stack.api_url}/v1/webhook-events/{event_id}", headers=admin(stack), timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


class BusCapture:
    """A queue subscribed to the stack's bus for Gatehouse's webhook events (moto delivers rule targets)."""

    def __init__(self, stack: LocalStack) -> None:
        assert stack.template is not None
        bus = next(iter(stack.template.buses.values())).name
        self.sqs = client("sqs", stack.aws_endpoint_url)
        self.events = client("events", stack.aws_endpoint_url)
        name = f"capture-{uuid.uuid4().hex[:8]}"
        self.url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.events.put_rule(
            Name=name, EventBusName=bus, EventPattern=json.dumps({"source": ["gatehouse.webhooks"]}), State="ENABLED"
        )
        self.events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "capture", "Arn": arn}])
        self.received: list[dict[str, Any]] = []

    def drain(self, wait: float = 0.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + wait
        while True:
            answer = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = answer.get("Messages") or []
            for m in messages:
                self.received.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])
            if not messages and time.monotonic() >= deadline:
                return self.received
            if not messages:
                time.sleep(0.1)

    def for_event(self, event_id: str) -> list[dict[str, Any]]:
        return [e for e in self.received if e.get("detail", {}).get("eventId") == event_id]


class RecordingPublisher:
    """An EventPublisher that only counts what it was asked to publish."""

    def __init__(self) -> None:
        self.published: list[tuple[str, int]] = []

    def publish(self, event: Any, payload: Any) -> None:
        del payload
        self.published.append((event.id, event.generation))


class NoRetryDelay:
    def delay(self, receipt_handle: str, seconds: int) -> None:
        del receipt_handle, seconds


def private_table(stack: LocalStack) -> str:
    """A table shaped like the template's, without a stream: no dispatch pipe touches its events."""
    from local.resources import create_table
    from local.template import Table

    assert stack.template is not None
    template_table = next(iter(stack.template.tables.values()))
    properties = {k: v for k, v in template_table.properties.items() if k != "StreamSpecification"}
    name = f"webhooks-private-{uuid.uuid4().hex[:8]}"
    create_table(client("dynamodb", stack.dynamodb_endpoint_url), Table("Private", name, properties))
    return name


def sqs_record(message_id: str, body: str, receive_count: int = 1, receipt: str = "r") -> dict[str, Any]:
    """One SQS record as Lambda's event source mapping delivers it."""
    return {
        "messageId": message_id,
        "receiptHandle": receipt,
        "body": body,
        "attributes": {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": "0"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:private",
        "awsRegion": "us-east-1",
    }
