"""Webhook processor function: the webhook queue's consumer (partial batch failures)."""

from gatehouse.jobs import make_batch_handler, process_webhook_record

lambda_handler = make_batch_handler(process_webhook_record)
