"""Wires callback delivery for Lambda: the resilient outbound client, outcomes recorded on the campaign,
the events Gatehouse recorded (the outbox), and the callback queue's consumer
(docs/resilience.md#how-callbacks-are-wired)."""

from __future__ import annotations

from gatehouse.callbacks.consumer import CallbackConsumer
from gatehouse.callbacks.records import CallbackOutcomes, RecordedEvents
from gatehouse.callbacks.service import CallbackDelivery
from gatehouse.clients.aws import aws_client
from gatehouse.clients.dynamo import dynamodb_client, table_name
from gatehouse.events.dynamo import DynamoOutbox
from gatehouse.resilience.runtime import outbound_client
from gatehouse.settings import get_settings
from gatehouse.webhooks.sqs_retry import SqsRetryScheduler
from gatehouse.wiring import provided


@provided
def callback_outcomes() -> CallbackOutcomes:
    # The campaign's own log: `callback.delivered` / `callback.failed`, once per event id.
    from gatehouse.campaigns.runtime import campaigns_service
    from gatehouse.campaigns.service import CampaignCallbackOutcomes

    return CampaignCallbackOutcomes(campaigns_service())


@provided
def callback_delivery() -> CallbackDelivery:
    return CallbackDelivery(
        outbound_client(), callback_outcomes(), max_deliveries=get_settings().callback_max_deliveries
    )


@provided
def recorded_events() -> RecordedEvents:
    # The outbox keeps each published event for a while (events/dynamo.py): one GetItem per message.
    return DynamoOutbox(dynamodb_client(), table_name())


@provided
def callback_consumer() -> CallbackConsumer:
    from gatehouse.campaigns.runtime import campaigns_service

    settings = get_settings()
    return CallbackConsumer(
        recorded_events(),
        campaigns_service().callback_target,
        callback_delivery(),
        SqsRetryScheduler(aws_client("sqs"), settings.callback_queue_url),
        base_seconds=settings.callback_retry_base_seconds,
        max_seconds=settings.callback_retry_max_seconds,
    )
