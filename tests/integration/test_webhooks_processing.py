"""Exactly once under duplication, crashes and poison; replay on purpose (real DynamoDB Local and moto).

- The same delivery sent 50 times at once is stored once and processed once.
- One queue message delivered twice at once is processed once.
- A processor killed (SIGKILL) mid-batch loses nothing and redoes nothing already done.
- A poison event ends in the dead-letter queue and is visible as FAILED, with attempts and the error.
- A verified body the processor cannot read ends FAILED at once, without retries.
- Replay processes an event again, on purpose.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from gatehouse.clients.dynamo import dynamodb_client
from gatehouse.jobs import make_batch_handler
from gatehouse.webhooks.dynamo import DynamoEventStore
from gatehouse.webhooks.intake import Delivery
from gatehouse.webhooks.processor import QueueMessage, WebhookProcessor, dispatch_message
from gatehouse.webhooks.records import FAILED, PROCESSED, RECEIVED, WebhookEvent, event_id_for
from tests import webhook_signing as signing
from tests.helpers import FakeLambdaContext
from tests.integration.webhooks_support import (
    BusCapture,
    NoRetryDelay,
    RecordingPublisher,
    admin,
    deliver,
    event,
    new_source_name,
    private_table,
    put_source,
    sqs_record,
)

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _event(n: int, body: bytes = b'{"type": "x.y"}', content_type: str = "application/json") -> WebhookEvent:
    return WebhookEvent(
        id=event_id_for("private", f"d-{n}-{time.monotonic_ns()}"),
        source="private",
        delivery_id=f"d-{n}",
        event_type="x.y",
        status=RECEIVED,
        received_at="2026-01-01T00:00:00Z",
        body=body,
        headers={"content-type": content_type},
        expires_at=int(time.time()) + 86_400 * 5,
    )


@pytest.fixture
def store(local_stack):
    return DynamoEventStore(dynamodb_client(), private_table(local_stack))


def _processor(store, publisher, *, sink=None, retry=None, clock=time.time, max_receives=5):
    from gatehouse.webhooks.engagement_log import LoggingEngagementSink

    return WebhookProcessor(
        store,
        publisher,
        sink or LoggingEngagementSink(),
        retry or NoRetryDelay(),
        max_receives=max_receives,
        lease_seconds=60,
        retry_base_seconds=0,
        clock=clock,
    )


def test_the_same_delivery_sent_50_times_at_once_is_stored_and_processed_once(local_stack, wait_until):
    from gatehouse.webhooks.runtime import webhook_intake

    name = new_source_name("burst")
    assert put_source(local_stack, name, "standard", [signing.SECRETS["standard"]]).status_code == 201
    bus = BusCapture(local_stack)
    body = b'{"type": "burst.test"}'
    headers = {**signing.standard_headers(signing.SECRETS["standard"], body), "content-type": "application/json"}
    intake = webhook_intake()
    barrier = threading.Barrier(50)
    answers = []

    def send() -> None:
        barrier.wait()
        answers.append(intake.receive(Delivery(name, body, headers, "192.0.2.1")))

    threads = [threading.Thread(target=send) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(answers) == 50
    assert sum(not a.duplicate for a in answers) == 1
    assert len({a.event_id for a in answers}) == 1
    event_id = answers[0].event_id
    wait_until(lambda: event(local_stack, event_id)["status"] == PROCESSED, timeout=20)
    assert event(local_stack, event_id)["attempts"] == 1
    time.sleep(1.0)  # let a second dispatch, if there were one, run through
    bus.drain(wait=0.5)
    assert len(bus.for_event(event_id)) == 1
    listed = requests.get(
        f"{local_stack.api_url}/v1/webhook-events?source={name}", headers=admin(local_stack), timeout=30
    ).json()
    assert [e["id"] for e in listed["items"]] == [event_id]


def test_one_message_delivered_twice_at_once_is_processed_once(store):
    stored = _event(1)
    assert store.accept(stored)
    publisher = RecordingPublisher()
    processor = _processor(store, publisher)
    barrier = threading.Barrier(2)
    outcomes = []

    def run(message_id: str) -> None:
        barrier.wait()
        try:
            processor.process(QueueMessage(message_id, dispatch_message(stored.id, 1), 1, "r"))
            outcomes.append("ok")
        except Exception as error:  # the loser is told to retry later
            outcomes.append(type(error).__name__)

    threads = [threading.Thread(target=run, args=(f"m{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert publisher.published == [(stored.id, 1)]
    assert store.get(stored.id).status == PROCESSED
    assert set(outcomes) <= {"ok", "ProcessingDeferred"}
    # Delivered once more, later: nothing is redone.
    processor.process(QueueMessage("m3", dispatch_message(stored.id, 1), 2, "r"))
    assert publisher.published == [(stored.id, 1)]


def test_a_processor_killed_mid_batch_loses_nothing_and_redoes_nothing(local_stack, store, tmp_path):
    events = [_event(n) for n in range(6)]
    for e in events:
        assert store.accept(e)
    batch = {"Records": [sqs_record(f"m{n}", dispatch_message(e.id, 1)) for n, e in enumerate(events)]}
    log = tmp_path / "published.log"
    script = tmp_path / "killed.py"
    # The child publishes by appending to a file, and SIGKILLs itself when asked for the 4th event.
    script.write_text(
        "import json, os, signal, sys\n"
        "from gatehouse.clients.dynamo import dynamodb_client\n"
        "from gatehouse.jobs import make_batch_handler\n"
        "from gatehouse.webhooks.dynamo import DynamoEventStore\n"
        "from gatehouse.webhooks.engagement_log import LoggingEngagementSink\n"
        "from gatehouse.webhooks.processor import QueueMessage, WebhookProcessor\n"
        "from tests.helpers import FakeLambdaContext\n"
        "table, log, batch = sys.argv[1], sys.argv[2], json.loads(open(sys.argv[3]).read())\n"
        "class Publisher:\n"
        "    calls = 0\n"
        "    def publish(self, event, payload):\n"
        "        Publisher.calls += 1\n"
        "        if Publisher.calls == 4:\n"
        "            os.kill(os.getpid(), signal.SIGKILL)\n"
        "        with open(log, 'a') as fh:\n"
        "            fh.write(event.id + '\\n'); fh.flush(); os.fsync(fh.fileno())\n"
        "class NoDelay:\n"
        "    def delay(self, handle, seconds): pass\n"
        "processor = WebhookProcessor(DynamoEventStore(dynamodb_client(), table), Publisher(),\n"
        "    LoggingEngagementSink(), NoDelay(), max_receives=5, lease_seconds=60)\n"
        "def handle(record):\n"
        "    processor.process(QueueMessage(record.message_id, record.body,\n"
        "        int(record.attributes.approximate_receive_count), record.receipt_handle))\n"
        "make_batch_handler(handle)(batch, FakeLambdaContext())\n"
    )
    batch_file = tmp_path / "batch.json"
    batch_file.write_text(json.dumps(batch))
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'layers' / 'common'}:{ROOT}"}
    child = subprocess.run(
        [sys.executable, str(script), store._table, str(log), str(batch_file)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    assert log.read_text().split() == [e.id for e in events[:3]]
    assert [store.get(e.id).status for e in events] == [PROCESSED] * 3 + [RECEIVED] * 3
    assert store.get(events[3].id).lease_until is not None  # the dead processor's lease

    # The queue delivers the whole batch again once the lease is over (here: a clock past it).
    class AppendingPublisher:
        def publish(self, published_event, payload):
            with log.open("a") as fh:
                fh.write(published_event.id + "\n")

    processor = _processor(store, AppendingPublisher(), clock=lambda: time.time() + 120)
    redelivered = {
        "Records": [{**r, "attributes": {**r["attributes"], "ApproximateReceiveCount": "2"}} for r in batch["Records"]]
    }

    def handle(record):
        processor.process(
            QueueMessage(record.message_id, record.body, int(record.attributes.approximate_receive_count), "r")
        )

    answer = make_batch_handler(handle)(redelivered, FakeLambdaContext())
    assert answer == {"batchItemFailures": []}
    assert sorted(log.read_text().split()) == sorted(e.id for e in events)  # each published exactly once
    assert all(store.get(e.id).status == PROCESSED for e in events)
    assert [store.get(e.id).attempts for e in events] == [1, 1, 1, 2, 1, 1]


class _PoisonSink:
    def record(self, campaign_id, engagement_type, user_id, attributes):
        raise RuntimeError("campaign store is refusing this engagement")


def test_a_poison_event_ends_in_the_dead_letter_queue_and_is_visible_as_failed(local_stack, store):
    from local.resources import client

    sqs = client("sqs", local_stack.aws_endpoint_url)
    suffix = str(time.monotonic_ns())
    dlq_url = sqs.create_queue(QueueName=f"poison-dlq-{suffix}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})
    url = sqs.create_queue(
        QueueName=f"poison-{suffix}", Attributes={"RedrivePolicy": redrive, "VisibilityTimeout": "30"}
    )["QueueUrl"]
    poison = _event(1, json.dumps({"campaignId": "c-1", "engagementType": "click", "userId": "u-1"}).encode())
    healthy = _event(2)
    for e in (poison, healthy):
        assert store.accept(e)
        sqs.send_message(QueueUrl=url, MessageBody=dispatch_message(e.id, 1))

    from gatehouse.webhooks.sqs_retry import SqsRetryScheduler

    publisher = RecordingPublisher()
    processor = _processor(store, publisher, sink=_PoisonSink(), retry=SqsRetryScheduler(sqs, url), max_receives=3)

    def handle(record):
        processor.process(
            QueueMessage(
                record.message_id, record.body, int(record.attributes.approximate_receive_count), record.receipt_handle
            )
        )

    handler = make_batch_handler(handle)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0)
        messages = got.get("Messages") or []
        if not messages:
            if int(sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"])[
                "Attributes"]["ApproximateNumberOfMessages"]):  # fmt: skip
                break
            time.sleep(0.1)
            continue
        records = [
            sqs_record(m["MessageId"], m["Body"], int(m["Attributes"]["ApproximateReceiveCount"]), m["ReceiptHandle"])
            for m in messages
        ]
        failures = {
            f["itemIdentifier"] for f in handler({"Records": records}, FakeLambdaContext())["batchItemFailures"]
        }
        done = [m for m in messages if m["MessageId"] not in failures]
        for m in done:  # what Lambda's event source mapping does with the successes
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

    dead = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10).get("Messages") or []
    assert [json.loads(m["Body"])["eventId"] for m in dead] == [poison.id]
    failed = store.get(poison.id)
    assert failed.status == FAILED and failed.attempts == 3
    assert "campaign store is refusing" in (failed.last_error or "")
    assert store.get(healthy.id).status == PROCESSED
    assert publisher.published == [(healthy.id, 1)]  # the poison never reached the bus


def test_an_unreadable_verified_body_ends_failed_without_retries(store):
    unreadable = _event(1, b"\xff\xfe not utf-8", "application/json")
    assert store.accept(unreadable)
    publisher = RecordingPublisher()
    _processor(store, publisher).process(QueueMessage("m1", dispatch_message(unreadable.id, 1), 1, "r"))
    failed = store.get(unreadable.id)
    assert failed.status == FAILED and failed.attempts == 1 and "UTF-8" in failed.last_error
    assert publisher.published == []


def test_replay_processes_again_on_purpose(local_stack, wait_until):
    name = new_source_name("replay")
    assert put_source(local_stack, name, "hmac-sha256", [signing.SECRETS["hmac-sha256"]]).status_code == 201
    bus = BusCapture(local_stack)
    body = b'{"kind": "replayable"}'
    accepted = deliver(
        local_stack, name, body, signing.sign("hmac-sha256", signing.SECRETS["hmac-sha256"], body, event="thing.made")
    )
    event_id = accepted.json()["id"]
    wait_until(lambda: event(local_stack, event_id)["status"] == PROCESSED, timeout=20)

    replay = requests.post(
        f"{local_stack.api_url}/v1/webhook-events/{event_id}/replay", headers=admin(local_stack), timeout=30
    )
    assert replay.status_code == 202, replay.text
    assert replay.json()["generation"] == 2 and replay.json()["replayCount"] == 1
    wait_until(lambda: event(local_stack, event_id)["status"] == PROCESSED, timeout=20)
    bus.drain(wait=1.0)
    published = bus.for_event(event_id)
    assert sorted(p["detail"]["generation"] for p in published) == [1, 2]
    assert {p["detail-type"] for p in published} == {f"webhook.{name}.thing.made"}


def test_replay_of_an_event_still_in_flight_is_a_conflict(local_stack, store):
    from gatehouse.errors import ConflictError
    from gatehouse.webhooks.event_service import WebhookEventsService

    pending = _event(1)
    assert store.accept(pending)
    with pytest.raises(ConflictError):
        WebhookEventsService(store, retention_seconds=4 * 86_400).replay(pending.id)
