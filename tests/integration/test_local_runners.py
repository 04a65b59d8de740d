"""The runners against moto: Scheduler one-time and rate schedules, SQS event sources, rate events."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from local.resources import client
from local.runners import at_time
from local.template import arn_for

pytestmark = pytest.mark.integration

GROUP = "gatehouse-local-fixture-timers"


@pytest.fixture
def scheduler(fixture_stack):
    return client("scheduler", fixture_stack.aws_endpoint_url)


@pytest.fixture
def sqs(fixture_stack):
    return client("sqs", fixture_stack.aws_endpoint_url)


def target_arn(stack) -> str:
    return stack.template.functions["FixtureTimerTargetFunction"].arn


def at_expression(seconds_from_now: float = -1) -> str:
    when = datetime.now(UTC) + timedelta(seconds=seconds_from_now)
    return f"at({when.strftime('%Y-%m-%dT%H:%M:%S')})"


def create_one_time(
    scheduler, stack, name: str, payload: dict, *, action="DELETE", retries=2, dlq=None, expression=None
) -> None:
    target = {
        "Arn": target_arn(stack),
        "RoleArn": f"arn:aws:iam::123456789012:role/{name}",
        "Input": json.dumps(payload),
        "RetryPolicy": {"MaximumRetryAttempts": retries, "MaximumEventAgeInSeconds": 3600},
    }
    if dlq:
        target["DeadLetterConfig"] = {"Arn": dlq}
    scheduler.create_schedule(
        Name=name,
        GroupName=GROUP,
        ScheduleExpression=expression or at_expression(),
        ScheduleExpressionTimezone="UTC",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target=target,
        ActionAfterCompletion=action,
    )


def events_for(fixture_module, marker: str) -> list[dict]:
    return [e for e in fixture_module("FixtureTimerTargetFunction").EVENTS if e.get("marker") == marker]


def schedule_exists(scheduler, name: str) -> bool:
    try:
        scheduler.get_schedule(GroupName=GROUP, Name=name)
        return True
    except scheduler.exceptions.ResourceNotFoundException:
        return False


def test_due_one_time_schedule_fires_with_its_input_and_is_deleted(
    fixture_stack, fixture_module, scheduler, wait_until
):
    marker = f"due-{uuid.uuid4().hex[:8]}"
    payload = {
        "marker": marker,
        "timerId": "t-1",
        "scheduleArn": "<aws.scheduler.schedule-arn>",
        "scheduledTime": "<aws.scheduler.scheduled-time>",
        "executionId": "<aws.scheduler.execution-id>",
        "attempt": "<aws.scheduler.attempt-number>",
    }
    create_one_time(scheduler, fixture_stack, marker, payload)
    (event,) = wait_until(lambda: events_for(fixture_module, marker), timeout=5)
    assert event["timerId"] == "t-1"
    assert event["scheduleArn"] == arn_for("scheduler", f"schedule/{GROUP}/{marker}")
    assert event["scheduledTime"].endswith("Z")
    uuid.UUID(event["executionId"])
    assert event["attempt"] == "1"
    wait_until(lambda: not schedule_exists(scheduler, marker), timeout=5)


def test_future_schedule_waits_and_none_action_fires_once_and_stays(
    fixture_stack, fixture_module, scheduler, wait_until
):
    marker = f"none-{uuid.uuid4().hex[:8]}"
    expression = at_expression(2)
    create_one_time(scheduler, fixture_stack, marker, {"marker": marker}, action="NONE", expression=expression)
    runner = fixture_stack.scheduler_runner

    def deliveries() -> list:
        return [d for d in runner.deliveries if d.schedule == marker]

    (delivery,) = wait_until(deliveries, timeout=6)
    assert delivery.ok and len(events_for(fixture_module, marker)) == 1
    # It waited for its time: delivered no earlier than the second its at() names (however long the
    # create took), not at the first poll that saw it.
    assert delivery.at >= at_time(expression, "UTC").timestamp()
    # Several more polls go by (counted, not slept through): it never fires twice, and it is still there.
    polls = runner.polls
    wait_until(lambda: runner.polls >= polls + 4, timeout=10)
    assert len(events_for(fixture_module, marker)) == 1
    assert deliveries() == [delivery]
    assert schedule_exists(scheduler, marker)


def test_failing_target_is_retried_with_a_new_execution_id(fixture_stack, fixture_module, scheduler, wait_until):
    marker = f"retry-{uuid.uuid4().hex[:8]}"
    payload = {
        "marker": marker,
        "failUntil": 2,
        "attempt": "<aws.scheduler.attempt-number>",
        "executionId": "<aws.scheduler.execution-id>",
    }
    create_one_time(scheduler, fixture_stack, marker, payload, retries=3)
    events = wait_until(lambda: (e := events_for(fixture_module, marker)) and len(e) >= 3 and e, timeout=8)
    assert [e["attempt"] for e in events] == ["1", "2", "3"]
    assert len({e["executionId"] for e in events}) == 3
    wait_until(lambda: not schedule_exists(scheduler, marker), timeout=5)


def test_exhausted_retries_go_to_the_dead_letter_queue(fixture_stack, fixture_module, scheduler, sqs, wait_until):
    marker = f"dlq-{uuid.uuid4().hex[:8]}"
    dlq_name = "gatehouse-local-fixture-timer-dlq"
    dlq_url = sqs.get_queue_url(QueueName=dlq_name)["QueueUrl"]
    create_one_time(
        scheduler, fixture_stack, marker, {"marker": marker, "failUntil": -1}, retries=1, dlq=arn_for("sqs", dlq_name)
    )

    def dead_letter():
        for m in sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageAttributeNames=["All"]
        ).get("Messages", []):
            if json.loads(m["Body"]).get("marker") == marker:
                return m
        return None

    message = wait_until(dead_letter, timeout=8)
    assert len(events_for(fixture_module, marker)) == 2  # the first attempt and one retry
    assert message["MessageAttributes"]["TARGET_ARN"]["StringValue"] == target_arn(fixture_stack)
    wait_until(lambda: not schedule_exists(scheduler, marker), timeout=5)


def test_rate_schedule_in_a_group_fires_repeatedly(fixture_stack, fixture_module, scheduler, wait_until):
    marker = f"rate-{uuid.uuid4().hex[:8]}"
    scheduler.create_schedule(
        Name=marker,
        GroupName=GROUP,
        ScheduleExpression="rate(1 minute)",  # GATEHOUSE_LOCAL_RATE_SECONDS makes it 0.3 s here
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": target_arn(fixture_stack),
            "RoleArn": "arn:aws:iam::123456789012:role/x",
            "Input": json.dumps({"marker": marker}),
        },
    )
    try:
        wait_until(lambda: len(events_for(fixture_module, marker)) >= 2, timeout=8)
    finally:
        scheduler.delete_schedule(GroupName=GROUP, Name=marker)


def test_queue_consumer_deletes_successes_and_keeps_failures(fixture_stack, fixture_module, sqs, wait_until):
    queue_url = sqs.get_queue_url(QueueName="gatehouse-local-FixtureWorkQueue")["QueueUrl"]
    dlq_url = sqs.get_queue_url(QueueName="gatehouse-local-FixtureWorkDlq")["QueueUrl"]
    tag = uuid.uuid4().hex[:8]
    ok_id = sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=f"ok-{tag}",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "ok"}},
    )["MessageId"]
    fail_id = sqs.send_message(QueueUrl=queue_url, MessageBody=f"fail-{tag}")["MessageId"]
    received = fixture_module("FixtureConsumerFunction").RECEIVED

    def seen(message_id):
        return [r for r in received if r["messageId"] == message_id]

    (ok,) = wait_until(lambda: seen(ok_id), timeout=8)
    assert ok["eventSource"] == "aws:sqs"
    assert ok["eventSourceARN"] == arn_for("sqs", "gatehouse-local-FixtureWorkQueue")
    assert ok["awsRegion"] == "us-east-1"
    assert ok["body"] == f"ok-{tag}"
    assert ok["md5OfBody"]
    assert ok["receiptHandle"]
    assert ok["attributes"]["ApproximateReceiveCount"] == "1"
    assert ok["messageAttributes"]["kind"]["stringValue"] == "ok"
    assert ok["messageAttributes"]["kind"]["dataType"] == "String"
    # The failed message becomes visible again and is redelivered, then moves to the DLQ (maxReceiveCount 2);
    # the successful one was deleted and is never seen again.
    wait_until(lambda: len(seen(fail_id)) >= 2, timeout=10)

    def in_dlq():
        messages = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        return [m for m in messages if m["MessageId"] == fail_id]

    wait_until(in_dlq, timeout=10)
    assert len(seen(ok_id)) == 1


def test_rate_event_of_a_function_fires_with_a_scheduled_event(fixture_stack, fixture_module, wait_until):
    ticks = fixture_module("FixtureTickFunction").TICKS
    start = len(ticks)
    wait_until(lambda: len(ticks) >= start + 2, timeout=5)
    event = ticks[-1]
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.scheduler"
    assert event["time"].endswith("Z")


def test_template_schedule_resource_is_created_and_fired(fixture_stack, fixture_module, scheduler, wait_until):
    assert scheduler.get_schedule(GroupName=GROUP, Name="gatehouse-local-FixtureHeartbeat")["ScheduleExpression"]
    wait_until(lambda: events_for(fixture_module, "heartbeat"), timeout=5)
