"""The Powertools Logger, Tracer and Metrics every API function shares.

EMF metric names and dimensions are bounded (no principal, no path: docs/metrics.md#emf); the
per-route and per-principal views live in the Redis minute buckets that `record_invocation` writes.
The Tracer is built on first use and only where tracing is on: constructing one imports the
X-Ray SDK (about 200 ms of cold start), which buys nothing when traces are disabled.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

    from gatehouse.metrics.records import RequestSample, Tally

logger = Logger(service="gatehouse")
metrics = Metrics(namespace="Gatehouse", service="gatehouse")


def tracing_enabled() -> bool:
    """Traces are sent from Lambda only, unless POWERTOOLS_TRACE_DISABLED says otherwise."""
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "").strip().lower() in {"1", "true", "yes"}
    return not disabled and "AWS_LAMBDA_FUNCTION_NAME" in os.environ


@lru_cache(maxsize=1)
def tracer() -> Tracer:
    from aws_lambda_powertools import Tracer

    return Tracer(service="gatehouse")


def record_invocation(sample: RequestSample | None, tally: Tally) -> None:
    """One invocation's request sample and counters into the metrics store: one round trip at most.

    The metrics area is imported on first use, after the first answer is built (cold start).
    """
    from gatehouse.metrics.runtime import recorder

    recorder().record(sample, tally)
