"""Wires the events area for Lambda: the relay over the table's outbox and the project's bus."""

from __future__ import annotations

from gatehouse.clients.aws import aws_client
from gatehouse.clients.dynamo import dynamodb_client, table_name
from gatehouse.events.bridge import EventBridgePublisher
from gatehouse.events.dynamo import DynamoOutbox
from gatehouse.events.service import EventRelay
from gatehouse.settings import get_settings
from gatehouse.wiring import provided


@provided
def event_relay() -> EventRelay:
    return EventRelay(
        DynamoOutbox(dynamodb_client(), table_name()),
        EventBridgePublisher(aws_client("events"), get_settings().event_bus_name),
    )
