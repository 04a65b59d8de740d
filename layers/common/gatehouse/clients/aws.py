"""AWS clients configured from the settings: ordinary calls, and fail-fast probes."""

from __future__ import annotations

from typing import Any

from gatehouse.clients.boto import boto3_client
from gatehouse.settings import get_settings


def aws_client(service: str, max_attempts: int = 2) -> Any:
    """The process's client for `service`, with standard retries."""
    return boto3_client(service, get_settings().aws_timeout_seconds, max_attempts)


def fail_fast_client(service: str) -> Any:
    """A client for probes: one attempt, and timeouts no longer than a readiness check may wait."""
    return boto3_client(service, min(1.0, get_settings().health_check_timeout_seconds), 1)
