"""Backoff between processing attempts: a failed message's next delivery is delayed on the queue itself."""

from __future__ import annotations

import logging
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

logger = logging.getLogger(__name__)
MAX_VISIBILITY_SECONDS: Final = 43_200  # SQS's limit


class SqsRetryScheduler:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def delay(self, receipt_handle: str, seconds: int) -> None:
        try:
            self._client.change_message_visibility(
                QueueUrl=self._queue_url,
                ReceiptHandle=receipt_handle,
                VisibilityTimeout=max(0, min(seconds, MAX_VISIBILITY_SECONDS)),
            )
        except (ClientError, BotoCoreError) as error:
            # The message still comes back after the queue's own visibility timeout.
            logger.warning("could not delay a webhook retry", extra={"error": type(error).__name__})
