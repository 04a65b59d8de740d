"""The queue pipeline (beside api.py for HTTP): Powertools batch processing with partial failures.

`make_batch_handler(record_handler)` is the Lambda entry of an SQS consumer: each record is
handled on its own, and only the records that raised are reported back
(`batchItemFailures`, with `ReportBatchItemFailures` on the event source), so one failing
record never makes the queue redeliver, or the processor redo, the rest of its batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from gatehouse.observability import logger, metrics, tracer, tracing_enabled

RecordHandler = Callable[[SQSRecord], None]


def make_batch_handler(record_handler: RecordHandler) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    # A batch whose every record failed is reported like any other (each record retried on its own
    # schedule), not raised as a function error that would retry them all at once.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    @logger.inject_lambda_context
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        metrics.add_metric(name="QueueRecords", unit=MetricUnit.Count, value=len(event.get("Records") or []))
        answer = process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
        return dict(answer)

    if tracing_enabled():
        return tracer().capture_lambda_handler(lambda_handler, capture_response=False)
    return lambda_handler


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
