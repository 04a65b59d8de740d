"""Wires the timers area for Lambda: TimersService over the table, Scheduler, its dead-letter queue, the relay."""

from __future__ import annotations

from gatehouse.clients.aws import aws_client
from gatehouse.clients.dynamo import dynamodb_client, table_name
from gatehouse.clients.dynamo_transaction import DynamoTransaction
from gatehouse.events.runtime import event_relay
from gatehouse.settings import get_settings
from gatehouse.timers.dead_letters import SqsDeadLetters
from gatehouse.timers.dynamo import DynamoTimerStore
from gatehouse.timers.scheduler import EventBridgeSchedules
from gatehouse.timers.service import TimerPolicy, TimersService
from gatehouse.transactions import Transaction
from gatehouse.wiring import provided


def new_transaction() -> Transaction:
    """A fresh transaction on the table (every area staging on it shares the process's client)."""
    return DynamoTransaction(dynamodb_client())


@provided
def timers_service() -> TimersService:
    settings = get_settings()
    schedules = EventBridgeSchedules(
        aws_client("scheduler"),
        group=settings.schedule_group,
        target_arn=settings.timer_target_arn,
        role_arn=settings.scheduler_role_arn,
        dead_letter_arn=settings.scheduler_dlq_arn,
    )
    dead_letters = SqsDeadLetters(aws_client("sqs"), settings.scheduler_dlq_url) if settings.scheduler_dlq_url else None
    return TimersService(
        DynamoTimerStore(dynamodb_client(), table_name()),
        schedules,
        event_relay(),
        new_transaction=new_transaction,
        dead_letters=dead_letters,
        policy=TimerPolicy(
            retry_base_seconds=settings.timer_retry_base_seconds,
            retry_max_seconds=settings.timer_retry_max_seconds,
            lease_seconds=settings.timer_lease_seconds,
            grace_seconds=settings.timer_sweep_grace_seconds,
            verify_ahead_seconds=settings.timer_verify_ahead_seconds,
            verify_per_sweep=settings.timer_verify_per_sweep,
            relay_min_age_seconds=settings.outbox_relay_min_age_seconds,
        ),
    )
