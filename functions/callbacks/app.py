"""Callbacks function: the callback queue's consumer, lifecycle events to callbackUrls (partial batch failures)."""

from gatehouse.jobs import deliver_callback_record, make_batch_handler

lambda_handler = make_batch_handler(deliver_callback_record)
