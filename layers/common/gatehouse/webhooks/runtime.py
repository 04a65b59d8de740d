"""Wires the webhooks area for Lambda: stores on the table, the KMS sealer, the bus, the queue, the limiter."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gatehouse.clients.aws import aws_client
from gatehouse.clients.dynamo import dynamodb_client, table_name
from gatehouse.settings import get_settings
from gatehouse.webhooks.catalog import SourceCatalog
from gatehouse.webhooks.dynamo import DynamoEventStore, DynamoSourceStore
from gatehouse.webhooks.event_service import WebhookEventsService
from gatehouse.webhooks.eventbridge import EventBridgePublisher
from gatehouse.webhooks.failure_limiter import RateLimitedFailures, failure_policy
from gatehouse.webhooks.intake import WebhookIntake
from gatehouse.webhooks.kms_sealer import KmsEnvelopeSealer
from gatehouse.webhooks.processor import WebhookProcessor
from gatehouse.webhooks.records import EngagementSink
from gatehouse.webhooks.source_service import WebhookSourcesService
from gatehouse.webhooks.sqs_retry import SqsRetryScheduler
from gatehouse.wiring import provided

if TYPE_CHECKING:
    from gatehouse.ratelimit.decision import Decision
    from gatehouse.ratelimit.policies import Policy


def _retention_seconds() -> int:
    return get_settings().webhook_retention_days * 86_400


@provided
def source_catalog() -> SourceCatalog:
    settings = get_settings()
    return SourceCatalog(
        DynamoSourceStore(dynamodb_client(), table_name()),
        KmsEnvelopeSealer(aws_client("kms"), settings.webhook_secrets_key_id),
        settings.webhook_source_cache_seconds,
    )


@provided
def webhook_sources_service() -> WebhookSourcesService:
    settings = get_settings()
    return WebhookSourcesService(
        DynamoSourceStore(dynamodb_client(), table_name()),
        KmsEnvelopeSealer(aws_client("kms"), settings.webhook_secrets_key_id),
        source_catalog(),
    )


def _charge_failure(subject: str, policies: list[Policy]) -> Decision:
    # Imported on the first failed verification: a genuine delivery never loads the Redis client.
    from gatehouse.ratelimit.runtime import ratelimit_service

    return ratelimit_service().limiter.check(subject, policies)


@provided
def webhook_failure_policy() -> Policy:
    """What failed verifications per (source, client IP) may reach, built with the first failure."""
    settings = get_settings()
    return failure_policy(settings.webhook_failure_limit, settings.webhook_failure_window_seconds)


@provided
def webhook_intake() -> WebhookIntake:
    failures = RateLimitedFailures(_charge_failure, webhook_failure_policy)
    return WebhookIntake(
        source_catalog(),
        DynamoEventStore(dynamodb_client(), table_name()),
        failures,
        retention_seconds=_retention_seconds(),
    )


@provided
def webhook_events_service() -> WebhookEventsService:
    return WebhookEventsService(
        DynamoEventStore(dynamodb_client(), table_name()), retention_seconds=_retention_seconds()
    )


@provided
def engagement_sink() -> EngagementSink:
    """Where engagement events go: counted on their campaign (docs/webhooks.md#engagements)."""
    from gatehouse.campaigns.runtime import campaigns_service
    from gatehouse.webhooks.campaign_engagements import CampaignEngagements

    return CampaignEngagements(campaigns_service())


@provided
def webhook_processor() -> WebhookProcessor:
    settings = get_settings()
    return WebhookProcessor(
        DynamoEventStore(dynamodb_client(), table_name()),
        EventBridgePublisher(aws_client("events"), settings.event_bus_name),
        engagement_sink(),
        SqsRetryScheduler(aws_client("sqs"), settings.webhook_queue_url),
        max_receives=settings.webhook_max_receives,
        lease_seconds=settings.webhook_lease_seconds,
        retry_base_seconds=settings.webhook_retry_base_seconds,
        retry_max_seconds=settings.webhook_retry_max_seconds,
    )
