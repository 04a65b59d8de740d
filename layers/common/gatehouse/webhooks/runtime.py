"""Wires the webhooks area for Lambda: stores on the table, the KMS sealer, the bus, the queue, the limiter."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gatehouse.clients.aws import aws_client
from gatehouse.clients.dynamo import dynamodb_client, table_name
from gatehouse.settings import get_settings
from gatehouse.wiring import provided

# Each provider imports what it builds: a function loads only the parts it wires (the webhooks
# admin function never loads the intake's verifiers or the processor; the intake never loads
# the history, the processor or the bus), which is most of what this area adds to a cold start
# (docs/metrics.md#cold-start).
if TYPE_CHECKING:
    from gatehouse.ratelimit.decision import Decision
    from gatehouse.ratelimit.policies import Policy
    from gatehouse.webhooks.catalog import SourceCatalog
    from gatehouse.webhooks.dynamo import DynamoEventStore, DynamoSourceStore
    from gatehouse.webhooks.event_service import WebhookEventsService
    from gatehouse.webhooks.intake import WebhookIntake
    from gatehouse.webhooks.kms_sealer import KmsEnvelopeSealer
    from gatehouse.webhooks.processor import WebhookProcessor
    from gatehouse.webhooks.records import EngagementSink
    from gatehouse.webhooks.source_service import WebhookSourcesService


def _source_store() -> DynamoSourceStore:
    from gatehouse.webhooks.dynamo import DynamoSourceStore

    return DynamoSourceStore(dynamodb_client(), table_name())


def _event_store() -> DynamoEventStore:
    from gatehouse.webhooks.dynamo import DynamoEventStore

    return DynamoEventStore(dynamodb_client(), table_name())


def _sealer() -> KmsEnvelopeSealer:
    from gatehouse.webhooks.kms_sealer import KmsEnvelopeSealer

    return KmsEnvelopeSealer(aws_client("kms"), get_settings().webhook_secrets_key_id)


def _retention_seconds() -> int:
    return get_settings().webhook_retention_days * 86_400


@provided
def source_catalog() -> SourceCatalog:
    from gatehouse.webhooks.catalog import SourceCatalog

    return SourceCatalog(_source_store(), _sealer(), get_settings().webhook_source_cache_seconds)


@provided
def webhook_sources_service() -> WebhookSourcesService:
    from gatehouse.webhooks.source_service import WebhookSourcesService

    return WebhookSourcesService(_source_store(), _sealer(), source_catalog())


def _charge_failure(subject: str, policies: list[Policy]) -> Decision:
    # Imported on the first failed verification: a genuine delivery never loads the Redis client.
    from gatehouse.ratelimit.runtime import ratelimit_service

    return ratelimit_service().limiter.check(subject, policies)


@provided
def webhook_failure_policy() -> Policy:
    """What failed verifications per (source, client IP) may reach, built with the first failure."""
    from gatehouse.webhooks.failure_limiter import failure_policy

    settings = get_settings()
    return failure_policy(settings.webhook_failure_limit, settings.webhook_failure_window_seconds)


@provided
def webhook_intake() -> WebhookIntake:
    from gatehouse.webhooks.failure_limiter import RateLimitedFailures
    from gatehouse.webhooks.intake import WebhookIntake

    failures = RateLimitedFailures(_charge_failure, webhook_failure_policy)
    return WebhookIntake(source_catalog(), _event_store(), failures, retention_seconds=_retention_seconds())


@provided
def webhook_events_service() -> WebhookEventsService:
    from gatehouse.webhooks.event_service import WebhookEventsService

    return WebhookEventsService(_event_store(), retention_seconds=_retention_seconds())


@provided
def engagement_sink() -> EngagementSink:
    """Where engagement events go: counted on their campaign (docs/webhooks.md#engagements)."""
    from gatehouse.campaigns.runtime import campaigns_service
    from gatehouse.webhooks.campaign_engagements import CampaignEngagements

    return CampaignEngagements(campaigns_service())


@provided
def webhook_processor() -> WebhookProcessor:
    from gatehouse.webhooks.eventbridge import EventBridgePublisher
    from gatehouse.webhooks.processor import WebhookProcessor
    from gatehouse.webhooks.sqs_retry import SqsRetryScheduler

    settings = get_settings()
    return WebhookProcessor(
        _event_store(),
        EventBridgePublisher(aws_client("events"), settings.event_bus_name),
        engagement_sink(),
        SqsRetryScheduler(aws_client("sqs"), settings.webhook_queue_url),
        max_receives=settings.webhook_max_receives,
        lease_seconds=settings.webhook_lease_seconds,
        retry_base_seconds=settings.webhook_retry_base_seconds,
        retry_max_seconds=settings.webhook_retry_max_seconds,
    )
