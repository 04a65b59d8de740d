"""Breaker transitions on the project's EventBridge bus (an adapter: boto3's events client).

`source` is `gatehouse.resilience`, `detail-type` `breaker.transition`, and the detail is
Transition.to_json() (docs/resilience.md#transitions): a rule can match `detail.toState`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from gatehouse.resilience.records import Transition

logger = logging.getLogger(__name__)

SOURCE = "gatehouse.resilience"
DETAIL_TYPE = "breaker.transition"


class EventBridgeSink:
    """`client_factory` is called on the first transition: a process that never sees one never builds a client."""

    def __init__(self, client_factory: Callable[[], Any], bus_name: str) -> None:
        self._client_factory = client_factory
        self._client: Any = None
        self.bus_name = bus_name

    def report(self, transition: Transition) -> None:
        entry = {
            "Source": SOURCE,
            "DetailType": DETAIL_TYPE,
            "Detail": json.dumps(transition.to_json(), separators=(",", ":")),
            "EventBusName": self.bus_name,
        }
        try:
            if self._client is None:
                self._client = self._client_factory()
            answer = self._client.put_events(Entries=[entry])
        except (BotoCoreError, ClientError) as error:
            # The transition is in the log and the metric already; the bus is best effort.
            logger.warning("breaker transition not published", extra={"errorType": type(error).__name__})
            return
        if answer.get("FailedEntryCount"):
            logger.warning("breaker transition refused by the bus", extra={"entries": answer.get("Entries")})
