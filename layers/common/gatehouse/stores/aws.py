"""Cached boto3 clients for the AWS services other than DynamoDB, and fail-fast clients for probes."""

from __future__ import annotations

from functools import cache
from typing import Any

from gatehouse.settings import get_settings


@cache
def aws_client(service: str) -> Any:
    """One client per service per process, with short timeouts and standard retries."""
    import boto3  # on first use: liveness and docs never need it
    from botocore.config import Config

    timeout = get_settings().aws_timeout_seconds
    config = Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 2, "mode": "standard"})
    return boto3.client(service, config=config)


@cache
def fail_fast_client(service: str) -> Any:
    """A client for probes: one attempt, and timeouts no longer than a readiness check may wait."""
    import boto3
    from botocore.config import Config

    timeout = min(1.0, get_settings().health_check_timeout_seconds)
    config = Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 1, "mode": "standard"})
    return boto3.client(service, config=config)
