"""Where breaker transitions are reported: the log and an EMF metric here, the event bus in eventbridge.py.

Each transition reaches these sinks exactly once across the fleet: only the call whose script made
it is told (docs/resilience.md#transitions). A sink never raises: reporting must not fail a call.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from gatehouse.resilience.records import FleetState, Transition, TransitionSink

logger = logging.getLogger(__name__)

METRIC = "BreakerTransitions"


class LogAndMetricSink:
    """A structured log line, and one `BreakerTransitions` EMF metric by the state entered. The breaker's
    name is a property, not a dimension: names are per destination, and each dimension value is
    a metric of its own in CloudWatch."""

    def __init__(self, namespace: str = "Gatehouse") -> None:
        self.namespace = namespace

    def report(self, transition: Transition) -> None:
        level = logging.WARNING if transition.to_state in (FleetState.OPEN, FleetState.ISOLATED) else logging.INFO
        logger.log(level, "breaker transition", extra=transition.to_json())
        try:
            with single_metric(name=METRIC, unit=MetricUnit.Count, value=1, namespace=self.namespace) as metric:
                metric.add_dimension(name="toState", value=transition.to_state.value)
                for key, value in transition.to_json().items():
                    metric.add_metadata(key=key, value=value)
        except Exception:
            logger.exception("breaker transition metric failed")


class Sinks:
    """Reports to each sink in turn; one failing never stops the others."""

    def __init__(self, sinks: Sequence[TransitionSink]) -> None:
        self.sinks = list(sinks)

    def report(self, transition: Transition) -> None:
        for sink in self.sinks:
            try:
                sink.report(transition)
            except Exception:
                logger.exception("a breaker transition sink failed")


class RecordingSink:
    """Keeps what it is told (tests, and the local fleet measurements)."""

    def __init__(self) -> None:
        self.transitions: list[Transition] = []

    def report(self, transition: Transition) -> None:
        self.transitions.append(transition)
