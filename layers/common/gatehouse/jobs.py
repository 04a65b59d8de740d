"""The job pipeline, what gatehouse/api.py is to HTTP: Scheduler deliveries, the sweep, bus events, queues.

`make_job(handler, name=…)` wraps a handler with the structured logger, EMF metrics and tracing
every function has. An event that can never be handled (malformed, of another owner, a
transition no longer legal) is logged, counted and dropped: retrying it cannot help. Anything
else raises, so Lambda's asynchronous retries (and behind them the sweep, docs/timers.md) try
again.

`make_batch_handler(record_handler)` is the Lambda entry of an SQS consumer: each record is
handled on its own, and only the records that raised are reported back
(`batchItemFailures`, with `ReportBatchItemFailures` on the event source), so one failing
record never makes the queue redeliver, or the processor redo, the rest of its batch.

The handlers below parse their event and call one use case through its area's runtime,
imported inside the handler so each function loads only the area it serves (cold start).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from gatehouse.errors import GatehouseError, ValidationError
from gatehouse.metrics.records import begin_tally, end_tally
from gatehouse.observability import logger, metrics, record_invocation, tracer, tracing_enabled

Job = Callable[[Any, LambdaContext], dict[str, Any]]
RecordHandler = Callable[[SQSRecord], None]
SAFETY_SECONDS = 5.0  # the sweep stops starting work this long before the function's timeout


def make_job(handler: Job, *, name: str) -> Callable[[Any, LambdaContext], dict[str, Any]]:
    """The Lambda entry point for `handler`: logs, metrics, and dropping what can never succeed."""

    @logger.inject_lambda_context(clear_state=True)
    @metrics.log_metrics(capture_cold_start_metric=True)
    def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
        begin_tally()
        try:
            answer = handler(event, context)
        except GatehouseError as refusal:
            logger.warning(
                "job dropped an event it can never handle",
                extra={"job": name, "code": refusal.code.value, "reason": refusal.message, "details": refusal.details},
            )
            metrics.add_metric(name=f"{name}Dropped", unit=MetricUnit.Count, value=1)
            return {"status": "dropped", "code": refusal.code.value, "reason": refusal.message}
        finally:
            _flush_tally()
        metrics.add_metric(name=f"{name}Handled", unit=MetricUnit.Count, value=1)
        return answer

    if tracing_enabled():
        return tracer().capture_lambda_handler(lambda_handler, capture_response=False)
    return lambda_handler


def make_batch_handler(record_handler: RecordHandler) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    # A batch whose every record failed is reported like any other (each record retried on its own
    # schedule), not raised as a function error that would retry them all at once.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    @logger.inject_lambda_context(clear_state=True)
    @metrics.log_metrics(capture_cold_start_metric=True)
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        metrics.add_metric(name="QueueRecords", unit=MetricUnit.Count, value=len(event.get("Records") or []))
        begin_tally()
        try:
            answer = process_partial_response(
                event=event, record_handler=record_handler, processor=processor, context=context
            )
        finally:
            _flush_tally()
        return dict(answer)

    if tracing_enabled():
        return tracer().capture_lambda_handler(lambda_handler, capture_response=False)
    return lambda_handler


def _flush_tally() -> None:
    """The invocation's counters (timers, webhooks) in one write; never the job's failure."""
    tally = end_tally()
    if not tally:
        return
    try:
        record_invocation(None, tally)
    except Exception:
        logger.exception("job metrics failed")


# --- timers and campaigns ----------------------------------------------------------------------


def fire_timer(event: Any, context: LambdaContext) -> dict[str, Any]:
    """A Scheduler delivery: `{timerId, ownerKind, ownerId, generation, executionId, attempt}`."""
    from gatehouse.timer_actions import timer_actions
    from gatehouse.timers.records import TimerDelivery
    from gatehouse.timers.runtime import timers_service

    try:
        delivery = TimerDelivery.parse(event)
    except ValueError as error:
        raise ValidationError(f"not a timer delivery: {error}") from None
    result = timers_service().fire_delivery(delivery, timer_actions(), "scheduler")
    logger.info(
        "timer delivery",
        extra={
            "timerId": delivery.timer_id,
            "generation": delivery.generation,
            "executionId": delivery.execution_id,
            "status": result.status,
            "reason": result.reason,
        },
    )
    return {"status": result.status, "reason": result.reason, "timerId": delivery.timer_id}


def sweep_timers(event: Any, context: LambdaContext) -> dict[str, Any]:
    """The ScheduleV2 rate(1 minute) event: fire what is overdue, recover, relay (docs/timers.md, "The sweep")."""
    from gatehouse.timer_actions import timer_actions
    from gatehouse.timers.runtime import timers_service

    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - SAFETY_SECONDS
    report = timers_service().sweep(timer_actions(), deadline=deadline)
    logger.info("timer sweep", extra=asdict(report))
    return asdict(report)


def apply_campaign_event(event: Any, context: LambdaContext) -> dict[str, Any]:
    """`campaign.created|updated|cancelled` from another service on the bus (the EventBridge envelope)."""
    from gatehouse.campaigns.runtime import campaigns_service

    if not isinstance(event, Mapping):
        raise ValidationError("not an EventBridge event")
    detail_type, source, event_id, detail = (event.get(k) for k in ("detail-type", "source", "id", "detail"))
    if not all(isinstance(v, str) and v for v in (detail_type, source, event_id)) or not isinstance(detail, Mapping):
        raise ValidationError("not an EventBridge event: detail-type, source, id and an object detail are required")
    outcome = campaigns_service().apply_event(str(detail_type), str(source), str(event_id), dict(detail))
    logger.info("campaign event", extra={"detailType": detail_type, "source": source, "outcome": outcome})
    return {"status": "applied", "outcome": outcome}


# --- webhooks -----------------------------------------------------------------------------------


def process_webhook_record(record: SQSRecord) -> None:
    """One dispatch message of the webhook queue -> the processing use case (docs/webhooks.md)."""
    from gatehouse.webhooks.processor import QueueMessage
    from gatehouse.webhooks.runtime import webhook_processor

    webhook_processor().process(
        QueueMessage(
            message_id=record.message_id,
            body=record.body,
            receive_count=int(record.attributes.approximate_receive_count or 1),
            receipt_handle=record.receipt_handle,
        )
    )


# --- campaign callbacks -------------------------------------------------------------------------


def deliver_callback_record(record: SQSRecord, lambda_context: LambdaContext | None = None) -> None:
    """One lifecycle event of the callback queue -> its campaign's callbackUrl (docs/resilience.md).

    A `retry` raises (after the message's visibility is set to the backoff), so the record is a
    batch item failure that SQS brings back then; `delivered` and `failed` are recorded and done.
    """
    from gatehouse.callbacks.consumer import CallbackMessage
    from gatehouse.callbacks.runtime import callback_consumer
    from gatehouse.resilience.retries import UNBOUNDED, Deadline

    deadline = Deadline(lambda_context.get_remaining_time_in_millis) if lambda_context is not None else UNBOUNDED
    callback_consumer().handle(
        CallbackMessage(
            body=record.body,
            receive_count=int(record.attributes.approximate_receive_count or 1),
            receipt_handle=record.receipt_handle,
        ),
        deadline,
    )
