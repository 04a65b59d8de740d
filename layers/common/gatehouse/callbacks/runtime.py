"""Wires callback delivery for Lambda: the resilient outbound client, and where outcomes are recorded.

Until the campaigns area records outcomes on the campaign, they go to the log
(LoggingCallbackOutcomes); docs/resilience.md#wiring-callbacks-into-campaigns says what to replace.
"""

from __future__ import annotations

from gatehouse.callbacks.records import CallbackOutcomes, LoggingCallbackOutcomes
from gatehouse.callbacks.service import CallbackDelivery
from gatehouse.resilience.runtime import outbound_client
from gatehouse.wiring import provided


@provided
def callback_outcomes() -> CallbackOutcomes:
    return LoggingCallbackOutcomes()


@provided
def callback_delivery() -> CallbackDelivery:
    return CallbackDelivery(outbound_client(), callback_outcomes())
