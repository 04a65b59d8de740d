"""The local stack delivers bus events to the function whose EventBridgeRule matches them, as EventBridge does."""

from __future__ import annotations

import json
import uuid

import pytest

from local.resources import client
from local.template import load_template

pytestmark = pytest.mark.integration

BUS = "gatehouse-local-fixture-bus"


@pytest.fixture
def events(fixture_stack):
    return client("events", fixture_stack.aws_endpoint_url)


def put(events, detail_type: str, source: str, detail: dict) -> str:
    answer = events.put_events(
        Entries=[{"EventBusName": BUS, "Source": source, "DetailType": detail_type, "Detail": json.dumps(detail)}]
    )
    assert answer["FailedEntryCount"] == 0
    return answer["Entries"][0]["EventId"]


def received(fixture_module, marker: str) -> list[dict]:
    return [
        e for e in fixture_module("FixtureBusListenerFunction").EVENTS if e.get("detail", {}).get("marker") == marker
    ]


def test_the_template_rule_is_read_with_its_bus_pattern_and_dead_letter_queue(fixture_stack):
    (rule,) = [r for r in fixture_stack.template.bus_rules if r.function == "FixtureBusListenerFunction"]
    assert rule.bus == BUS
    assert rule.pattern["detail-type"] == ["order.placed", "order.cancelled"]
    assert rule.dead_letter_arn and rule.dead_letter_arn.endswith(":gatehouse-local-FixtureListenerDlq")


def test_a_matching_event_reaches_the_function_in_the_eventbridge_envelope(
    fixture_stack, fixture_module, events, wait_until
):
    # Given an event of a type the rule names, from a source it allows
    marker = uuid.uuid4().hex
    event_id = put(events, "order.placed", "shop.checkout", {"marker": marker, "total": 42})
    # Then the function gets it once, as EventBridge hands it to a Lambda target
    (event,) = wait_until(lambda: received(fixture_module, marker), timeout=8)
    assert event["id"] == event_id
    assert event["detail-type"] == "order.placed"
    assert event["source"] == "shop.checkout"
    assert event["detail"] == {"marker": marker, "total": 42}
    assert event["account"] == "123456789012" and event["region"] == "us-east-1"
    assert "ingestion-time" not in event
    assert event["version"] == "0" and event["resources"] == []
    assert isinstance(event["time"], str) and event["time"].endswith("Z")


def test_events_the_pattern_excludes_never_arrive(fixture_stack, fixture_module, events, wait_until):
    other_type, own_source, matching = uuid.uuid4().hex, uuid.uuid4().hex, uuid.uuid4().hex
    put(events, "order.shipped", "shop.checkout", {"marker": other_type})
    put(events, "order.placed", "fixture.internal.orders", {"marker": own_source})  # anything-but prefix
    put(events, "order.cancelled", "shop.checkout", {"marker": matching})
    wait_until(lambda: received(fixture_module, matching), timeout=8)  # sent last: the others had their chance
    assert received(fixture_module, other_type) == []
    assert received(fixture_module, own_source) == []


def test_a_failing_function_is_tried_three_times_then_dead_lettered(fixture_stack, fixture_module, events, wait_until):
    sqs = client("sqs", fixture_stack.aws_endpoint_url)
    dlq = sqs.get_queue_url(QueueName="gatehouse-local-FixtureListenerDlq")["QueueUrl"]
    marker = uuid.uuid4().hex
    put(events, "order.placed", "shop.checkout", {"marker": marker, "fail": True})

    def dead_lettered():
        for message in sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", []):
            if json.loads(message["Body"])["detail"]["marker"] == marker:
                return message
        return None

    wait_until(dead_lettered, timeout=10)
    assert len(received(fixture_module, marker)) == 3  # Lambda's asynchronous invocation: one try and two retries


def test_the_product_template_routes_inbound_campaign_events_to_their_function():
    template = load_template("template.yaml")
    (rule,) = template.bus_rules
    assert rule.function == "CampaignEventsFunction"
    assert rule.bus == "gatehouse-local-events"
    assert rule.pattern["detail-type"] == ["campaign.created", "campaign.updated", "campaign.cancelled"]
    assert rule.pattern["source"] == [{"anything-but": {"prefix": "gatehouse."}}]
